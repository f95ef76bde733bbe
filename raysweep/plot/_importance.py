"""Parameter importance: a random forest on the trials table, and its bar chart (or the metric
against the only parameter that varies)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from raysweep.plot._common import (_auto_log, _config_columns, _count_outside, _figure,
                                   _fit_y, _goal, _label, _legend_outside, _log_params,
                                   _message, _metric_values, _outlier_note, _results)


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
        target = pd.Series(_goal(results).loss_array(values)).rank(pct=True)
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

