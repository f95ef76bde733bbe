"""Parallel coordinates (``raysweep.plot.parallel_coordinates``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from raysweep.plot._common import (_check_limit, _cmap, _colorbar, _config_columns, _figure,
                                   _fmt, _goal, _label, _log_params, _message, _metric_values,
                                   _norm,
                                   _pick, _results)
from raysweep.plot._scale import axis_ticks, robust_scale

_NA_Y = -0.2  # where trials without the parameter (a conditional one) sit
_OUT_Y = 0.09  # outliers of the metric axis sit this far beyond its ends
_TICK_GAP = 0.085  # labels on one axis at least this far apart (in axis units)
_FONT_PT = 7.0


def _axis_positions(column: pd.Series, log: bool | None = None, mode: str | None = None,
                    robust: bool = False) -> tuple[np.ndarray, list[tuple[float, str]], bool]:
    """Values of one axis mapped into [0, 1], its tick labels, and whether it is log scaled.

    Numeric axes get round ticks between the labelled ends. With ``robust`` (the metric axis)
    the ends are fitted to the bulk of the values and outliers sit just beyond them, under a
    ``> high`` / ``< low`` label. Missing values (a conditional parameter absent in some
    trials) sit apart at the bottom, under ``n/a``.
    """
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    present = column.notna().to_numpy()
    ticks: list[tuple[float, str]] = []
    if numeric:
        values = column.to_numpy(dtype=float)
        finite = np.isfinite(values)
        present = finite
        scale = robust_scale(values, mode, log=log, robust=robust)
        if scale is None:
            return np.full(len(values), _NA_Y), [(_NA_Y, "n/a")], False
        log = scale.log
        low, high = scale.low, scale.high
        t_low, t_high = (np.log10(low), np.log10(high)) if log else (low, high)
        span = t_high - t_low

        def place(v: np.ndarray) -> np.ndarray:
            if span <= 0:
                return np.full(len(v), 0.5)
            with np.errstate(divide="ignore", invalid="ignore"):
                t = np.log10(v) if log else v
            return (t - t_low) / span

        out = np.full(len(values), _NA_Y)
        out[finite] = place(values[finite])
        out[finite & (values > high)] = 1.0 + _OUT_Y
        out[finite & (values < low)] = -_OUT_Y
        if span > 0:
            ticks = [(0.0, _fmt(low)), (1.0, _fmt(high))]
            for tick in axis_ticks(low, high, log):
                y = float(place(np.array([tick]))[0])
                if all(abs(y - other) >= _TICK_GAP for other, _ in ticks):
                    ticks.append((y, _fmt(tick)))
        else:
            ticks = [(0.5, _fmt(low))]
        if scale.above:
            ticks.append((1.0 + _OUT_Y, f"> {_fmt(high)} ({scale.above})"))
        if scale.below:
            ticks.append((-_OUT_Y, f"< {_fmt(low)} ({scale.below})"))
    else:
        labels = column[present].map(str)
        categories = sorted(labels.unique())
        where = {c: (i / (len(categories) - 1) if len(categories) > 1 else 0.5)
                 for i, c in enumerate(categories)}
        out = np.full(len(column), _NA_Y)
        out[present] = labels.map(where).to_numpy(dtype=float)
        shown = categories if len(categories) <= 12 else [categories[0], categories[-1]]
        ticks = [(where[c], c if len(c) <= 14 else c[:13] + "…") for c in shown]
        log = False
    if not present.all():
        ticks.append((_NA_Y, "n/a"))
    return out, ticks, bool(log)


def _gutter(ax: Any, labels: list[str], units_per_inch: float) -> float:
    """The width (x data units) of the flat stub that carries an axis's labels."""
    chars = max((len(text) for text in labels), default=0)
    return min(0.45, (chars * 0.6 * _FONT_PT / 72 + 0.08) * units_per_inch)


