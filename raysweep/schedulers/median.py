"""The median stopping rule (Golovin et al., 2017, "Google Vizier").

A trial is stopped at step ``t`` when its best result so far is strictly worse than the median,
over completed trials, of their running averages up to ``t`` (the mean of each completed
trial's results with ``time_attr <= t``). The rule applies from ``t >= grace_period`` and once
at least ``min_samples_required`` completed trials have results up to ``t``.
"""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np

from raysweep.decisions import Decision
from raysweep.schedulers._common import (
    check_positive,
    check_time_attr,
    fail,
    is_int,
    is_number,
    result_time,
    result_value,
)
from raysweep.schedulers.base import Scheduler
from raysweep.trial import Trial


class MedianStopping(Scheduler):
    """Stop trials whose best result is worse than the median of completed trials' averages.

    Args:
        time_attr: The result key that measures progress.
        grace_period: No trial is stopped before ``time_attr`` reaches this.
        min_samples_required: Completed trials needed before the rule applies.
        min_time_slice: Judge a trial at most once every this much ``time_attr`` (0: every
            result), to save work when trials report very often.

    Example:
        >>> import raysweep as rs
        >>> sched = rs.schedulers.MedianStopping(grace_period=5, min_samples_required=3)
    """

    name = "median"

    def __init__(self, time_attr: str = "training_iteration", grace_period: float = 1,
                 min_samples_required: int = 3, min_time_slice: float = 0) -> None:
        owner = "MedianStopping"
        self.time_attr = check_time_attr(owner, time_attr)
        self.grace_period = check_positive(owner, "grace_period", grace_period)
        if not is_int(min_samples_required) or min_samples_required < 1:
            raise fail(owner, "min_samples_required", "an int >= 1", min_samples_required)
        self.min_samples_required = int(min_samples_required)
        if not is_number(min_time_slice) or min_time_slice < 0:
            raise fail(owner, "min_time_slice", "a number >= 0", min_time_slice)
        self.min_time_slice = min_time_slice

    def setup(self, metric: str, mode: str, seed: Any) -> None:
        super().setup(metric, mode, seed)
        self.history_: dict[str, tuple[list[float], list[float]]] = {}  # id -> (times, losses)
        self.completed_: dict[str, tuple[list[float], np.ndarray]] = {}  # times, cumsum
        self.best_: dict[str, float] = {}
        self.last_judged_: dict[str, float] = {}
        self.stopped_: set[str] = set()

    def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        t = result_time("MedianStopping", result, self.time_attr)
        result_value("MedianStopping", result, self.metric, "metric")
        if trial.trial_id in self.stopped_:
            return Decision.STOP  # a decision sticks, e.g. when a restore re-runs the trial
        loss = self.loss(result)
        times, losses = self.history_.setdefault(trial.trial_id, ([], []))
        times.append(t)
        losses.append(loss)
        best = self.best_[trial.trial_id] = min(loss, self.best_.get(trial.trial_id, loss))
        if t < self.grace_period:
            return Decision.CONTINUE
        last = self.last_judged_.get(trial.trial_id)
        if last is not None and t - last < self.min_time_slice:
            return Decision.CONTINUE
        self.last_judged_[trial.trial_id] = t
        median = self.median_running_average(t, exclude=trial.trial_id)
        if median is not None and best > median:
            self.stopped_.add(trial.trial_id)
            return Decision.STOP
        return Decision.CONTINUE

    def on_trial_complete(self, trial: Trial) -> None:
        times, losses = self.history_.get(trial.trial_id, ([], []))
        if not times:
            return
        order = sorted(range(len(times)), key=times.__getitem__)
        self.completed_[trial.trial_id] = (
            [times[i] for i in order], np.cumsum([losses[i] for i in order]))

    def blocking_iterations(self, trial: Trial) -> None:
        return None  # any result may stop a trial

    def median_running_average(self, t: float, exclude: str | None = None) -> float | None:
        """The median of completed trials' running average losses up to ``t``, or None
        when fewer than ``min_samples_required`` completed trials have results by then."""
        averages = []
        for trial_id, (times, cumsum) in self.completed_.items():
            if trial_id == exclude:
                continue
            count = bisect.bisect_right(times, t)
            if count:
                averages.append(cumsum[count - 1] / count)
        if len(averages) < self.min_samples_required:
            return None
        return float(np.median(averages))

    def state_dict(self) -> dict[str, Any]:
        return {"completed": len(self.completed_), "seen": len(self.history_)}
