"""How a ``Results`` looks: tables with options, top-N, a text summary and a notebook repr.

Plain functions over a ``Results`` so that ``results.py`` stays about data; ``Results`` exposes
them as ``dataframe(...)``, ``top(n)``, ``summary()`` and ``_repr_html_``. The CLI uses the
same functions, so ``raysweep show`` and ``results.summary()`` print the same thing.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pandas as pd

from raysweep._goal import Goal, check_scope, metric_values
from raysweep.space import flatten as _flatten_dict
from raysweep.trial import TrialStatus

#: Columns every trials table has, in this order, ahead of metrics and config.
_FRONT = ("trial_id", "status")
#: Reported keys that would overwrite a column of raysweep's (shown as ``result/<key>``).
_OWN = ("status", "config")


def _flatten_result(result: dict[str, Any]) -> dict[str, Any]:
    """Nested metric dicts become ``outer/inner`` keys (``{"val": {"acc": 1}}`` -> ``val/acc``)."""
    if not any(isinstance(value, dict) for value in result.values()):
        return result
    return _flatten_dict(result)


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else text


def trials_frame(results: Any, *, flatten: bool = True, include_history: bool = False,
                 scope: str | None = None) -> pd.DataFrame:
    """The trials table behind ``Results.dataframe``.

    Args:
        results: A ``raysweep.Results``.
        flatten: True: one ``config/<name>`` column per parameter (nested names joined with
            ``/``) and nested metric dicts spread into ``name/key`` columns. False: a single
            ``config`` column holding each trial's config dict, metrics as reported.
        include_history: False: one row per trial (its last result, or its best with
            ``scope="all"``). True: one row per report, each with the trial's status and the
            config it ran with at that iteration (PBT trials change config over time).
        scope: ``"last"`` or ``"all"`` (default: the experiment's scope).

    Returns:
        A DataFrame whose first columns are ``trial_id`` and ``status``. A failed trial's
        error message is in ``error``; when a trial reported a value named ``error`` (say, a
        metric), that column holds the reported values and the messages are in
        ``trial_error`` instead, for every row.
    """
    if scope is not None:
        check_scope(scope)
    if include_history:
        return _history_frame(results, flatten=flatten)
    metric = results.metric
    rows, messages = [], []
    for trial in results.trials:
        row: dict[str, Any] = {"trial_id": trial.trial_id, "status": trial.status.value}
        result = results._representative(trial, scope)  # noqa: SLF001 - same rule as best_*
        if flatten:
            result = _flatten_result(result)
        for key, value in result.items():
            if key in _OWN:  # raysweep's own columns win; the reported value is renamed
                row[f"result/{key}"] = value
            elif key != "trial_id":
                row[key] = value
        row.setdefault("training_iteration", trial.iteration)
        row["time_total_s"] = trial.time_total_s
        if flatten:
            for key, value in _flatten_dict(trial.config).items():
                row[f"config/{key}"] = value
        else:
            row["config"] = trial.config
        messages.append(_first_line(trial.error) if trial.error else None)
        if trial.parent_id is not None:
            row["parent_id"] = trial.parent_id
        if trial.node_id is not None:
            row["node_id"] = trial.node_id
        rows.append(row)
    # A trial's error message is the column ``error``, unless some trial reported a value named
    # ``error`` (a metric): that keeps its name and the messages go to ``trial_error``, for
    # every row, so one column never mixes metric values with messages.
    error_column = "trial_error" if any("error" in row for row in rows) else "error"
    for row, message in zip(rows, messages):
        row[error_column] = message
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["trial_id", "status", metric, "training_iteration",
                                     "time_total_s", "error"])
    if metric not in frame.columns:  # e.g. every trial failed: the column is still there
        frame[metric] = math.nan
    front = list(_FRONT) + [metric]
    return frame[front + [c for c in frame.columns if c not in front]]


def _config_at(schedule: list[dict[str, Any]], iteration: int) -> dict[str, Any]:
    """The config a (PBT) trial ran with when it reported ``iteration``."""
    config = schedule[0]["config"]
    for entry in schedule:
        if entry["training_iteration"] < iteration:
            config = entry["config"]
    return config


def _history_frame(results: Any, *, flatten: bool) -> pd.DataFrame:
    history = results.history()
    trials = {t.trial_id: t for t in results.trials}
    if history.empty:
        return pd.DataFrame(columns=["trial_id", "training_iteration", "status"])
    if flatten:
        nested = [c for c in history.columns
                  if history[c].map(lambda v: isinstance(v, dict)).any()]
        for column in nested:
            spread = pd.DataFrame([_flatten_dict({column: v}) if isinstance(v, dict) else {}
                                   for v in history[column]], index=history.index)
            history = pd.concat([history.drop(columns=[column]), spread], axis=1)
    history = history.rename(columns={key: f"result/{key}" for key in _OWN
                                      if key in history.columns})
    history.insert(2, "status", history["trial_id"].map(
        lambda tid: trials[tid].status.value if tid in trials else None))
    forked = {tid for tid in trials if len(results.pbt_schedule(tid)) > 1}
    configs: list[dict[str, Any]] = []
    for trial_id, iteration in zip(history["trial_id"], history["training_iteration"]):
        trial = trials.get(trial_id)
        if trial is None:
            configs.append({})
        elif trial_id in forked:
            configs.append(_config_at(results.pbt_schedule(trial_id), int(iteration)))
        else:
            configs.append(trial.config)
    if flatten:
        cache: dict[int, dict[str, Any]] = {}
        flat_rows = []
        for config in configs:
            key = id(config)
            if key not in cache:
                cache[key] = {f"config/{k}": v for k, v in _flatten_dict(config).items()}
            flat_rows.append(cache[key])
        config_frame = pd.DataFrame(flat_rows, index=history.index)
        return pd.concat([history, config_frame], axis=1)
    history["config"] = configs
    return history


# ----------------------------------------------------------------------------------- top-N
def _sort_key(results: Any, frame: pd.DataFrame, column: str) -> pd.Series:
    """Numeric sort key; ERROR trials and non-finite values go last (for the metric: what is
    no metric value under ``Goal``'s rule, such as a bool, too)."""
    if column == results.metric:
        values = pd.Series(metric_values(frame[column]), index=frame.index)
        return values.where(frame["status"] != TrialStatus.ERROR.value)
    values = pd.to_numeric(frame[column], errors="coerce")
    return values.where(values.map(lambda v: math.isfinite(v) if pd.notna(v) else False))


def resolve_columns(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    """Column names as typed by a user; ``C`` may stand for ``config/C``."""
    out = []
    for name in columns:
        if name in frame.columns:
            out.append(name)
        elif f"config/{name}" in frame.columns:
            out.append(f"config/{name}")
        else:
            raise KeyError(f"no column {name!r}; available: {', '.join(map(str, frame.columns))}")
    return out


def default_columns(results: Any, frame: pd.DataFrame, max_config: int = 8) -> list[str]:
    """trial_id, status, the metric, iteration, time and the first config columns."""
    wanted = ["trial_id", "status", results.metric, "training_iteration", "time_total_s"]
    columns = [c for c in wanted if c in frame.columns]
    columns += [c for c in frame.columns if str(c).startswith("config/")][:max_config]
    return columns


def top(results: Any, n: int = 10, *, sort: str | None = None, ascending: bool | None = None,
        columns: list[str] | None = None) -> pd.DataFrame:
    """The ``n`` best trials as a DataFrame (best first).

    Args:
        results: A ``raysweep.Results``.
        n: How many rows.
        sort: Column to sort by (default the experiment's metric); ``C`` means ``config/C``.
        ascending: Sort direction (default: ascending for a ``min`` metric, descending
            for ``max``; ascending for any other column).
        columns: Columns to keep (default: id, status, metric, iteration, time, config).

    Returns:
        A DataFrame of at most ``n`` rows; trials that failed or lack the value come last.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"top: n must be an int >= 1, got {n!r}")
    frame = trials_frame(results)
    if frame.empty:
        return frame
    sort = results.metric if sort is None else resolve_columns(frame, [sort])[0]
    if ascending is None:
        ascending = Goal.of(results.metric, results.mode).minimize \
            if sort == results.metric else True
    if sort in frame.columns:
        key = _sort_key(results, frame, sort)
        if key.notna().any():
            order = key.sort_values(ascending=ascending, na_position="last", kind="stable")
        else:
            order = frame[sort].astype(str).sort_values(ascending=ascending, kind="stable")
        frame = frame.loc[order.index]
    chosen = resolve_columns(frame, columns) if columns else default_columns(results, frame)
    table = frame[chosen].head(n).reset_index(drop=True)
    table.attrs.update(sort=sort, ascending=ascending)
    return table


# --------------------------------------------------------------------------------- summary
def _describe_counts(counts: dict[str, int]) -> str:
    order = ("TERMINATED", "ERROR", "RUNNING", "PAUSED", "PENDING")
    keys = [k for k in order if k in counts] + [k for k in counts if k not in order]
    return ", ".join(f"{counts[k]} {k.lower()}" for k in keys)


def _value(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def summary(results: Any, n: int = 5) -> str:
    """A few lines of text: settings, counts, the best trial and the top ``n``."""
    settings = results.settings or {}
    name = settings.get("name") or (results.path or "experiment")
    lines = [f"experiment {name}" + (f"  ({results.path})" if results.path else "")]
    facts = [f"metric {results.metric} ({results.mode})"]
    for key in ("search", "scheduler", "seed"):
        if settings.get(key) is not None:
            facts.append(f"{key} {settings[key]}")
    lines.append("  " + " · ".join(facts))
    counts = results.status_counts()
    plural = "trial" if len(results) == 1 else "trials"
    lines.append(f"  {len(results)} {plural}" +
                 (f": {_describe_counts(counts)}" if counts else ""))
    best = results.best_trial
    if best is None:
        lines.append(f"  no trial has a finite {results.metric} yet")
    else:
        value = results.best_result.get(results.metric)
        lines.append(f"  best {results.metric} = {_value(value)} (trial {best.trial_id}, "
                     f"iteration {results.best_result.get('training_iteration', best.iteration)})")
        config = ", ".join(f"{k}={_value(v)}" for k, v in _flatten_dict(best.config).items())
        if config:  # an empty space has nothing to show
            lines.append(f"    {config}")
    errors = results.errors
    if errors:
        last_id, last_text = list(errors.items())[-1]
        lines.append(f"  {len(errors)} failed; last (trial {last_id}): {_first_line(last_text)}")
    if len(results) and n > 0:
        table = top(results, n)
        lines.append(f"  top {min(n, len(table))}:")
        text = table.to_string(index=False, float_format=lambda v: f"{v:.6g}")
        lines.extend("    " + line for line in text.splitlines())
    return "\n".join(lines)


def repr_html(results: Any, n: int = 10) -> str:
    """A small HTML block for notebooks: counts, best, and the top ``n`` trials."""
    counts = results.status_counts()
    head = (f"<b>raysweep Results</b>: {len(results)} trials"
            + (f" ({html.escape(_describe_counts(counts))})" if counts else ""))
    best = results.best_trial
    if best is not None:
        value = results.best_result.get(results.metric)
        head += (f" · best <b>{html.escape(results.metric)} = {html.escape(_value(value))}</b>"
                 f" (trial {html.escape(best.trial_id)})")
    body = ""
    if len(results):
        table = top(results, n)
        body = table.to_html(index=False, border=0, float_format=lambda v: f"{v:.6g}",
                             na_rep="", escape=True)
        if len(results) > n:
            body += f"<small>best {n} of {len(results)} by {html.escape(results.metric)}</small>"
    return f"<div>{head}{body}</div>"
