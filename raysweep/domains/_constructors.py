"""The public constructors users build spaces with (``uniform``, ``randint``, ``choice``, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from raysweep.domains._categorical import Categorical, Fixed, Grid
from raysweep.domains._numeric import Float, Int, Normal


def uniform(low: float, high: float) -> Float:
    """A float drawn uniformly from [low, high).

    Example:
        >>> import numpy as np
        >>> 0.0 <= uniform(0, 1).sample(np.random.default_rng(0)) < 1.0
        True
    """
    return Float(low, high)


def loguniform(low: float, high: float) -> Float:
    """A float whose logarithm is uniform on [log(low), log(high)); needs ``low > 0``."""
    return Float(low, high, log=True)


def quniform(low: float, high: float, q: float) -> Float:
    """A multiple of ``q`` in [low, high] (both ends included), each equally likely.

    Example:
        >>> quniform(0, 1, 0.1).from_unit(0.3)
        0.3
    """
    return Float(low, high, q=q)


def qloguniform(low: float, high: float, q: float) -> Float:
    """A multiple of ``q`` in [low, high], drawn on a log scale; needs ``low > 0``."""
    return Float(low, high, log=True, q=q)


def randint(low: int, high: int) -> Int:
    """An integer in [low, high): ``high`` is excluded, as in numpy and scipy.

    Example:
        >>> randint(0, 2).contains(2)
        False
    """
    return Int(low, high)


def lograndint(low: int, high: int) -> Int:
    """An integer in [low, high) drawn on a log scale (``high`` excluded); needs ``low > 0``."""
    return Int(low, high, log=True)


def qrandint(low: int, high: int, q: int = 1) -> Int:
    """A multiple of ``q`` in [low, high]: unlike ``randint``, ``high`` is INCLUDED (as in
    Ray Tune).

    Example:
        >>> qrandint(0, 10, 5).contains(10)
        True
    """
    return Int(low, high, q=q, include_high=True)


def choice(categories: Sequence[Any]) -> Categorical:
    """One of ``categories``, each equally likely. Dict categories containing domains are
    conditional sub-spaces: only the chosen branch's parameters are sampled.

    Example:
        >>> import numpy as np
        >>> choice(["rbf", "poly"]).sample(np.random.default_rng(0)) in ("rbf", "poly")
        True
    """
    return Categorical(categories)


def grid(values: Sequence[Any]) -> Grid:
    """Every one of ``values``, in order, under the grid searcher (sampled uniformly by the
    other searchers). Dict values with further ``grid`` domains inside are enumerated too."""
    return Grid(values)


def normal(mean: float = 0.0, sd: float = 1.0, q: float | None = None) -> Normal:
    """A normally distributed float, rounded to a multiple of ``q`` when ``q`` is given."""
    return Normal(mean, sd, q=q)


def fixed(value: Any) -> Fixed:
    """The constant ``value``, taken literally (a list or dict inside is not a choice)."""
    return Fixed(value)
