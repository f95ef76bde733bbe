"""Hyperband, synchronous (Li et al., 2017, "Hyperband: A Novel Bandit-Based Approach to
Hyperparameter Optimization").

Trials are dealt into brackets of successive halving. Bracket ``s`` (``s_max`` down to 0,
then again) holds ``n = ceil((s_max + 1) / (s + 1) * eta**s)`` trials with rungs at
``max_t * eta**(i - s)`` for ``i = 0..s``. A trial that reaches its rung is PAUSED until
every member of the rung has reported there (or ended); then the best ``1/eta`` resume from
their checkpoints, so no iteration is repeated, and the rest stay paused (they end with the
experiment). The last member to arrive is judged on the spot (CONTINUE or STOP), saving
its worker a pause.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from raysweep.decisions import NEW, WAIT, Decision, Launch, Resume
from raysweep.schedulers._common import (
    check_positive,
    check_reduction_factor,
    check_time_attr,
    iterations,
    reached,
    result_time,
    result_value,
)
from raysweep.schedulers.base import Scheduler
from raysweep.trial import Trial, TrialStatus


@dataclass
class Bracket:
    """One bracket of successive halving (plain data; ``Hyperband.brackets_`` lists them)."""

    s: int
    size: int  # trials the bracket takes at its first rung
    milestones: list[float]  # rung budgets; the last one is max_t
    members: list[str] = field(default_factory=list)  # first-rung members, in order added
    recorded: list[dict[str, float]] = field(default_factory=list)  # per rung: id -> loss
    promoted: list[list[str] | None] = field(default_factory=list)  # per rung, once decided
    launched: list[list[str]] = field(default_factory=list)  # promoted ids already restarted

    def __post_init__(self) -> None:
        rungs = len(self.milestones)
        self.recorded = self.recorded or [{} for _ in range(rungs)]
        self.promoted = self.promoted or [None] * rungs
        self.launched = self.launched or [[] for _ in range(rungs)]

    @property
    def full(self) -> bool:
        return len(self.members) >= self.size

    def rung_members(self, rung: int) -> list[str]:
        if rung == 0:
            return self.members
        return self.promoted[rung - 1] or []


class Hyperband(Scheduler):
    """Synchronous Hyperband: successive halving in brackets, pausing trials at each rung.

    Args:
        time_attr: The result key that measures progress (a budget).
        max_t: The largest budget; the smallest is ``max_t / reduction_factor**s_max``
            with ``s_max = floor(log(max_t) / log(reduction_factor))`` (1 when ``max_t`` is a
            power of ``reduction_factor``).
        reduction_factor: ``eta``: each rung keeps the best ``1/eta`` of its trials.

    Example:
        >>> import raysweep as rs
        >>> sched = rs.schedulers.Hyperband(max_t=9, reduction_factor=3)
        >>> [(b.size, b.milestones) for b in sched.plan()]
        [(9, [1, 3, 9]), (5, [3, 9]), (3, [9])]
    """

    name = "hyperband"
    pauses = True
    _owner = "Hyperband"

    def __init__(self, time_attr: str = "training_iteration", max_t: float = 81,
                 reduction_factor: float = 3) -> None:
        self.time_attr = check_time_attr(self._owner, time_attr)
        self.max_t = check_positive(self._owner, "max_t", max_t)
        self.reduction_factor = check_reduction_factor(self._owner, reduction_factor)
        self.s_max = max(0, math.floor(math.log(max_t) / math.log(reduction_factor) + 1e-9))

    def plan(self) -> list[Bracket]:
        """One Hyperband iteration's empty brackets, ``s_max`` first."""
        return [self._new_bracket(s) for s in range(self.s_max, -1, -1)]

    def all_milestones(self) -> list[float]:
        """Every rung budget of every bracket, sorted."""
        return sorted({m for b in self.plan() for m in b.milestones})

    # -- protocol --------------------------------------------------------------------------
    def setup(self, metric: str, mode: str, seed: Any) -> None:
        super().setup(metric, mode, seed)
        self.brackets_: list[Bracket] = []
        self.position_: dict[str, tuple[int, int]] = {}  # trial_id -> (bracket, rung)
        self.ended_: set[str] = set()

    def on_trial_add(self, trial: Trial) -> None:
        self._assign(trial.trial_id)

    def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        t = result_time(self._owner, result, self.time_attr)
        result_value(self._owner, result, self.metric, "metric")
        b, rung = self._assign(trial.trial_id)
        bracket = self.brackets_[b]
        if reached(t, self.max_t) and rung < len(bracket.milestones) - 1:
            rung_reached = True  # overshot max_t before its last rung: judged here, then done
        else:
            rung_reached = reached(t, bracket.milestones[rung])
        if not rung_reached:
            return Decision.CONTINUE
        if trial.trial_id not in bracket.recorded[rung]:
            bracket.recorded[rung][trial.trial_id] = self.loss(result)
        if rung == len(bracket.milestones) - 1 or reached(t, self.max_t):
            return Decision.STOP
        if not self._rung_complete(bracket, rung, exhausted=False):
            return Decision.PAUSE
        promoted = self._promote(bracket, rung)
        if trial.trial_id in promoted:
            bracket.launched[rung].append(trial.trial_id)
            self.position_[trial.trial_id] = (b, rung + 1)
            return Decision.CONTINUE
        return Decision.STOP

    def on_trial_complete(self, trial: Trial) -> None:
        self.ended_.add(trial.trial_id)

    def next_launch(self, trials: Mapping[str, Trial], *, exhausted: bool) -> Launch:
        for b, bracket in enumerate(self.brackets_):
            for rung in range(len(bracket.milestones) - 1):
                promoted = bracket.promoted[rung]
                if promoted is None:
                    if not self._rung_complete(bracket, rung, exhausted=exhausted):
                        continue
                    promoted = self._ranking(bracket, rung)
                for trial_id in promoted:
                    trial = trials.get(trial_id)
                    if (trial_id in bracket.launched[rung] or trial is None
                            or trial.status != TrialStatus.PAUSED):
                        continue
                    # Only now, when a launch is returned, does the state change.
                    self._promote(bracket, rung)
                    bracket.launched[rung].append(trial_id)
                    self.position_[trial_id] = (b, rung + 1)
                    return Resume(trial_id)
        return WAIT if exhausted else NEW

    def blocking_iterations(self, trial: Trial) -> tuple[int, ...] | None:
        if self.time_attr != "training_iteration":
            return None
        position = getattr(self, "position_", {}).get(trial.trial_id)
        if position is None:
            return iterations(self.all_milestones())
        bracket, rung = position
        if trial.trial_id in self.brackets_[bracket].recorded[rung]:
            return None  # restarted after a restore before its PAUSE/STOP landed: judge at once
        return iterations(self.brackets_[bracket].milestones)

    def state_dict(self) -> dict[str, Any]:
        return {"brackets": [
            {"s": b.s, "members": len(b.members),
             "rungs": {str(m): len(r) for m, r in zip(b.milestones, b.recorded)}}
            for b in self.brackets_]}

    # -- internals -------------------------------------------------------------------------
    def _new_bracket(self, s: int) -> Bracket:
        eta = self.reduction_factor
        size = math.ceil((self.s_max + 1) / (s + 1) * eta ** s - 1e-9)
        milestones = []
        for i in range(s + 1):
            value = self.max_t * eta ** (i - s)
            rounded = max(1, round(value))
            if self.time_attr == "training_iteration" or abs(value - rounded) < 1e-9 * value:
                value = rounded  # whole iterations
            milestones.append(value)
        return Bracket(s=s, size=size, milestones=milestones)

    def _assign(self, trial_id: str) -> tuple[int, int]:
        """The trial's (bracket, rung); a new trial joins the newest bracket that has room."""
        position = self.position_.get(trial_id)
        if position is None:
            if not self.brackets_ or self.brackets_[-1].full:
                previous = self.brackets_[-1].s if self.brackets_ else 0
                s = self.s_max if previous == 0 else previous - 1
                self.brackets_.append(self._new_bracket(s))
            self.brackets_[-1].members.append(trial_id)
            position = self.position_[trial_id] = (len(self.brackets_) - 1, 0)
        return position

    def _rung_complete(self, bracket: Bracket, rung: int, *, exhausted: bool) -> bool:
        """Every member has reported at the rung or ended, and no more members can come."""
        if rung == 0 and not (bracket.full or exhausted):
            return False
        if rung > 0 and bracket.promoted[rung - 1] is None:
            return False
        members = bracket.rung_members(rung)
        recorded = bracket.recorded[rung]
        return bool(members) and all(m in recorded or m in self.ended_ for m in members)

    def _ranking(self, bracket: Bracket, rung: int) -> list[str]:
        """The best ``max(1, floor(m / eta))`` of the ``m`` trials recorded at the rung."""
        recorded = bracket.recorded[rung]
        order = {trial_id: i for i, trial_id in enumerate(bracket.rung_members(rung))}
        keep = max(1, math.floor(len(recorded) / self.reduction_factor + 1e-9)) if recorded else 0
        # A trial that ended after reporting at the rung (it overshot max_t) cannot go on.
        ranked = sorted((tid for tid in recorded if tid not in self.ended_),
                        key=lambda tid: (recorded[tid], order.get(tid, len(order))))
        return ranked[:keep]

    def _promote(self, bracket: Bracket, rung: int) -> list[str]:
        """Freeze (once) and return the rung's promoted trials."""
        promoted = bracket.promoted[rung]
        if promoted is None:
            promoted = bracket.promoted[rung] = self._ranking(bracket, rung)
            if rung == 0 and not bracket.full:  # decided short (no new trial could come):
                bracket.size = len(bracket.members)  # later trials start a new bracket
        return promoted
