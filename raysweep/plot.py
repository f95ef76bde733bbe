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

from typing import Any

import numpy as np
import pandas as pd

from raysweep._plot_common import (_auto_log, _check_ylim, _cmap, _colorbar, _config_columns,
                                   _count_outside, _figure, _fit_y, _label,
                                   _legend_outside, _log_params, _message, _metric_values,
                                   _non_finite_reports, _norm, _outlier_note, _results,
                                   _check_limit)
from raysweep._plot_curves import learning_curves
from raysweep._plot_parallel import parallel_coordinates

__all__ = ["dashboard", "history", "importance", "learning_curves", "parallel_coordinates",
           "param_importance", "pbt_lineage"]


# ------------------------------------------------------------------------------- history
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
    series = pd.Series(values)
    best = (series.cummin() if results.mode == "min" else series.cummax()).ffill()
    ax.step(x, best.to_numpy(), where="post", color="tab:red", linewidth=1.6,
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

    With a single parameter that varies, importance says nothing (it is 1 by definition):
    the figure then shows the metric against that parameter instead, and says why.

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
    frame = results.dataframe()
    varying = [c for c in _config_columns(frame, params)
               if frame[c].map(lambda v: None if v is None else str(v)).nunique() > 1]
    if len(varying) == 1:
        _metric_against(results, frame, varying[0], ax)
        return figure
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


def _metric_against(results: Any, frame: pd.DataFrame, column: str, ax: Any) -> None:
    """The metric of each trial against the one parameter that varies (log x when the space
    samples it on a log scale); categories are spread a little sideways."""
    values = _metric_values(results, frame)
    name = _label(column)
    ax.set_title(f"{results.metric} against {name}, the only parameter that varies "
                 "(importance would be 1 by definition)", fontsize="medium", wrap=True)
    ax.set_xlabel(name)
    ax.set_ylabel(results.metric)
    finite = np.isfinite(values)
    if not finite.any():
        _message(ax, f"no trial has a finite {results.metric} yet")
        return
    series = frame[column]
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        x = series.to_numpy(dtype=float)
        if _log_params(results).get(column) or _auto_log(x[np.isfinite(x)]):
            ax.set_xscale("log")
    else:
        labels = series.map(lambda v: "n/a" if v is None else str(v))
        categories = sorted(labels.unique())
        codes = labels.map({c: i for i, c in enumerate(categories)}).to_numpy(dtype=float)
        x = codes + np.random.default_rng(0).uniform(-0.15, 0.15, len(codes))
        ax.set_xticks(range(len(categories)), categories)
    _fit_y(ax, values, results.mode, None, None)
    bottom, top = sorted(ax.get_ylim())
    inside = finite & (values >= bottom) & (values <= top)
    ax.scatter(x[inside], values[inside], s=18, alpha=0.75, color="tab:blue", linewidths=0,
               label="trial")
    outside = finite & ~inside
    if outside.any():
        high = values[outside] > top
        ax.scatter(x[outside], np.where(high, top, bottom), marker="^", s=28,
                   color="tab:purple", linewidths=0, clip_on=False,
                   label=_outlier_note(_count_outside(values[outside], high, None), "trials"))
        _legend_outside(ax)
    ax.grid(alpha=0.3)


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
    norm = _norm(values, results.mode)
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
        _legend_outside(ax)
    ax.autoscale_view()
    ax.set_ylim(-1, len(chosen))
    if len(chosen) <= 40:
        ax.set_yticks(range(len(chosen)), [t for t in reversed(chosen)], fontsize=7)
    else:
        ax.set_yticks([])
    ax.set_ylabel("trial (best at the top)")
    _colorbar(figure, ax, norm, cmap, results.metric)
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

