"""Learning curves (``raysweep.plot.learning_curves``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from raysweep.plot._common import (_check_limit, _check_ylim, _cmap, _colorbar,
                                   _count_outside, _figure, _fit_y, _goal, _legend_outside,
                                   _message, _metric_values, _norm, _outlier_note, _pick,
                                   _results)

def _curves(history_frame: pd.DataFrame, metric: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    frame = history_frame[["trial_id", "training_iteration", metric]].copy()
    frame[metric] = pd.to_numeric(frame[metric], errors="coerce")
    frame = frame.sort_values(["trial_id", "training_iteration"], kind="stable")
    ids = frame["trial_id"].to_numpy()
    x = frame["training_iteration"].to_numpy(dtype=float)
    y = frame[metric].to_numpy(dtype=float)
    if not len(ids):
        return {}
    cuts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(ids)]])
    return {ids[s]: (x[s:e], y[s:e]) for s, e in zip(starts, ends)}


def learning_curves(results: Any, *, ax: Any = None, max_curves: int = 100, seed: int = 0,
                    log_y: bool | None = None, ylim: Any = None) -> Any:
    """The metric over ``training_iteration`` for each trial, coloured by its final metric.

    Trials a scheduler stopped early end with an ``x``; paused trials are dashed and end with
    an open circle; failed trials are red. Past ``max_curves`` trials, the best half and a
    seeded random sample are drawn over a grey band (10-90% and median of all trials).

    The y axis is fitted to the bulk of the reports, as in ``history``: curves that diverge
    leave it at the edge and the legend (below the plot, never over the curves) counts them.

    Args:
        results: A ``raysweep.Results`` or an experiment directory.
        ax: Draw into this matplotlib axes (default: a new figure).
        max_curves: At most this many curves.
        seed: Seed of the sample.
        log_y: Log scale for the metric (default: when the values shown span two decades
            and crowd at the low end).
        ylim: ``(low, high)`` limits, or ``"full"`` to keep every report in view.

    Returns:
        matplotlib.figure.Figure
    """
    _check_limit("max_curves", max_curves)
    _check_ylim(ylim)
    from matplotlib.collections import LineCollection  # noqa: PLC0415
    from matplotlib.lines import Line2D  # noqa: PLC0415

    results = _results(results)
    figure, ax = _figure(ax, (7.5, 4.6))
    ax.set_xlabel("training_iteration")
    ax.set_ylabel(results.metric)
    metric = results.metric
    history_frame = results.history()
    if history_frame.empty or metric not in history_frame.columns:
        _message(ax, f"no reports of {metric} yet")
        return figure
    curves = _curves(history_frame, metric)
    if max((len(x) for x, _ in curves.values()), default=0) < 2:
        _message(ax, "every trial reported once: no learning curves\n(see the history plot)")
        return figure
    frame = results.dataframe()
    status = dict(zip(frame["trial_id"], frame["status"]))
    final = dict(zip(frame["trial_id"], _metric_values(results, frame)))
    ids = np.array(list(curves))
    final_values = np.array([final.get(t, np.nan) for t in ids], dtype=float)
    goal = _goal(results)
    ranked = goal.order(final_values)  # best first
    finite_count = int(np.isfinite(final_values).sum())
    thinned = len(ids) > max_curves
    if thinned:
        chosen = _pick(ranked[:finite_count], ranked[finite_count:], max_curves, seed)
        band = history_frame[["training_iteration", metric]].copy()
        band[metric] = pd.to_numeric(band[metric], errors="coerce")
        band = band[np.isfinite(band[metric])]
        grouped = band.groupby("training_iteration")[metric]
        quantiles = grouped.quantile([0.1, 0.5, 0.9]).unstack()
        ax.fill_between(quantiles.index, quantiles[0.1], quantiles[0.9], color="0.85",
                        label=f"10–90% of all {len(ids)} trials", zorder=0)
        ax.plot(quantiles.index, quantiles[0.5], color="0.45", linestyle=":", linewidth=1.2,
                label="median of all", zorder=1)
    else:
        chosen = ranked[::-1]
    norm = _norm(final_values, results.mode)
    cmap = _cmap(goal)
    max_iteration = max(x[-1] for x, _ in curves.values())
    solid, solid_colors, dashed, dashed_colors = [], [], [], []
    ends: dict[str, list[tuple[float, float, Any]]] = {"stopped": [], "paused": [], "error": []}
    for index in chosen:
        trial_id = ids[index]
        x, y = curves[trial_id]
        state = status.get(trial_id)
        value = final_values[index]
        color = "tab:red" if state == "ERROR" else (
            cmap(norm(value)) if np.isfinite(value) else "0.6")
        # A gap in the iterations is a jump (a PBT clone of another trial's checkpoint, or a
        # restart): break the line there instead of drawing a false slope.
        parts = np.split(np.column_stack([x, y]), np.flatnonzero(np.diff(x) != 1) + 1)
        if state == "PAUSED":
            dashed.extend(parts)
            dashed_colors.extend([color] * len(parts))
            ends["paused"].append((x[-1], y[-1], color))
        else:
            solid.extend(parts)
            solid_colors.extend([color] * len(parts))
            if state == "ERROR":
                ends["error"].append((x[-1], y[-1], color))
            elif x[-1] < max_iteration:
                ends["stopped"].append((x[-1], y[-1], color))
    width = 0.9 if len(chosen) > 40 else 1.3
    if solid:
        ax.add_collection(LineCollection(solid, colors=solid_colors, linewidths=width,
                                         alpha=0.8, zorder=2))
    if dashed:
        ax.add_collection(LineCollection(dashed, colors=dashed_colors, linewidths=width,
                                         linestyles="--", alpha=0.9, zorder=2))
    markers = {"stopped": ("x", "stopped early"), "paused": ("o", "paused"),
               "error": ("X", "failed")}
    handles = []
    for kind, points in ends.items():
        if not points:
            continue
        marker, label = markers[kind]
        xs, ys, colors = zip(*points)
        if kind == "paused":  # open circles
            ax.scatter(xs, ys, marker=marker, s=18, facecolors="none",
                       edgecolors=list(colors), linewidths=1.0, zorder=3)
        else:
            ax.scatter(xs, ys, marker=marker, s=18, color=list(colors), linewidths=1.0,
                       zorder=3)
        handles.append(Line2D([], [], marker=marker, color="0.3", linestyle="none",
                              markerfacecolor="none" if kind == "paused" else "0.3",
                              label=f"{label} ({len(points)} shown)"))
    ax.autoscale_view(scaley=False)
    all_y = np.concatenate([y for _, y in curves.values()])
    scale = _fit_y(ax, all_y, results.mode, log_y, ylim)
    if scale is not None:
        bottom, top = sorted(ax.get_ylim())
        leaving = [y[np.isfinite(y) & ((y > top) | (y < bottom))] for _, y in curves.values()]
        leaving = [y for y in leaving if len(y)]
        if leaving:
            out = np.concatenate(leaving)
            above = sum(bool((y > top).any()) for y in leaving)
            note = _count_outside(out, out > top, scale)
            note.above, note.below = above, len(leaving) - above
            handles.append(Line2D([], [], color="none",
                                  label=_outlier_note(note, "trials go")))
    _colorbar(figure, ax, norm, cmap, f"final {metric}")
    band_handles, _ = ax.get_legend_handles_labels()
    _legend_outside(ax, band_handles + handles)
    shown = (f"{len(chosen)} of {len(ids)} trials (best {max(1, max_curves // 2)} + random "
             "sample)" if thinned else f"{len(ids)} trials")
    ax.set_title(f"learning curves: {shown}")
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # iterations are whole numbers
    ax.grid(alpha=0.3)
    return figure
