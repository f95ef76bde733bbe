"""Plots of an experiment (needs matplotlib: ``pip install 'raysweep[plot]'``).

Every function takes a ``Results`` (or an experiment directory) and returns a matplotlib
``Figure``; pass ``ax=`` to draw into an existing axes instead. No pyplot state is touched, so
they are safe in scripts, servers and notebooks (a returned Figure displays itself there).

They stay quick and legible at 10,000 trials: lines are drawn as one collection, and the
line-heavy plots (parallel coordinates, learning curves, PBT lineage) draw the best trials plus
a seeded random sample of the rest (``max_lines``/``max_curves``/``max_trials``), with an
aggregate band of all trials behind the learning curves.

Example:
    >>> import raysweep as rs, raysweep.plot
    >>> results = rs.load("~/raysweep_results/svc")  # doctest: +SKIP
    >>> raysweep.plot.history(results).savefig("history.png")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["dashboard", "history", "importance", "learning_curves", "parallel_coordinates",
           "param_importance", "pbt_lineage"]


# ------------------------------------------------------------------------------- helpers
def _results(obj: Any):
    if isinstance(obj, (str, os.PathLike)):
        from raysweep.results import load  # noqa: PLC0415

        return load(obj)
    if not hasattr(obj, "dataframe") or not hasattr(obj, "metric"):
        raise TypeError(f"results must be a raysweep.Results or an experiment directory, got "
                        f"{type(obj).__name__}")
    return obj


def _figure(ax: Any, figsize: tuple[float, float]) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    try:
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError:
        raise ImportError("raysweep.plot needs matplotlib: pip install 'raysweep[plot]'") \
            from None
    figure = Figure(figsize=figsize, layout="constrained")
    return figure, figure.add_subplot()


def _message(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4",
            wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _metric_values(results: Any, frame: pd.DataFrame) -> np.ndarray:
    """The metric per trial as floats; NaN for failed trials and non-finite values."""
    if results.metric not in frame.columns:
        return np.full(len(frame), np.nan)
    values = pd.to_numeric(frame[results.metric], errors="coerce").to_numpy(dtype=float, copy=True)
    values[~np.isfinite(values)] = np.nan
    values[(frame["status"] == "ERROR").to_numpy()] = np.nan
    return values


def _non_finite_reports(results: Any, finite: np.ndarray) -> int:
    """How many trials (not failed) reported the metric as NaN, inf or a non-number; ``finite``
    is ``_metric_values(...)`` finiteness, row for row with ``results.trials``."""
    count = 0
    for trial, ok in zip(results.trials, finite):
        if ok or trial.status.value == "ERROR":
            continue
        result = (trial.best_result if results.scope == "all" else None) or trial.last_result
        count += bool(result) and results.metric in result
    return count


def _auto_log(values: np.ndarray) -> bool:
    """Log scale for positive values spanning 3 decades and crowded at the low end."""
    finite = values[np.isfinite(values)]
    if len(finite) < 2 or finite.min() <= 0 or finite.max() / finite.min() < 1e3:
        return False
    low, high = finite.min(), finite.max()
    return bool((np.median(finite) - low) / (high - low) < 0.1)


def _log_params(results: Any) -> dict[str, bool]:
    """``config/<name>`` -> whether the space samples it on a log scale (from the settings)."""
    found: dict[str, bool] = {}

    def walk(node: Any, prefix: str) -> None:
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        if kind == "dict":
            for key, child in node.get("items", []):
                walk(child, f"{prefix}{key}/")
        elif kind in ("choice", "grid"):
            for branch in node.get("branches", []):
                walk(branch, prefix)
        elif "log" in node and prefix:
            found[f"config/{prefix[:-1]}"] = bool(node["log"])

    space = (results.settings or {}).get("space") or {}
    walk(space.get("spec"), "")
    return found


def _cmap(mode: str) -> Any:
    from matplotlib import colormaps  # noqa: PLC0415

    # The best trials are the darkest, and are drawn last (on top).
    return colormaps["viridis" if mode == "min" else "viridis_r"]


def _norm(values: np.ndarray) -> Any:
    from matplotlib.colors import LogNorm, Normalize  # noqa: PLC0415

    finite = values[np.isfinite(values)]
    if not len(finite):
        return Normalize(0, 1)
    low, high = np.quantile(finite, [0.01, 0.99])  # outliers do not wash out the colours
    if high <= low:
        low, high = finite.min(), finite.max() if finite.max() > finite.min() else finite.min() + 1
    if _auto_log(finite) and low > 0:
        return LogNorm(low, high, clip=True)
    return Normalize(low, high, clip=True)


def _pick(order_best_first: np.ndarray, rest: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """The best ``limit // 2`` plus a seeded random sample of everything else, up to ``limit``."""
    best = order_best_first[: max(1, limit // 2)]
    others = np.setdiff1d(np.concatenate([order_best_first, rest]), best, assume_unique=False)
    room = limit - len(best)
    if room > 0 and len(others):
        rng = np.random.default_rng(seed)
        others = rng.choice(others, size=min(room, len(others)), replace=False)
    else:
        others = others[:0]
    return np.concatenate([others, best[::-1]])  # sample first, best last (drawn on top)


def _check_limit(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise ValueError(f"{name} must be an int >= 2, got {value!r}")


def _config_columns(frame: pd.DataFrame, params: list[str] | None) -> list[str]:
    columns = [c for c in frame.columns if str(c).startswith("config/")]
    if params is None:
        return columns
    out = []
    for name in params:
        column = name if name in frame.columns else f"config/{name}"
        if column not in frame.columns:
            raise ValueError(f"params: no parameter {name!r}; available: "
                             f"{', '.join(c[len('config/'):] for c in columns)}")
        out.append(column)
    return out


def _label(column: str) -> str:
    return column.removeprefix("config/")


def _fmt(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.3g}"
    return str(value)


# ------------------------------------------------------------------------------- history
def history(results: Any, *, ax: Any = None, log_y: bool | None = None) -> Any:
    """The metric of every trial in creation order, with the best so far as a step line.

    Args:
        results: A ``raysweep.Results`` or an experiment directory.
        ax: Draw into this matplotlib axes (default: a new figure).
        log_y: Log scale for the metric (default: when positive and spanning 3 decades).

    Returns:
        matplotlib.figure.Figure
    """
    results = _results(results)
    figure, ax = _figure(ax, (7.5, 4.2))
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
    x = np.arange(len(frame))
    done = (frame["status"] == "TERMINATED").to_numpy()
    many = len(frame) > 2000
    size = 6 if many else 16
    ax.scatter(x[finite & done], values[finite & done], s=size, alpha=0.45 if many else 0.7,
               color="tab:blue", linewidths=0, label="trial", rasterized=many)
    live = finite & ~done
    if live.any():
        ax.scatter(x[live], values[live], s=size, alpha=0.7, color="tab:orange",
                   linewidths=0, label="running / paused", rasterized=many)
    series = pd.Series(values)
    best = (series.cummin() if results.mode == "min" else series.cummax()).ffill()
    ax.step(x, best.to_numpy(), where="post", color="tab:red", linewidth=1.6,
            label="best so far")
    if failed:
        ax.plot([], [], " ", label=f"{failed} failed (not shown)")
    reported = _non_finite_reports(results, finite)
    if reported:  # NaN, inf or a non-number: a diverged trial should not look absent
        ax.plot([], [], " ", label=f"{reported} with non-finite {results.metric} (not shown)")
    if log_y if log_y is not None else _auto_log(values):
        ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="best", fontsize="small", frameon=False)
    ax.grid(alpha=0.3)
    return figure


# ----------------------------------------------------------------- parallel coordinates
def _axis_positions(column: pd.Series, log: bool | None = None
                   ) -> tuple[np.ndarray, list[tuple[float, str]], bool]:
    """Values of one parameter mapped into [0, 1], tick labels, and whether it is log scaled.

    Missing values (a conditional parameter absent in some trials) sit just below the axis.
    """
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if numeric:
        values = column.to_numpy(dtype=float)
        finite = np.isfinite(values)
        if not finite.any():
            return np.full(len(values), -0.06), [(-0.06, "n/a")], False
        log = (_auto_log(values) if log is None else log) and values[finite].min() > 0
        scaled = np.log10(values) if log else values.copy()
        low, high = np.nanmin(scaled[finite]), np.nanmax(scaled[finite])
        span = high - low
        out = (scaled - low) / span if span > 0 else np.full(len(values), 0.5)
        out[~finite] = -0.06
        low_v, high_v = np.nanmin(values[finite]), np.nanmax(values[finite])
        ticks = [(0.0 if span > 0 else 0.5, _fmt(low_v))]
        if span > 0:
            ticks.append((1.0, _fmt(high_v)))
        if not finite.all():
            ticks.append((-0.06, "n/a"))
        return out, ticks, log
    present = column.notna().to_numpy()
    labels = column[present].map(str)
    categories = sorted(labels.unique())
    where = {c: (i / (len(categories) - 1) if len(categories) > 1 else 0.5)
             for i, c in enumerate(categories)}
    out = np.full(len(column), -0.06)
    out[present] = labels.map(where).to_numpy(dtype=float)
    shown = categories if len(categories) <= 12 else [categories[0], categories[-1]]
    ticks = [(where[c], c if len(c) <= 14 else c[:13] + "…") for c in shown]
    if not present.all():
        ticks.append((-0.06, "n/a"))
    return out, ticks, False


def parallel_coordinates(results: Any, *, params: list[str] | None = None, ax: Any = None,
                         max_lines: int = 300, seed: int = 0) -> Any:
    """One line per trial across the parameter axes and the metric, coloured by the metric.

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
    figure, ax = _figure(ax, (9.0, 4.6))
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
    metric_scaled, metric_ticks, metric_log = _axis_positions(pd.Series(values))
    positions.append(metric_scaled)
    ticks.append((metric_ticks, metric_log))
    ys = np.column_stack(positions)  # trials x axes
    order = np.argsort(values if results.mode == "min" else -values, kind="stable")
    if len(order) <= max_lines:
        chosen = order[::-1]  # worst first, best drawn last (on top)
    else:
        chosen = _pick(order, order[:0], max_lines, seed)
    xs = np.arange(len(axes), dtype=float)
    segments = np.stack([np.column_stack([xs, ys[i]]) for i in chosen])
    norm = _norm(values)
    cmap = _cmap(results.mode)
    lines = LineCollection(segments, colors=cmap(norm(values[chosen])), linewidths=0.9,
                           alpha=0.55 if len(chosen) > 50 else 0.8)
    ax.add_collection(lines)
    for i, (column_ticks, log) in enumerate(ticks):
        ax.axvline(i, color="0.25", linewidth=0.8)
        for y, text in column_ticks:
            ax.text(i + 0.03, y, text, fontsize=7, va="center", ha="left", color="0.1",
                    clip_on=False, zorder=4,
                    bbox={"facecolor": "white", "alpha": 0.75, "edgecolor": "none", "pad": 0.6})
        if log:
            ax.text(i, 1.04, "log", fontsize=6, ha="center", color="0.4")
    ax.set_xlim(-0.1, len(axes) - 1 + 0.45)
    ax.set_ylim(-0.1, 1.08)
    ax.set_xticks(xs, [_label(a) for a in axes], rotation=25 if len(axes) > 6 else 0,
                  ha="right" if len(axes) > 6 else "center")
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    from matplotlib.cm import ScalarMappable  # noqa: PLC0415

    figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=results.metric,
                    pad=0.01)
    shown = (f"{len(chosen)} of {len(values)} trials (best {max(1, max_lines // 2)} + random "
             f"sample)" if len(values) > max_lines else f"{len(values)} trials")
    ax.set_title(f"parallel coordinates: {shown}")
    return figure


# ------------------------------------------------------------------------ learning curves
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
                    log_y: bool | None = None) -> Any:
    """The metric over ``training_iteration`` for each trial, coloured by its final metric.

    Trials a scheduler stopped early end with an ``x``; paused trials are dashed and end with
    an open circle; failed trials are red. Past ``max_curves`` trials, the best half and a
    seeded random sample are drawn over a grey band (10-90% and median of all trials).

    Args:
        results: A ``raysweep.Results`` or an experiment directory.
        ax: Draw into this matplotlib axes (default: a new figure).
        max_curves: At most this many curves.
        seed: Seed of the sample.
        log_y: Log scale for the metric (default: when positive and spanning 3 decades).

    Returns:
        matplotlib.figure.Figure
    """
    _check_limit("max_curves", max_curves)
    from matplotlib.collections import LineCollection  # noqa: PLC0415
    from matplotlib.lines import Line2D  # noqa: PLC0415

    results = _results(results)
    figure, ax = _figure(ax, (7.5, 4.2))
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
    sign = 1.0 if results.mode == "min" else -1.0
    ranked = np.argsort(np.where(np.isfinite(final_values), sign * final_values, np.inf),
                        kind="stable")
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
    norm = _norm(final_values)
    cmap = _cmap(results.mode)
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
    ax.autoscale_view()
    all_y = np.concatenate([y for _, y in curves.values()])
    if log_y if log_y is not None else _auto_log(all_y):
        ax.set_yscale("log")
    from matplotlib.cm import ScalarMappable  # noqa: PLC0415

    figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax,
                    label=f"final {metric}", pad=0.01)
    band_handles, _ = ax.get_legend_handles_labels()
    if band_handles or handles:
        ax.legend(handles=band_handles + handles, fontsize="small", frameon=False, loc="best")
    shown = (f"{len(chosen)} of {len(ids)} trials (best {max(1, max_curves // 2)} + random "
             "sample)" if thinned else f"{len(ids)} trials")
    ax.set_title(f"learning curves: {shown}")
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # iterations are whole numbers
    ax.grid(alpha=0.3)
    return figure


# ------------------------------------------------------------------------------ importance
def param_importance(results: Any, *, params: list[str] | None = None, seed: int = 0,
                     max_rows: int = 5000) -> pd.Series:
    """How much each parameter explains the metric, from a random forest on the trials table.

    The forest predicts each trial's metric rank (robust to outliers) from its parameters
    (categories as codes, an absent conditional parameter as its own value); the importance
    of a parameter is its mean decrease in impurity, normalised to sum to 1.

    Args:
        results: A ``raysweep.Results`` or an experiment directory.
        params: Parameter names (default: all).
        seed: Seeds the forest and the row sample.
        max_rows: Fit on at most this many trials (a seeded sample), to stay fast.

    Returns:
        A Series indexed by parameter name, largest first.

    Raises:
        ValueError: fewer than 4 trials with a finite metric, or no parameters.
    """
    from sklearn.ensemble import RandomForestRegressor  # noqa: PLC0415

    results = _results(results)
    frame = results.dataframe()
    columns = _config_columns(frame, params)
    values = _metric_values(results, frame)
    keep = np.isfinite(values)
    if not columns:
        raise ValueError("param_importance: the experiment has no parameters")
    if keep.sum() < 4:
        raise ValueError(f"param_importance needs at least 4 trials with a finite "
                         f"{results.metric}, got {int(keep.sum())}")
    frame = frame.loc[keep].reset_index(drop=True)
    values = values[keep]
    if len(frame) > max_rows:
        rows = np.random.default_rng(seed).choice(len(frame), size=max_rows, replace=False)
        frame = frame.iloc[rows].reset_index(drop=True)
        values = values[rows]
    features, names, constant = [], [], []
    for column in columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            encoded = series.to_numpy(dtype=float)
            finite = np.isfinite(encoded)
            if finite.any():
                low, high = encoded[finite].min(), encoded[finite].max()
                encoded = np.where(finite, encoded, low - (high - low + 1.0))
            else:
                encoded = np.zeros(len(encoded))
        else:
            encoded = pd.Categorical(series.map(lambda v: None if v is None else str(v))) \
                .codes.astype(float)
        if np.unique(encoded).size < 2:
            constant.append(_label(column))
            continue
        features.append(encoded)
        names.append(_label(column))
    importances = pd.Series(0.0, index=names + constant, dtype=float)
    if features:
        target = pd.Series(values if results.mode == "min" else -values).rank(pct=True)
        leaf = int(min(5, max(1, len(target) // 20)))  # small sweeps still get splits
        forest = RandomForestRegressor(n_estimators=48, min_samples_leaf=leaf, max_depth=12,
                                       max_samples=0.5 if len(target) >= 200 else None,
                                       random_state=seed, n_jobs=1)
        forest.fit(np.column_stack(features), target.to_numpy())
        scores = np.asarray(forest.feature_importances_, dtype=float)
        total = scores.sum()
        importances[names] = scores / total if total > 0 else scores
    return importances.sort_values(ascending=False, kind="stable")


def importance(results: Any, *, ax: Any = None, params: list[str] | None = None,
               seed: int = 0) -> Any:
    """A bar chart of ``param_importance``.

    Args:
        results: A ``raysweep.Results`` or an experiment directory.
        ax: Draw into this matplotlib axes (default: a new figure).
        params: Parameter names (default: all).
        seed: Seeds the forest.

    Returns:
        matplotlib.figure.Figure
    """
    results = _results(results)
    figure, ax = _figure(ax, (6.5, 4.0))
    ax.set_title(f"parameter importance for {results.metric}")
    try:
        scores = param_importance(results, params=params, seed=seed)
    except ValueError as exc:
        _message(ax, str(exc))
        return figure
    if not (scores > 0).any():
        _message(ax, f"no parameter explains {results.metric} in these {len(results)} trials")
        return figure
    shown = scores.iloc[:20][::-1]
    ax.barh(list(shown.index), shown.to_numpy(), color="tab:blue")
    for y, value in enumerate(shown.to_numpy()):
        ax.text(value, y, f" {value:.2f}", va="center", fontsize=8)
    ax.set_xlabel("importance (random forest, share of impurity decrease)")
    ax.set_xlim(0, max(0.05, float(shown.max()) * 1.18))
    ax.grid(axis="x", alpha=0.3)
    return figure


# ----------------------------------------------------------------------------- PBT lineage
def pbt_lineage(results: Any, *, ax: Any = None, max_trials: int = 60) -> Any:
    """Each trial as a lane over ``training_iteration``; an arrow where it cloned another.

    With PBT, a trial that exploits copies another trial's checkpoint and continues with a
    mutated config: the plot draws that as a connector from the donor's lane to the trial's
    lane at the iteration of the copy. Lanes are ordered and coloured by final metric (best at
    the top); past ``max_trials`` only the best are drawn.

    Args:
        results: A ``raysweep.Results`` or an experiment directory.
        ax: Draw into this matplotlib axes (default: a new figure).
        max_trials: At most this many lanes.

    Returns:
        matplotlib.figure.Figure

    An experiment run with another scheduler (no trial ever cloned another) has no lineage:
    the figure says so instead of drawing one flat lane per trial.
    """
    _check_limit("max_trials", max_trials)
    from matplotlib.collections import LineCollection  # noqa: PLC0415

    results = _results(results)
    not_pbt = _not_pbt(results)
    if not_pbt is not None:
        figure, ax = _figure(ax, (8.0, 3.0))
        _message(ax, not_pbt)
        return figure
    frame = results.dataframe()
    values = _metric_values(results, frame)
    ids = frame["trial_id"].tolist()
    sign = 1.0 if results.mode == "min" else -1.0
    order = np.argsort(np.where(np.isfinite(values), sign * values, np.inf), kind="stable")
    chosen = [ids[i] for i in order[:max_trials]]
    figure, ax = _figure(ax, (8.0, max(3.0, min(10.0, 0.18 * len(chosen) + 1.5))))
    ax.set_xlabel("training_iteration")
    if not chosen:
        _message(ax, "no trials yet")
        return figure
    lane = {trial_id: len(chosen) - 1 - i for i, trial_id in enumerate(chosen)}  # best on top
    trials = {t.trial_id: t for t in results.trials}
    norm = _norm(values)
    cmap = _cmap(results.mode)
    colour = dict(zip(ids, values))
    segments, colors, links, link_ends, forks = [], [], [], [], 0
    for trial_id in chosen:
        trial = trials[trial_id]
        schedule = results.pbt_schedule(trial_id)
        end = max(trial.iteration, schedule[-1]["training_iteration"])
        value = colour.get(trial_id, np.nan)
        color = cmap(norm(value)) if np.isfinite(value) else (0.6, 0.6, 0.6, 1.0)
        y = lane[trial_id]
        points = [entry["training_iteration"] for entry in schedule] + [end]
        segments.append(np.array([[points[0], y], [points[-1], y]], dtype=float))
        colors.append(color)
        for entry in schedule[1:]:
            forks += 1
            x = entry["training_iteration"]
            parent = entry.get("parent_id")
            link_ends.append((x, y))
            if parent in lane:
                links.append(np.array([[x, lane[parent]], [x, y]], dtype=float))
    ax.add_collection(LineCollection(segments, colors=colors, linewidths=3.0,
                                     capstyle="butt"))
    if links:
        ax.add_collection(LineCollection(links, colors="0.35", linewidths=0.8, alpha=0.7))
    if link_ends:
        xs, ys = zip(*link_ends)
        ax.scatter(xs, ys, marker="o", s=14, color="black", zorder=3,
                   label="cloned a better trial's checkpoint")
        ax.legend(loc="lower right", fontsize="small", frameon=False)
    ax.autoscale_view()
    ax.set_ylim(-1, len(chosen))
    if len(chosen) <= 40:
        ax.set_yticks(range(len(chosen)), [t for t in reversed(chosen)], fontsize=7)
    else:
        ax.set_yticks([])
    ax.set_ylabel("trial (best at the top)")
    from matplotlib.cm import ScalarMappable  # noqa: PLC0415

    figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=results.metric,
                    pad=0.01)
    shown = f"{len(chosen)} of {len(ids)} trials" if len(ids) > len(chosen) else \
        f"{len(ids)} trials"
    note = f"{forks} exploit steps" if forks else "no exploit steps (not a PBT run?)"
    ax.set_title(f"PBT lineage: {shown}, {note}")
    return figure


def _not_pbt(results: Any) -> str | None:
    """Why there is no lineage to draw (the settings name a scheduler that is not PBT and no
    trial forked), else None. Experiments whose settings do not say are drawn."""
    scheduler = (results.settings or {}).get("scheduler")
    if not isinstance(scheduler, str) or not scheduler:
        return None
    if "pbt" in scheduler.lower() or "populationbased" in scheduler.lower().replace(" ", ""):
        return None
    if any(t.parent_id is not None for t in results.trials):
        return None
    name = (results.settings or {}).get("name") or results.path or "this experiment"
    return (f"{name!r} is not a PBT run (scheduler {scheduler!r}, no trial cloned another): "
            "no lineage to draw; try learning_curves or history")


# ------------------------------------------------------------------------------- dashboard
def dashboard(results: Any) -> Any:
    """History, parameter importance, parallel coordinates and (for iterative trials)
    learning curves, or the PBT lineage for a PBT run, in one figure."""
    results = _results(results)
    _figure(None, (1, 1))  # the matplotlib import check
    from matplotlib.figure import Figure  # noqa: PLC0415

    iterative = any(t.iteration > 1 for t in results.trials)
    forked = any(t.parent_id is not None for t in results.trials)
    figure = Figure(figsize=(15, 9), layout="constrained")
    grid = figure.add_gridspec(2, 2)
    history(results, ax=figure.add_subplot(grid[0, 0]))
    importance(results, ax=figure.add_subplot(grid[0, 1]))
    if iterative:
        parallel_coordinates(results, ax=figure.add_subplot(grid[1, 0]))
        if forked:
            pbt_lineage(results, ax=figure.add_subplot(grid[1, 1]))
        else:
            learning_curves(results, ax=figure.add_subplot(grid[1, 1]))
    else:
        parallel_coordinates(results, ax=figure.add_subplot(grid[1, :]))
    name = (results.settings or {}).get("name")
    counts = ", ".join(f"{v} {k.lower()}" for k, v in results.status_counts().items())
    figure.suptitle(f"raysweep{f' · {name}' if name else ''}: {len(results)} trials ({counts})")
    return figure

