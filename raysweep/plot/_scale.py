"""Scales for the plots: which values an axis shows, log or linear, and where its ticks go.

Private to ``raysweep.plot``. The rule of every plot: the axis is fitted to the bulk of the
values, not to the outliers. A diverged trial's metric of ``1e24`` next to good ones of
``0.3`` would otherwise squash every real curve into a thin band at the bottom (or, on a log
axis, into a flat line). Outliers are found with Tukey's fences on the quartiles (in decades
when every value is positive), only on the side of the *worse* values: the best trial is
never cut off. What lies beyond is drawn at the edge of the axis and counted in the legend.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

_FENCE = 3.0  # Tukey's "far out": beyond q3 + 3 * IQR
_MIN_FENCE_DECADES = 1.0  # on a log axis never cut within a decade of the quartiles
_LOG_RATIO = 5.0  # the largest value shown is at least this many times the smallest ...
_LOG_CROWDED = 0.1  # ... and their median sits in the lowest tenth of the linear range


@dataclass
class Scale:
    """How an axis shows a set of values."""

    low: float  # the smallest value shown
    high: float  # the largest value shown
    log: bool
    above: int = 0  # values beyond ``high`` (drawn at the edge)
    below: int = 0  # values beyond ``low``
    extreme: float | None = None  # the farthest outlier's value

    @property
    def clipped(self) -> int:
        return self.above + self.below

    def limits(self, pad: float = 0.05) -> tuple[float, float]:
        """Axis limits with a margin (in decades on a log axis)."""
        if self.log:
            low, high = np.log10(self.low), np.log10(self.high)
            span = high - low or 1.0
            return 10 ** (low - pad * span), 10 ** (high + pad * span)
        span = self.high - self.low or (abs(self.high) or 1.0)
        return self.low - pad * span, self.high + pad * span


def auto_log(values: np.ndarray) -> bool:
    """Log scale for positive values spanning a factor of 5 or more and crowded at the low end
    (the median in the lowest tenth of the range): a linear axis would squash most of them."""
    finite = values[np.isfinite(values)]
    if len(finite) < 2 or finite.min() <= 0 or finite.max() / finite.min() < _LOG_RATIO:
        return False
    low, high = finite.min(), finite.max()
    return bool((np.median(finite) - low) / (high - low) < _LOG_CROWDED)


def robust_scale(values: np.ndarray, mode: str | None = None, log: bool | None = None,
                 robust: bool = True) -> Scale | None:
    """The scale for ``values`` (None when none is finite).

    Args:
        values: The values (NaN and infinities are ignored).
        mode: ``"min"`` cuts only high outliers, ``"max"`` only low ones, None both.
        log: Force a log (True) or linear (False) axis; None decides from the kept values.
        robust: False keeps every value (the plain min-max range).
    """
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not len(finite):
        return None
    kept = finite
    if robust and len(finite) >= 5:
        positive = finite.min() > 0
        t = np.log10(finite) if positive else finite
        q1, q3 = np.percentile(t, [25, 75])
        width = _FENCE * (q3 - q1)
        if positive:
            width = max(width, _MIN_FENCE_DECADES)
        if width > 0:
            keep = np.ones(len(t), dtype=bool)
            if mode != "max":
                keep &= t <= q3 + width
            if mode != "min":
                keep &= t >= q1 - width
            if keep.any():
                kept = finite[keep]
    low, high = float(kept.min()), float(kept.max())
    above = int((finite > high).sum())
    below = int((finite < low).sum())
    extreme = None
    if above or below:
        extreme = float(finite.max() if above >= below else finite.min())
    use_log = auto_log(kept) if log is None else bool(log) and low > 0
    return Scale(low, high, use_log, above, below, extreme)


def axis_ticks(low: float, high: float, log: bool, count: int = 5) -> list[float]:
    """Round tick values strictly inside ``(low, high)`` (the ends get their own labels)."""
    from matplotlib.ticker import LogLocator, MaxNLocator  # noqa: PLC0415

    if not high > low:
        return []
    if log:
        ticks = LogLocator(numticks=count + 2).tick_values(low, high)
        if len([t for t in ticks if low < t < high]) < 2:  # less than two decades: 1-2-5
            ticks = LogLocator(subs=(1.0, 2.0, 5.0), numticks=count + 2).tick_values(low, high)
    else:
        ticks = MaxNLocator(nbins=count, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high)
    return [float(t) for t in ticks if low < t < high]


def readable_log_axis(axis: Any, low: float, high: float, fmt: Callable[[Any], str]) -> None:
    """Plain numbers (``0.3``, ``2``, ``1e+05``) on a log axis, with 1-2-5 ticks when it spans
    less than three decades, 1-2-3-5 below one and a half (matplotlib would label only the
    powers of ten)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: PLC0415

    decades = np.log10(high / low) if high > 0 and low > 0 else math.inf
    if decades < 1.5:  # about a decade: 1-2-3-5 so that the crowded low end has a label
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 3.0, 5.0)))
    elif decades < 3:
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: fmt(value)))
    axis.set_minor_formatter(NullFormatter())
