"""Small helpers shared by the scheduler modules: argument checks, result look-ups, milestones."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from raysweep.errors import MissingMetric


def is_number(value: Any) -> bool:
    """True for real numbers (bool excluded: ``True`` is not a budget)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def is_int(value: Any) -> bool:
    """True for integers, NumPy's included (bool excluded)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def fail(owner: str, arg: str, rule: str, value: Any) -> ValueError:
    """The one error form: ``"ASHA: reduction_factor must be a number > 1, got 1"``."""
    return ValueError(f"{owner}: {arg} must be {rule}, got {value!r}")


def check_time_attr(owner: str, time_attr: Any) -> str:
    if not isinstance(time_attr, str) or not time_attr:
        raise fail(owner, "time_attr", "the name of a result key such as 'training_iteration'",
                   time_attr)
    return time_attr


def check_reduction_factor(owner: str, reduction_factor: Any) -> float:
    if not is_number(reduction_factor) or reduction_factor <= 1:
        raise fail(owner, "reduction_factor", "a number > 1", reduction_factor)
    return reduction_factor


def check_positive(owner: str, arg: str, value: Any) -> float:
    if not is_number(value) or value <= 0:
        raise fail(owner, arg, "a number > 0", value)
    return value


def result_value(owner: str, result: Mapping[str, Any], key: str, role: str) -> Any:
    """``result[key]``, or ``MissingMetric`` naming the key and listing what was reported."""
    if key in result:
        return result[key]
    reported = sorted(str(k) for k in result)
    raise MissingMetric(
        f"{owner}: a result of trial {result.get('trial_id', '?')} has no {key!r} (the "
        f"scheduler's {role}); the objective reported {reported}. Report {key!r} in every "
        f"result or configure the scheduler with a key the objective reports.")


def result_time(owner: str, result: Mapping[str, Any], time_attr: str) -> float:
    """The numeric progress value ``result[time_attr]`` (``MissingMetric`` when absent)."""
    value = result_value(owner, result, time_attr, "time_attr")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{owner}: time_attr {time_attr!r} must be a number in every result, got "
            f"{value!r}") from None


def reached(value: float, milestone: float) -> bool:
    """``value >= milestone`` with a little slack for budgets computed in floating point."""
    return value >= milestone * (1 - 1e-9)


def iterations(milestones: Iterable[float]) -> tuple[int, ...]:
    """Budgets as the sorted whole iterations at which a worker must block.

    A tuple, not a lazy container: the executor ships it to the worker, which keeps a
    frozenset of it. A budget of 2.5 iterations is reached at iteration 3.
    """
    return tuple(sorted({max(1, math.ceil(m - 1e-9)) for m in milestones}))
