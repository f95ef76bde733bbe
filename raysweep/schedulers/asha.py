"""ASHA: asynchronous successive halving (Li et al., 2018, "A System for Massively Parallel
Hyperparameter Tuning").

Every trial passes rungs at ``grace_period * reduction_factor**k``. On reaching a rung a trial
records its result there and continues only if it ranks in the top ``1/reduction_factor`` of
all results recorded at that rung so far; otherwise it stops. Nobody waits for a rung to
fill, so workers never idle. With ``brackets > 1`` trials are spread over brackets whose first
rung is later (asynchronous Hyperband), in the proportions Hyperband would use.
"""

from __future__ import annotations

import math
from typing import Any

from sortedcontainers import SortedList

from raysweep.decisions import Decision
from raysweep.schedulers._common import (
    check_positive,
    check_reduction_factor,
    check_time_attr,
    fail,
    iterations,
    reached,
    result_time,
    result_value,
)
from raysweep.schedulers.base import Scheduler
from raysweep.trial import Trial


class ASHA(Scheduler):
    """Asynchronous successive halving: stop trials that fall behind at each rung.

    Args:
        time_attr: The result key that measures progress (a budget), e.g.
            ``"training_iteration"`` or ``"time_total_s"``.
        max_t: Trials are stopped once ``time_attr`` reaches this.
        grace_period: The first rung: no trial is stopped before this much progress.
        reduction_factor: Only the top ``1/reduction_factor`` of a rung continues, and rungs
            are ``reduction_factor`` apart.
        brackets: Number of brackets (1 is plain ASHA; more hedges against a too small
            ``grace_period`` the way Hyperband does).

    Example:
        >>> import raysweep as rs
        >>> sched = rs.schedulers.ASHA(max_t=27, grace_period=1, reduction_factor=3)
        >>> sched.milestones(0)
        [1, 3, 9]
    """

    name = "asha"

    def __init__(self, time_attr: str = "training_iteration", max_t: float = 100,
                 grace_period: float = 1, reduction_factor: float = 3,
                 brackets: int = 1) -> None:
        owner = "ASHA"
        self.time_attr = check_time_attr(owner, time_attr)
        self.max_t = check_positive(owner, "max_t", max_t)
        self.grace_period = check_positive(owner, "grace_period", grace_period)
        if max_t < grace_period:
            raise ValueError(
                f"ASHA: max_t must be >= grace_period, got max_t={max_t!r} < "
                f"grace_period={grace_period!r}")
        self.reduction_factor = check_reduction_factor(owner, reduction_factor)
        rungs = _rung_milestones(grace_period, max_t, reduction_factor)
        if not isinstance(brackets, int) or isinstance(brackets, bool) or brackets < 1:
            raise fail(owner, "brackets", "an int >= 1", brackets)
        if brackets > len(rungs) + 1:
            raise ValueError(
                f"ASHA: brackets must be <= {len(rungs) + 1} (the number of rungs between "
                f"grace_period={grace_period!r} and max_t={max_t!r}, plus one), got {brackets!r}")
        self.brackets = brackets
        # Bracket b starts b rungs later; its rungs are the tail of bracket 0's.
        self._milestones: list[list[float]] = [rungs[b:] for b in range(brackets)]
        # Hyperband's share of trials per bracket: rf**r / (r + 1) for a bracket of r rungs.
        self._weights = [reduction_factor ** len(m) / (len(m) + 1) for m in self._milestones]
        self._blocking: dict[int | None, tuple[int, ...]] = {}
        # on_result compares with these: reached(t, m) is t >= m * (1 - 1e-9)
        self._thresholds = [[m * (1 - 1e-9) for m in ms] for ms in self._milestones]

    def milestones(self, bracket: int = 0) -> list[float]:
        """The rung budgets of ``bracket`` (below ``max_t``), in increasing order."""
        return list(self._milestones[bracket])

    # -- protocol --------------------------------------------------------------------------
    def setup(self, metric: str, mode: str, seed: Any) -> None:
        super().setup(metric, mode, seed)
        # rungs_[bracket][k]: trial_id -> loss recorded at milestone k of that bracket
        self.rungs_: list[list[dict[str, float]]] = [
            [{} for _ in m] for m in self._milestones]
        # the same losses, sorted: ranking a result is O(log n), not a scan of the rung
        self._sorted: list[list[SortedList]] = [
            [SortedList() for _ in m] for m in self._milestones]
        self.bracket_of_: dict[str, int] = {}
        self.stopped_: set[str] = set()
        self._bracket_counts = [0] * self.brackets

    def on_trial_add(self, trial: Trial) -> None:
        self._assign(trial.trial_id)

    def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        t = result_time("ASHA", result, self.time_attr)
        if self.metric not in result:
            result_value("ASHA", result, self.metric, "metric")  # raises MissingMetric
        trial_id = trial.trial_id
        if trial_id in self.stopped_:
            return Decision.STOP  # a decision sticks, e.g. when a restore re-runs the trial
        loss = self.loss(result)
        bracket = self.bracket_of_.get(trial_id)
        if bracket is None:
            bracket = self._assign(trial_id)
        decision = Decision.CONTINUE
        # reached(t, milestone), with each milestone's slack computed once
        for threshold, rung, ranked in zip(self._thresholds[bracket], self.rungs_[bracket],
                                           self._sorted[bracket]):
            if not t >= threshold:  # (not t < threshold: a NaN t reaches nothing)
                break
            if trial_id in rung:
                continue  # recorded on an earlier pass (e.g. before a restart)
            rung[trial_id] = loss
            ranked.add(loss)
            if not self._in_top(loss, ranked):
                decision = Decision.STOP
        if reached(t, self.max_t):
            decision = Decision.STOP
        if decision == Decision.STOP:
            self.stopped_.add(trial_id)
        return decision

    def blocking_iterations(self, trial: Trial) -> tuple[int, ...] | None:
        if self.time_attr != "training_iteration":
            return None
        if trial.trial_id in getattr(self, "stopped_", ()):
            return None  # restarted after a restore before its STOP landed: stop it at once
        bracket = self.bracket_of_.get(trial.trial_id) if hasattr(self, "bracket_of_") else None
        blocking = self._blocking.get(bracket)
        if blocking is None:  # the same few tuples for every trial: computed once
            milestones = (self._milestones[bracket] if bracket is not None
                          else sorted({m for ms in self._milestones for m in ms}))
            blocking = self._blocking[bracket] = iterations([*milestones, self.max_t])
        return blocking

    def state_dict(self) -> dict[str, Any]:
        return {"brackets": [
            {str(m): len(rung) for m, rung in zip(ms, rungs)}
            for ms, rungs in zip(self._milestones, self.rungs_)]}

    # -- internals -------------------------------------------------------------------------
    def _assign(self, trial_id: str) -> int:
        """The trial's bracket, chosen on first sight by weighted round robin."""
        bracket = self.bracket_of_.get(trial_id)
        if bracket is None:
            bracket = min(range(self.brackets),
                          key=lambda b: ((self._bracket_counts[b] + 1) / self._weights[b], b))
            self._bracket_counts[bracket] += 1
            self.bracket_of_[trial_id] = bracket
        return bracket

    def _in_top(self, loss: float, ranked: SortedList) -> bool:
        """Whether ``loss`` ranks in the top ``ceil(n / reduction_factor)`` of the rung
        (``ranked``: the rung's losses, ``loss`` among them, sorted)."""
        keep = math.ceil(len(ranked) / self.reduction_factor - 1e-9)
        return ranked.bisect_left(loss) < keep  # bisect_left: how many are strictly better


def _rung_milestones(grace_period: float, max_t: float, reduction_factor: float) -> list[float]:
    """``grace_period * reduction_factor**k`` for every k that stays below ``max_t``."""
    milestones = []
    k = 0
    while not reached(grace_period * reduction_factor ** k, max_t):
        value = grace_period * reduction_factor ** k
        milestones.append(int(value) if float(value).is_integer() else value)
        k += 1
    return milestones
