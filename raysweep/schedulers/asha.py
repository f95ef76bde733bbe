"""ASHA: asynchronous successive halving (Li et al., 2018, "A System for Massively Parallel
Hyperparameter Tuning").

Every trial passes rungs at ``grace_period * reduction_factor**k``. On reaching a rung a trial
records its result there and continues only if it ranks in the top ``1/reduction_factor`` of
all results recorded at that rung so far; otherwise it stops. Nobody waits for a rung to
fill, so workers never idle. With ``brackets > 1`` trials are spread over brackets whose first
rung is later (asynchronous Hyperband), in the proportions Hyperband would use.
"""

from __future__ import annotations

import heapq
import math
from typing import Any

from raysweep.decisions import Decision
from raysweep.schedulers._common import (
    check_positive,
    check_reduction_factor,
    check_time_attr,
    fail,
    is_int,
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
        if not is_int(brackets) or brackets < 1:
            raise fail(owner, "brackets", "an int >= 1", brackets)
        brackets = int(brackets)
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
        # the same losses split into the kept fraction and the rest: judging is O(log n)
        self._ranked: list[list[_KeptFraction]] = [
            [_KeptFraction(self.reduction_factor) for _ in m] for m in self._milestones]
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
                                           self._ranked[bracket]):
            if not t >= threshold:  # (not t < threshold: a NaN t reaches nothing)
                break
            if trial_id in rung:
                continue  # recorded on an earlier pass (e.g. before a restart)
            rung[trial_id] = loss
            if not ranked.add(loss):
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


class _KeptFraction:
    """A rung's losses as two heaps: the best ``ceil(n / reduction_factor)`` and the rest.

    ``add`` answers ASHA's question for a new loss: is it in the top fraction of the rung, that
    is, are fewer than ``ceil(n / reduction_factor)`` of the ``n`` losses (it included)
    strictly better? That holds exactly when it is no worse than the worst kept loss, the
    largest of the ``keep`` smallest. Each add moves at most one loss between the heaps:
    O(log n) in C, where a sorted list would pay for ranking in Python.
    """

    __slots__ = ("_kept", "_rest", "_reduction_factor")

    def __init__(self, reduction_factor: float) -> None:
        self._kept: list[float] = []  # negated: a max-heap of the kept (smallest) losses
        self._rest: list[float] = []  # a min-heap of the others
        self._reduction_factor = reduction_factor

    def __len__(self) -> int:
        return len(self._kept) + len(self._rest)

    def __eq__(self, other: object) -> bool:  # same losses added in the same order
        if not isinstance(other, _KeptFraction):
            return NotImplemented
        return (self._kept, self._rest, self._reduction_factor) == \
            (other._kept, other._rest, other._reduction_factor)

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"_KeptFraction(kept={len(self._kept)}, rest={len(self._rest)})"

    def add(self, loss: float) -> bool:
        """Record ``loss``; return whether it ranks in the kept fraction."""
        kept, rest = self._kept, self._rest
        keep = math.ceil((len(kept) + len(rest) + 1) / self._reduction_factor - 1e-9)
        grows = keep > len(kept)
        if kept and loss < -kept[0]:  # better than the worst kept loss: it is kept
            if grows:
                heapq.heappush(kept, -loss)
            else:
                heapq.heappush(rest, -heapq.heapreplace(kept, -loss))
            return True
        if grows:  # the best of the others (it among them) joins the kept
            heapq.heappush(kept, -heapq.heappushpop(rest, loss))
        else:
            heapq.heappush(rest, loss)
        return loss <= -kept[0]


def _rung_milestones(grace_period: float, max_t: float, reduction_factor: float) -> list[float]:
    """``grace_period * reduction_factor**k`` for every k that stays below ``max_t``."""
    milestones = []
    k = 0
    while not reached(grace_period * reduction_factor ** k, max_t):
        value = grace_period * reduction_factor ** k
        milestones.append(int(value) if float(value).is_integer() else value)
        k += 1
    return milestones