def parallel_coordinates(results: Any, *, params: list[str] | None = None, ax: Any = None,
                         max_lines: int = 300, seed: int = 0) -> Any:
    """One line per trial across the parameter axes and the metric, coloured by the metric.

    Each axis carries its labels on a short flat stretch of the lines just right of it, so a
    label never sits on the slopes between axes: a category's label names the bundle of
    lines that leaves it. Numeric axes have round ticks between their labelled ends; log
    parameters (from the space, or values spanning decades) say ``(log)`` under their name.
    The metric axis is fitted to the bulk of the trials, outliers sitting just beyond its end
    under a ``> value (count)`` label; trials without a (conditional) parameter sit at the
    bottom of its axis under ``n/a``.

    Args:
        results: A ``raysweep.Results`` or an experiment directory.
        params: Parameter names to show (default: all, up to 12).
        ax: Draw into this matplotlib axes (default: a new figure).
        max_lines: At most this many lines: the best half plus a seeded random sample of the
            other trials. The title says how many are shown.
        seed: Seed of that sample.

    Returns:
        matplotlib.figure.Figure
    """
    _check_limit("max_lines", max_lines)
    from matplotlib.collections import LineCollection  # noqa: PLC0415

    results = _results(results)
    figure, ax = _figure(ax, (9.0, 4.8))
    frame = results.dataframe()
    columns = _config_columns(frame, params)
    if params is None:
        columns = columns[:12]
    values = _metric_values(results, frame)
    keep = np.isfinite(values)
    if not columns or keep.sum() < 1:
        _message(ax, "nothing to draw yet (no parameters or no finished trial with a finite "
                     f"{results.metric})")
        return figure
    frame = frame.loc[keep].reset_index(drop=True)
    values = values[keep]
    axes = [*columns, results.metric]
    positions, ticks = [], []
    log_scale = _log_params(results)
    for column in columns:
        scaled, column_ticks, log = _axis_positions(frame[column], log_scale.get(column))
        positions.append(scaled)
        ticks.append((column_ticks, log))
    metric_scaled, metric_ticks, metric_log = _axis_positions(
        pd.Series(values), mode=results.mode, robust=True)
    positions.append(metric_scaled)
    ticks.append((metric_ticks, metric_log))
    ys = np.column_stack(positions)  # trials x axes
    goal = _goal(results)
    order = goal.order(values)  # best first
    if len(order) <= max_lines:
        chosen = order[::-1]  # worst first, best drawn last (on top)
    else:
        chosen = _pick(order, order[:0], max_lines, seed)
    n_axes = len(axes)
    width_in = max(1.0, ax.get_position().width * figure.get_figwidth() - 0.6)
    units_per_inch = (n_axes - 1 + 0.6) / width_in
    gutters = [_gutter(ax, [text for _, text in column_ticks], units_per_inch)
               for column_ticks, _ in ticks]
    xs = [float(i) for i in range(n_axes)]
    path_x = [x for i in range(n_axes - 1) for x in (xs[i], xs[i] + gutters[i])] + [xs[-1]]
    path_index = [i for i in range(n_axes - 1) for _ in (0, 1)] + [n_axes - 1]
    segments = np.stack([np.column_stack([path_x, ys[i][path_index]]) for i in chosen])
    norm = _norm(values, results.mode)
    cmap = _cmap(goal)
    lines = LineCollection(list(segments), colors=cmap(norm(values[chosen])), linewidths=0.9,
                           alpha=0.55 if len(chosen) > 50 else 0.8, zorder=2)
    ax.add_collection(lines)
    for i, (column_ticks, _) in enumerate(ticks):
        ax.axvline(i, color="0.25", linewidth=0.8, zorder=1)
        for y, text in column_ticks:
            ax.plot([i - 0.02, i], [y, y], color="0.25", linewidth=0.8, zorder=1)
            ax.text(i + 0.02, y, text, fontsize=_FONT_PT, va="center", ha="left",
                    color="0.1", clip_on=False, zorder=4,
                    bbox={"facecolor": "white", "alpha": 0.9, "edgecolor": "none",
                          "pad": 0.8})
    ax.set_xlim(-0.12, n_axes - 1 + max(0.3, gutters[-1] + 0.05))
    ax.set_ylim(_NA_Y - 0.06, 1.0 + _OUT_Y + 0.05)
    names = [_label(a) + ("\n(log)" if log else "") for a, (_, log) in zip(axes, ticks)]
    ax.set_xticks(xs, names, rotation=25 if n_axes > 6 else 0,
                  ha="right" if n_axes > 6 else "center")
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    _colorbar(figure, ax, norm, cmap, results.metric)
    shown = (f"{len(chosen)} of {len(values)} trials (best {max(1, max_lines // 2)} + random "
             f"sample)" if len(values) > max_lines else f"{len(values)} trials")
    ax.set_title(f"parallel coordinates: {shown}")
    return figure
