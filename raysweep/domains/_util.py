"""Small helpers of the domains: checked numbers, plain values, equality that keeps True
apart from 1."""

from __future__ import annotations

import copy
import math
import numbers
from fractions import Fraction
from typing import Any

import numpy as np

from raysweep.errors import InvalidSpace

#: Unit coordinates are clipped to [_TAIL, 1 - _TAIL] before an inverse CDF with infinite tails.
_TAIL = 2.0 ** -53


def _clip_unit(u: Any) -> float:
    u = float(u)
    if math.isnan(u):
        return 0.5
    return 0.0 if u < 0.0 else min(u, 1.0)


def _plain(value: Any) -> Any:
    """numpy scalars -> the equivalent Python object; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def _fresh(value: Any) -> Any:
    """A copy of mutable containers, so that configs never share lists or dicts."""
    return copy.deepcopy(value) if isinstance(value, (list, dict, set)) else value


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps ``True`` apart from ``1`` and never raises."""
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. numpy arrays: ambiguous truth value
        return False


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _real(fn: str, name: str, value: Any) -> float:
    if not _is_number(value):
        raise InvalidSpace(f"{fn}: {name} must be a number, got {name}={value!r}")
    try:
        x = float(value)
    except OverflowError:
        x = math.inf
    if not math.isfinite(x):
        raise InvalidSpace(f"{fn}: {name} must be finite, got {name}={value!r}")
    return x


def _integer(fn: str, name: str, value: Any) -> int:
    x = _real(fn, name, value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if not x.is_integer():
        raise InvalidSpace(f"{fn}: {name} must be an integer, got {name}={value!r}")
    return int(x)


def _decimal(x: float) -> Fraction:
    """The decimal a float prints as (0.1 -> 1/10), so that multiples of q look as typed."""
    return Fraction(repr(float(x)))
