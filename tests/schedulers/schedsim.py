"""A tiny deterministic stand-in for the controller, to drive schedulers without Ray.

It follows the protocol of ``raysweep/schedulers/base.py``: ``next_launch`` whenever a slot is
free, ``on_trial_add`` for new trials, ``on_result`` for every report (after updating
``trial.iteration`` and ``trial.last_result``), ``on_trial_complete`` when a trial ends.
Every call that restore would replay is journaled with copies of the trials, so tests can
replay it into a fresh scheduler.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
from collections.abc import Callable
from typing import Any

import numpy as np

from raysweep.decisions import Decision, Fork, New, Resume, Wait
from raysweep.trial import Trial, TrialStatus

# step(config, state, iteration) -> (metrics, new_state); state is what a checkpoint holds.
Step = Callable[[dict, Any, int], tuple[dict, Any]]


def curve_step(config: dict, state: Any, iteration: int) -> tuple[dict, Any]:
    """A learning curve: ``loss = x + 1 / iteration`` (lower ``x`` is better)."""
    return {"loss": config["x"] + 1.0 / iteration}, iteration


class ProtocolViolation(AssertionError):
    pass


class Sim:
    """Run ``configs`` through ``scheduler`` on ``slots`` virtual workers.

    Args:
        max_iter: The objective returns after this many iterations.
        fail_at: ``{trial_id: iteration}``: the objective raises instead of reporting.
        no_config_every: Every k-th NEW finds the searcher with nothing to offer (the slot
            stays empty this round): checks that NEW does not change the scheduler's state.
        checkpoint: Whether the objective checkpoints at every report.
    """

    def __init__(self, scheduler, configs: list[dict], step: Step = curve_step, *,
                 slots: int = 2, max_iter: int = 30, metric: str = "loss", mode: str = "min",
                 seed: int = 0, no_config_every: int = 0, checkpoint: bool = True,
                 extra_result: Callable[[Trial], dict] | None = None,
                 fail_at: dict[str, int] | None = None) -> None:
        self.scheduler = scheduler
        self.configs = list(configs)
        self.step = step
        self.slots = slots
        self.max_iter = max_iter
        self.no_config_every = no_config_every
        self.checkpoint = checkpoint
        self.extra_result = extra_result
        self.fail_at = dict(fail_at or {})  # trial_id -> iteration at which it errors
        self.trials: dict[str, Trial] = {}
        self.running: list[str] = []
        self.states: dict[str, Any] = {}  # trial_id -> live objective state
        self.checkpoints: dict[str, tuple[int, Any]] = {}  # trial_id -> (iteration, state)
        self.journal: list[tuple] = []
        self.decisions: list[tuple[str, int, Decision]] = []
        self.launches: list[Any] = []
        self.epochs = 0
        self.new_calls = 0
        self.time = 0.0
        scheduler.setup(metric, mode, seed)

    # -- driving ---------------------------------------------------------------------------
    def run(self, max_events: int = 100_000) -> Sim:
        for _ in range(max_events):
            self._fill_slots()
            if not self.running:
                break
            self._advance(self.running.pop(0))
        else:
            raise ProtocolViolation("the experiment did not end")
        for trial in self.trials.values():
            if trial.status == TrialStatus.PAUSED:
                trial.status = TrialStatus.TERMINATED
        return self

    def _fill_slots(self) -> None:
        skipped = False
        while len(self.running) < self.slots:
            exhausted = len(self.trials) >= len(self.configs)
            launch = self.scheduler.next_launch(self.trials, exhausted=exhausted)
            snapshot = None if isinstance(launch, Wait) else _snapshot(self.trials)
            self.launches.append(launch)
            if isinstance(launch, Wait):
                return
            if isinstance(launch, New):
                if exhausted:
                    raise ProtocolViolation("NEW returned although exhausted=True")
                self.new_calls += 1
                if self.no_config_every and self.new_calls % self.no_config_every == 0:
                    if skipped:
                        return
                    skipped = True
                    continue  # the searcher had nothing: not journaled, no trial
                self.journal.append(("launch", snapshot, exhausted, launch))
                self._create()
            elif isinstance(launch, Resume):
                self.journal.append(("launch", snapshot, exhausted, launch))
                self._resume(launch)
            elif isinstance(launch, Fork):
                self.journal.append(("launch", snapshot, exhausted, launch))
                self._fork(launch)
            else:
                raise ProtocolViolation(f"unknown launch {launch!r}")

    def _create(self) -> None:
        trial_id = f"{len(self.trials):05d}"
        trial = Trial(trial_id, copy.deepcopy(self.configs[len(self.trials)]))
        self.trials[trial_id] = trial
        self.scheduler.on_trial_add(trial)
        self.journal.append(("add", copy.deepcopy(trial)))
        self._start(trial, None)

    def _resume(self, launch: Resume) -> None:
        trial = self.trials.get(launch.trial_id)
        if trial is None or trial.status != TrialStatus.PAUSED:
            raise ProtocolViolation(f"Resume of a trial that is not PAUSED: {launch!r}")
        self._start(trial, self.checkpoints.get(trial.trial_id))

    def _fork(self, launch: Fork) -> None:
        trial = self.trials.get(launch.trial_id)
        if trial is None or trial.status != TrialStatus.PAUSED:
            raise ProtocolViolation(f"Fork of a trial that is not PAUSED: {launch!r}")
        if launch.parent_id not in self.trials or launch.parent_id == launch.trial_id:
            raise ProtocolViolation(f"Fork from an unknown donor: {launch!r}")
        trial.config = copy.deepcopy(launch.config)
        trial.parent_id = launch.parent_id
        donor = self.checkpoints.get(launch.parent_id)
        if donor is not None:
            self.checkpoints[trial.trial_id] = donor
        else:
            self.checkpoints.pop(trial.trial_id, None)
        self._start(trial, donor)

    def _start(self, trial: Trial, checkpoint: tuple[int, Any] | None) -> None:
        trial.status = TrialStatus.RUNNING
        trial.iteration, state = checkpoint if checkpoint is not None else (0, None)
        trial.checkpoint_iteration = checkpoint[0] if checkpoint is not None else None
        self.states[trial.trial_id] = copy.deepcopy(state)
        self.running.append(trial.trial_id)

    def _advance(self, trial_id: str) -> None:
        trial = self.trials[trial_id]
        iteration = trial.iteration + 1
        if self.fail_at.get(trial_id) == iteration:
            trial.error = "Traceback: scripted failure"
            self.complete(trial, TrialStatus.ERROR)
            return
        metrics, state = self.step(trial.config, self.states[trial_id], iteration)
        self.states[trial_id] = state
        self.epochs += 1
        self.time += 1.0
        result = dict(metrics, training_iteration=iteration, time_total_s=float(iteration),
                      time_this_iter_s=1.0, trial_id=trial_id)
        if self.extra_result is not None:
            result.update(self.extra_result(trial))
        trial.iteration = iteration
        trial.last_result = result
        if self.checkpoint:
            self.checkpoints[trial_id] = (iteration, copy.deepcopy(state))
            trial.checkpoint_iteration = iteration
        snapshot = copy.copy(trial)
        decision = self.scheduler.on_result(trial, result)
        if not isinstance(decision, Decision):
            raise ProtocolViolation(f"on_result returned {decision!r}, not a Decision")
        self.journal.append(("result", snapshot, dict(result), decision))
        self.decisions.append((trial_id, iteration, decision))
        if decision == Decision.PAUSE:
            trial.status = TrialStatus.PAUSED
        elif decision == Decision.STOP or iteration >= self.max_iter:
            self.complete(trial, TrialStatus.TERMINATED)
        else:
            self.running.append(trial_id)

    def complete(self, trial: Trial, status: TrialStatus) -> None:
        trial.status = status
        self.scheduler.on_trial_complete(trial)
        self.journal.append(("complete", copy.deepcopy(trial)))

    # -- views -----------------------------------------------------------------------------
    def best(self, metric: str = "loss") -> float:
        return min(t.last_result[metric] for t in self.trials.values() if t.last_result)

    def iterations_of(self, trial_id: str) -> int:
        return sum(1 for tid, _, _ in self.decisions if tid == trial_id)


def _snapshot(trials: dict[str, Trial]) -> dict[str, Trial]:
    """Copies of the trials as they are now (the Sim replaces configs and results, never
    mutates them, so shallow copies suffice)."""
    return {trial_id: copy.copy(trial) for trial_id, trial in trials.items()}


def replay(scheduler, journal: list[tuple], *, metric: str = "loss", mode: str = "min",
           seed: int = 0) -> None:
    """Feed a Sim journal into a fresh ``scheduler`` the way restore does; check the answers."""
    scheduler.setup(metric, mode, seed)
    trials: dict[str, Trial] = {}
    for entry in journal:
        kind = entry[0]
        if kind == "launch":
            _, snapshot, exhausted, expected = entry
            got = scheduler.next_launch(_snapshot(snapshot), exhausted=exhausted)
            if got != expected:
                raise ProtocolViolation(f"replay: next_launch gave {got!r}, not {expected!r}")
        elif kind == "add":
            trial = copy.deepcopy(entry[1])
            trials[trial.trial_id] = trial
            scheduler.on_trial_add(trial)
        elif kind == "result":
            _, snapshot, result, expected = entry
            got = scheduler.on_result(copy.copy(snapshot), dict(result))
            if got != expected:
                raise ProtocolViolation(
                    f"replay: on_result({snapshot.trial_id}, it {result['training_iteration']})"
                    f" gave {got!r}, not {expected!r}")
        elif kind == "complete":
            scheduler.on_trial_complete(copy.deepcopy(entry[1]))


def canon(value: Any) -> Any:
    """A comparable, plain-data view of a scheduler's state (for 'no state change' checks)."""
    if isinstance(value, np.random.Generator):
        return ("rng", canon(value.bit_generator.state))
    if isinstance(value, np.ndarray):
        return ("array", value.tolist())
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, canon({f.name: getattr(value, f.name)
                                             for f in dataclasses.fields(value)}))
    if isinstance(value, dict):
        return {k: canon(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canon(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return ("set", sorted(map(repr, value)))
    if hasattr(value, "__dict__") and not callable(value):
        return (type(value).__name__, canon(vars(value)))
    return value


def state_of(scheduler) -> Any:
    return canon({k: v for k, v in vars(scheduler).items() if not k.startswith("_warned")})
