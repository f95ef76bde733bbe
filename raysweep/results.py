"""Results: DataFrames and best-of queries over an experiment's trials.

Built either by ``raysweep.run`` from the live trial table or by ``raysweep.load`` from an
experiment directory (no Ray needed). The journal is the source of truth; its one fold,
``raysweep.journal.JournalState``, turns its events into trial records, for ``load`` and for
restore alike.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from raysweep import storage
from raysweep._goal import METRIC_RESULT, Goal, check_scope, last_metric_result
from raysweep.journal import (  # noqa: F401 - re-exported: the fold lives in raysweep.journal
    JournalState,
    fold,
    metric_loss,
    report_history,
)
from raysweep.trial import Trial, TrialStatus

__all__ = ["METRIC_RESULT", "JournalState", "Results", "last_metric_result", "load",
           "metric_loss", "read_settings", "trials_from_journal"]

_RESERVED = ("training_iteration", "time_total_s", "time_this_iter_s")


def trials_from_journal(path: str, metric: str, mode: str) -> JournalState:
    """The journal of the experiment at ``path`` folded into its trials."""
    return fold(storage.read_journal(path), metric, mode)


class Results:
    """Every trial of an experiment, with DataFrames and best-of queries.

    Example:
        >>> import raysweep as rs
        >>> results = rs.run(lambda c: (c["x"] - 3) ** 2, {"x": rs.uniform(-10, 10)},
        ...                  metric="loss", mode="min", num_samples=20)  # doctest: +SKIP
        >>> results.best_config["x"]  # doctest: +SKIP
    """

    def __init__(self, trials: Iterable[Trial], *, metric: str, mode: str, scope: str = "last",
                 path: str | None = None, settings: dict[str, Any] | None = None,
                 schedules: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self._trials: dict[str, Trial] = {t.trial_id: t for t in trials}
        self.metric = metric
        self.mode = mode
        self.scope = scope
        self.path = path
        self.settings = settings or {}
        self._goal = Goal.of(metric, mode)  # the rule for "better"
        self._schedules = schedules or {}

    # -- basics ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._trials)

    def __iter__(self) -> Iterator[Trial]:
        """The trial records, in creation order (as ``Ray Tune``'s ``ResultGrid`` iterates)."""
        return iter(list(self._trials.values()))

    def __getitem__(self, key: int | str) -> Trial:
        """A trial by position (``results[0]``, ``results[-1]``) or by id (``results["00003"]``)."""
        if isinstance(key, str):
            try:
                return self._trials[key]
            except KeyError:
                raise KeyError(f"no trial {key!r} in this experiment") from None
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
            raise TypeError(f"Results: index with a position or a trial id, got "
                            f"{type(key).__name__}")
        return self.trials[key]

    def __repr__(self) -> str:
        counts = self.status_counts()
        text = ", ".join(f"{k}={v}" for k, v in counts.items())
        best = self._best_trial()
        best_text = "" if best is None else (
            f", best {self.metric}={self._representative(best).get(self.metric)!r}")
        return f"Results({len(self)} trials: {text}{best_text})"

    @property
    def trials(self) -> list[Trial]:
        """The trial records, in creation order."""
        return list(self._trials.values())

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for trial in self._trials.values():
            counts[trial.status.value] = counts.get(trial.status.value, 0) + 1
        return counts

    @property
    def errors(self) -> dict[str, str]:
        """Traceback text of every trial that ended in ERROR, by trial id."""
        return {t.trial_id: t.error or "" for t in self._trials.values()
                if t.status is TrialStatus.ERROR}

    # -- best-of --------------------------------------------------------------------------
    def _representative(self, trial: Trial, scope: str | None = None) -> dict[str, Any]:
        return self._goal.result_of(trial, scope or self.scope)

    def _best_trial(self, metric: str | None = None, mode: str | None = None,
                    scope: str | None = None) -> Trial | None:
        goal = self._goal if metric in (None, "", self.metric) and mode in (None, self.mode) \
            else Goal.of(metric or self.metric, self.mode if mode is None else mode)
        scope = check_scope(scope or self.scope)
        if scope == "all" and goal != self._goal:
            # Each trial's best_result is its best under the experiment's goal, not this one:
            # read its history instead.
            return goal.best(self._trials.values(), key=lambda trial: math.inf
                             if trial.status is TrialStatus.ERROR else
                             min(map(goal.loss, self._trial_history(trial)), default=math.inf))
        if goal.metric != self.metric:  # only the experiment's metric is kept aside
            return goal.best(self._trials.values(), key=lambda trial: math.inf
                             if trial.status is TrialStatus.ERROR else
                             goal.loss(trial.last_result))
        return goal.best(self._trials.values(), scope)

    def get_best(self, metric: str | None = None, mode: str | None = None,
                 scope: str | None = None) -> Trial | None:
        """The best trial (None when no trial reported a finite metric)."""
        return self._best_trial(metric, mode, scope)

    @property
    def best_trial(self) -> Trial | None:
        """The best trial under the experiment's metric, mode and scope."""
        return self._best_trial()

    @property
    def best_config(self) -> dict[str, Any] | None:
        """Config of the best trial (None when no trial reported a finite metric)."""
        trial = self._best_trial()
        return None if trial is None else trial.config

    @property
    def best_result(self) -> dict[str, Any] | None:
        """The best trial's result: its last one (``scope="last"``) or its best one."""
        trial = self._best_trial()
        return None if trial is None else dict(self._representative(trial))

    @property
    def best_checkpoint(self) -> Any:
        """The best trial's latest checkpoint, loaded (None if it has none)."""
        trial = self._best_trial()
        return None if trial is None else self.get_checkpoint(trial.trial_id)

    def get_checkpoint(self, trial_id: str, iteration: int | None = None) -> Any:
        """Load a trial's checkpoint (its latest by default) from the experiment directory."""
        if trial_id not in self._trials:
            raise KeyError(f"no trial {trial_id!r} in this experiment")
        if self.path is None:
            return None
        available = storage.list_checkpoints(self.path, trial_id)
        if iteration is None:
            if not available:
                return None
            iteration = available[-1]
        elif iteration not in available:
            raise KeyError(f"trial {trial_id} has no checkpoint at iteration {iteration!r}; "
                           f"it has {available or 'none'}")
        return storage.load_checkpoint(self.path, trial_id, iteration)

    def pbt_schedule(self, trial_id: str) -> list[dict[str, Any]]:
        """A trial's config over time: ``[{"training_iteration", "config", "parent_id"}]``."""
        if trial_id not in self._trials:
            raise KeyError(f"no trial {trial_id!r} in this experiment")
        schedule = self._schedules.get(trial_id)
        if schedule:
            return [dict(entry) for entry in schedule]
        return [{"training_iteration": 0, "config": self._trials[trial_id].config,
                 "parent_id": None}]

    # -- tables ---------------------------------------------------------------------------
    def dataframe(self, *, flatten: bool = True, include_history: bool = False,
                  scope: str | None = None) -> pd.DataFrame:
        """One row per trial: id, status, metrics, ``config/<name>`` columns, times, error.

        Metrics come from each trial's last result (``scope="last"``) or from the result
        where it was best (``scope="all"``), the same rule as ``best_result``.
        ``flatten=False`` gives one ``config`` dict column; ``include_history=True`` one row
        per report (with the status and config of its trial).
        """
        from raysweep import _present

        return _present.trials_frame(self, flatten=flatten, include_history=include_history,
                                     scope=scope)

    def top(self, n: int = 10, *, sort: str | None = None, ascending: bool | None = None,
            columns: list[str] | None = None) -> pd.DataFrame:
        """The ``n`` best trials (by the metric, or ``sort``) as a small DataFrame."""
        from raysweep import _present

        return _present.top(self, n, sort=sort, ascending=ascending, columns=columns)

    def summary(self, n: int = 5) -> str:
        """A short text summary: counts by status, the best trials, the first error."""
        from raysweep import _present

        return _present.summary(self, n)

    def _repr_html_(self) -> str:
        from raysweep import _present

        return _present.repr_html(self)

    def _trial_history(self, trial: Trial) -> list[dict[str, Any]]:
        frame = self._history_frame()
        if frame is None or frame.empty:
            return [trial.last_result] if trial.last_result else []
        sub = frame[frame["trial_id"] == trial.trial_id]
        return sub.drop(columns=["trial_id"]).to_dict("records")

    def _history_frame(self) -> pd.DataFrame | None:
        if self.path is None or not os.path.isdir(self.path):
            return None
        cache = getattr(self, "_history_cache", None)
        if cache is not None:
            return cache
        rows = report_history(storage.read_journal(self.path))
        frame = pd.DataFrame(rows)
        if not frame.empty:
            front = ["trial_id", "training_iteration"]
            frame = frame[front + [c for c in frame.columns if c not in front]]
        self._history_cache = frame
        return frame

    def history(self) -> pd.DataFrame:
        """One row per report: ``trial_id``, ``training_iteration``, metrics, times."""
        frame = self._history_frame()
        if frame is None:
            rows = []
            for trial in self._trials.values():
                if trial.last_result:
                    rows.append({"trial_id": trial.trial_id, **trial.last_result})
            frame = pd.DataFrame(rows)
        if frame.empty and not len(frame.columns):  # no report yet: still the usual columns
            return pd.DataFrame(columns=["trial_id", "training_iteration", self.metric])
        return frame.copy()


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else text


def read_settings(path: str) -> dict[str, Any]:
    """``experiment.json`` of the experiment at ``path``, checked enough to be used.

    Raises:
        FileNotFoundError: ``path`` is not a raysweep experiment directory.
        ValueError: its ``experiment.json`` is not valid JSON or lacks the metric or mode.
    """
    if not os.path.isdir(path):
        what = "a file" if os.path.exists(path) else "no such directory"
        raise FileNotFoundError(f"{path!r} is not a raysweep experiment directory ({what})")
    file = os.path.join(path, storage.EXPERIMENT_FILE)
    try:
        settings = storage.read_settings(path)
    except ValueError as exc:  # json.JSONDecodeError, a UnicodeDecodeError
        raise ValueError(f"{file}: not a valid raysweep experiment file ({exc})") from None
    if not isinstance(settings, dict) or not isinstance(settings.get("metric"), str) or \
            settings.get("mode") not in ("min", "max"):
        raise ValueError(f"{file}: not a raysweep experiment file (it needs a 'metric' string "
                         f"and a 'mode' of 'min' or 'max')")
    return settings


def load(path: str | os.PathLike[str]) -> Results:
    """Read an experiment directory back into ``Results`` (no Ray needed).

    Example:
        >>> import raysweep as rs
        >>> results = rs.load("~/raysweep_results/my_sweep")  # doctest: +SKIP
        >>> results.dataframe().head()  # doctest: +SKIP
    """
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    settings = read_settings(path)
    state = trials_from_journal(path, settings["metric"], settings["mode"])
    return Results(state.trials.values(), metric=settings["metric"], mode=settings["mode"],
                   scope=settings.get("scope", "last"), path=path, settings=settings,
                   schedules=state.schedules)
