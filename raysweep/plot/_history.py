"""The optimisation history plot: every trial's metric in creation order, the best so far."""

from __future__ import annotations

from typing import Any

import numpy as np

from raysweep.plot._common import (_check_ylim, _count_outside, _figure, _fit_y, _goal,
                                   _legend_outside, _message, _metric_values,
                                   _non_finite_reports, _outlier_note, _results)


def history(results: Any, *, ax: Any = None, log_y: bool | None = None,
            ylim: Any = None) -> Any:
    """The metric of every trial in creation order, with the best so far as a step line.

    The y axis is fitted to the bulk of the trials: a few diverged ones (a loss of 1e24 next
    to 0.3) are drawn as triangles on the edge and counted in the legend instead of squashing
    the rest into a line. It is logarithmic when the values shown span two decades or more
    and crowd at the low end.

    Args:
        results: A ``raysweep.Results`` or an experiment directory.
        ax: Draw into this matplotlib axes (default: a new figure).
        log_y: Log scale for the metric (default: decided from the values, as above).
        ylim: ``(low, high)`` limits, or ``"full"`` to keep the outliers in view.

    Returns:
        matplotlib.figure.Figure
    """
    _check_ylim(ylim)
    results = _results(results)
    figure, ax = _figure(ax, (7.5, 4.6))
    frame = results.dataframe()
    values = _metric_values(results, frame)
    ax.set_title(f"optimisation history ({len(frame)} trials)")
    ax.set_xlabel("trial")
    ax.set_ylabel(results.metric)
    finite = np.isfinite(values)
    failed = int((frame["status"] == "ERROR").sum())
    if not finite.any():
        _message(ax, f"all {failed} trials failed: no {results.metric} to show"
                 if failed and failed == len(frame) else
                 f"no trial has a finite {results.metric} yet")
        return figure
    scale = _fit_y(ax, values, results.mode, log_y, ylim)
    bottom, top = ax.get_ylim()
    x = np.arange(len(frame))
    inside = finite & (values >= min(bottom, top)) & (values <= max(bottom, top))
    done = (frame["status"] == "TERMINATED").to_numpy()
    many = len(frame) > 2000
    size = 6 if many else 16
    ax.scatter(x[inside & done], values[inside & done], s=size, alpha=0.45 if many else 0.7,
               color="tab:blue", linewidths=0, label="trial", rasterized=many)
    live = inside & ~done
    if live.any():
        ax.scatter(x[live], values[live], s=size, alpha=0.7, color="tab:orange",
                   linewidths=0, label="running / paused", rasterized=many)
    out = finite & ~inside
    if out.any():  # on the edge, pointing the way they went
        high = values[out] > max(bottom, top)
        edge = np.where(high, max(bottom, top), min(bottom, top))
        for marker, part in (("^", high), ("v", ~high)):
            if part.any():
                ax.scatter(x[out][part], edge[part], marker=marker, s=28, color="tab:purple",
                           clip_on=False, zorder=3, linewidths=0)
        ax.scatter([], [], marker="^" if high.sum() >= (~high).sum() else "v", s=28,
                   color="tab:purple", linewidths=0,
                   label=_outlier_note(_count_outside(values[out], high, scale), "trials"))
    best = _goal(results).running_best(values)
    ax.step(x, best, where="post", color="tab:red", linewidth=1.6,
            label="best so far")
    if failed:
        ax.plot([], [], " ", label=f"{failed} failed (not shown)")
    reported = _non_finite_reports(results, finite)
    if reported:  # NaN, inf or a non-number: a diverged trial should not look absent
        ax.plot([], [], " ", label=f"{reported} with non-finite {results.metric} (not shown)")
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend_outside(ax)
    ax.grid(alpha=0.3)
    return figure

