"""The one fold of the journal: events -> the trials' state.

``JournalState.apply`` takes one event at a time and dispatches on its kind to one
``_apply_<kind>`` (as Optuna's journal storage replays its operation log). It is pure data:
no searcher, no scheduler, no disk. Its users: ``rs.load`` and the CLI (``fold``), the live
controller (which applies the events it writes, so its trial table is always what a reader
of the journal would rebuild), and restore, which replays the journal through it while it
feeds the searcher and scheduler (``Controller.replay``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from raysweep._goal import METRIC_RESULT, Goal, last_metric_result, metric_value
from raysweep.journal._events import Kind
from raysweep.trial import Trial, TrialStatus

__all__ = ["METRIC_RESULT", "JournalState", "fold", "last_metric_result", "live_events",
           "metric_loss", "report_history"]

_UNFINISHED = (TrialStatus.RUNNING, TrialStatus.PENDING)


def metric_loss(result: dict[str, Any] | None, metric: str, sign: float) -> float:
    """``sign * result[metric]`` as a float; ``inf`` when it is not a metric value (the
    rule of ``raysweep._goal``; kept for callers of the older helper)."""
    if not result:
        return math.inf
    number = metric_value(result.get(metric))
    return math.inf if number != number else sign * number


class JournalState:
    """The trials (``trials``: id -> ``Trial``, in creation order), whether the searcher
    finished, and each forked trial's PBT schedule, as the events applied so far say.

    ``track_tails=True`` also remembers where each trial's current run began, for
    ``unfinished_reports`` (restore); ``history=True`` keeps every report that still
    stands, for ``history_rows`` (``Results.history``); ``rs.load`` does without either.
    """

    def __init__(self, metric: str, mode: str, *, track_tails: bool = False,
                 history: bool = False) -> None:
        self.goal = Goal.of(metric, mode)  # best_loss/best_result follow its rule
        self.metric = metric
        self.sign = self.goal.sign
        self.trials: dict[str, Trial] = {}
        self.searcher_finished = False
        self.schedules: dict[str, list[dict[str, Any]]] = {}
        self.position = 0  # how many events were applied (the next one's index)
        # trial id -> (index, training_iteration) of the reports of its current run
        self._runs: dict[str, list[tuple[int, int]]] | None = {} if track_tails else None
        self._history = _History() if history else None
        # the kinds of one trial, keyed by their plain strings (as decoded: a str key finds
        # a str key by identity, a Kind key only by a slower comparison)
        self._apply: dict[str, Callable[[Trial, dict[str, Any]], None]] = {
            Kind.REPORT.value: self._apply_report, Kind.STATUS.value: self._apply_status,
            Kind.CHECKPOINT.value: self._apply_checkpoint,
            Kind.RESUME.value: self._apply_resume, Kind.FORK.value: self._apply_fork,
            Kind.UNFORK.value: self._apply_unfork, Kind.RESTART.value: self._apply_restart,
        }

    # -- the fold ---------------------------------------------------------------------------
    def apply(self, event: dict[str, Any]) -> Trial | None:
        """Fold one event in; return the trial it concerns (None for experiment-wide events
        and for events of trials this journal never created)."""
        self.position += 1
        kind = event["e"]
        if kind == "new":
            return self._add(event)
        if kind == "finished":
            self.searcher_finished = True
            return None
        apply = self._apply.get(kind)  # "session" and kinds of newer versions: nothing
        if apply is None:
            return None
        trial = self.trials.get(event.get("id"))  # type: ignore[arg-type]
        if trial is None:
            return None
        apply(trial, event)
        return trial

    def add(self, event: dict[str, Any]) -> Trial:
        """Fold in a ``new`` event (``apply`` for the one kind that always gives a trial)."""
        self.position += 1
        return self._add(event)

    def _add(self, event: dict[str, Any]) -> Trial:
        trial = Trial(event["id"], event["c"], created_at=event.get("t", 0.0))
        trial.status = TrialStatus.RUNNING
        self.trials[trial.trial_id] = trial
        self._new_run(trial)
        return trial

    def _apply_report(self, trial: Trial, event: dict[str, Any]) -> None:
        if trial.status is not TrialStatus.RUNNING and not trial.status.is_finished:
            trial.status = TrialStatus.RUNNING
        result = event["r"]
        self.record_result(trial, result)
        if event.get("ck"):
            trial.checkpoint_iteration = trial.iteration
        if self._runs is not None:
            self._runs[trial.trial_id].append((self.position - 1,
                                               result.get("training_iteration", 0)))
        if self._history is not None:
            self._history.report(trial.trial_id, result)

    def _apply_status(self, trial: Trial, event: dict[str, Any]) -> None:
        trial.status = TrialStatus(event["s"])
        if "err" in event:
            trial.error = event["err"]
        if "node" in event:
            trial.node_id = event["node"]

    def _apply_checkpoint(self, trial: Trial, event: dict[str, Any]) -> None:
        trial.checkpoint_iteration = event["i"]

    def _apply_resume(self, trial: Trial, event: dict[str, Any]) -> None:
        trial.status = TrialStatus.RUNNING
        self._new_run(trial)

    def _apply_fork(self, trial: Trial, event: dict[str, Any]) -> None:
        schedule = self.schedules.setdefault(
            trial.trial_id, [{"training_iteration": 0, "config": trial.config,
                              "parent_id": None}])
        trial.config = event["c"]
        trial.parent_id = event["p"]
        trial.iteration = event["i"]
        trial.checkpoint_iteration = event.get("ci", None)
        trial.status = TrialStatus.RUNNING
        schedule.append({"training_iteration": event["i"], "config": event["c"],
                         "parent_id": event["p"]})
        self._new_run(trial)
        if self._history is not None:
            self._history.rewind(trial.trial_id, event.get("i", 0), fork=True)

    def _apply_unfork(self, trial: Trial, event: dict[str, Any]) -> None:
        # The fork produced nothing (its donor's checkpoint was the end of training): the
        # trial keeps the config, parent and results it had before, and the lineage forgets
        # the fork.
        trial.config = event["c"]
        trial.parent_id = event.get("p")
        trial.iteration = event.get("i", 0)
        trial.checkpoint_iteration = event.get("ci")
        if "r" in event:
            self.record_result(trial, event["r"])
        schedule = self.schedules.get(trial.trial_id)
        if schedule:
            schedule.pop()
            if len(schedule) <= 1:
                del self.schedules[trial.trial_id]
        if self._history is not None:
            self._history.unfork(trial.trial_id)

    def _apply_restart(self, trial: Trial, event: dict[str, Any]) -> None:
        trial.num_failures = event.get("n", trial.num_failures)
        trial.iteration = event.get("i", 0)
        trial.status = TrialStatus.RUNNING
        trial.error = None
        self._new_run(trial)
        if self._history is not None:
            self._history.rewind(trial.trial_id, event.get("i", 0), fork=False)

    def _new_run(self, trial: Trial) -> None:
        if self._runs is not None:
            self._runs[trial.trial_id] = []

    # -- shared with the live controller ------------------------------------------------
    def record_result(self, trial: Trial, result: dict[str, Any]) -> float:
        """Fold one result into ``trial``; return its loss."""
        trial.iteration = int(result.get("training_iteration", trial.iteration + 1))
        previous, trial.last_result = trial.last_result, result
        trial.time_total_s = float(result.get("time_total_s", trial.time_total_s))
        extra = trial.extra
        if self.metric in result:  # the usual case: nothing kept aside
            if extra:
                extra.pop(METRIC_RESULT, None)
        elif previous is not None and self.metric in previous:
            extra[METRIC_RESULT] = previous  # the last result that holds the metric
        elif METRIC_RESULT in extra and \
                extra[METRIC_RESULT].get("training_iteration", 0) >= trial.iteration:
            del extra[METRIC_RESULT]  # superseded by a restart from an earlier iteration
        value = result.get(self.metric)
        if type(value) is float:  # the usual case, inline: the rule of Goal.loss for a float
            loss = self.sign * value if math.isfinite(value) else math.inf
        else:
            loss = self.goal.loss(result)
        if loss < trial.best_loss or trial.best_result is None:
            if loss < trial.best_loss:
                trial.best_loss = loss
            trial.best_result = result
        return loss

    # -- derived views ----------------------------------------------------------------------
    def history_rows(self) -> list[dict[str, Any]]:
        """Every report that still stands, in journal order, with its ``trial_id`` (a
        restart from iteration i drops the trial's later ones; needs ``history``)."""
        if self._history is None:
            raise RuntimeError("JournalState(history=True) is needed for history_rows")
        return [row for row in self._history.rows if row is not None]

    def unfinished_reports(self) -> set[int]:
        """Indexes of the reports an unfinished trial (RUNNING or PENDING) will produce again
        after a restore: those of its current run past its last checkpoint (needs
        ``track_tails``)."""
        if self._runs is None:
            raise RuntimeError("JournalState(track_tails=True) is needed for unfinished_reports")
        again: set[int] = set()
        for trial_id, trial in self.trials.items():
            if trial.status not in _UNFINISHED:
                continue
            keep_upto = trial.checkpoint_iteration or 0
            again.update(number for number, iteration in self._runs[trial_id]
                         if iteration > keep_upto)
        return again


class _History:
    """The report rows of ``JournalState(history=True)``."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any] | None] = []
        self._valid: dict[str, list[int]] = {}  # trial id -> its row numbers still standing
        self._undo: dict[str, list[tuple[int, dict[str, Any]]]] = {}  # dropped by its fork

    def report(self, trial_id: str, result: dict[str, Any]) -> None:
        self._valid.setdefault(trial_id, []).append(len(self.rows))
        self.rows.append({**result, "trial_id": trial_id})

    def rewind(self, trial_id: str, keep_upto: int, fork: bool) -> None:
        """A restart (or fork) from iteration ``keep_upto`` supersedes the later reports."""
        rows = self.rows
        valid = self._valid.get(trial_id, [])
        dropped = []
        for number in valid:
            row = rows[number]
            if row is not None and row.get("training_iteration", 0) > keep_upto:
                dropped.append((number, row))
                rows[number] = None
        self._valid[trial_id] = [n for n in valid if rows[n] is not None]
        if fork:
            self._undo[trial_id] = dropped

    def unfork(self, trial_id: str) -> None:
        """The fork produced nothing: the rows it superseded stand again."""
        valid = self._valid.setdefault(trial_id, [])
        for number, row in self._undo.pop(trial_id, []):
            self.rows[number] = row
            valid.append(number)
        valid.sort()


def report_history(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every report of ``events`` that still stands (``JournalState.history_rows``)."""
    # (the rows do not depend on a metric: any name folds them)
    return fold(events, "training_iteration", "max", history=True).history_rows()


def fold(events: Iterable[dict[str, Any]], metric: str, mode: str, *,
         track_tails: bool = False, history: bool = False) -> JournalState:
    """The state after every event of ``events``."""
    state = JournalState(metric, mode, track_tails=track_tails, history=history)
    apply = state.apply
    for event in events:
        apply(event)
    return state


def live_events(events: list[dict[str, Any]], extended: bool) -> list[dict[str, Any]]:
    """The journal to replay: without "searcher finished" marks that no longer hold (a grid
    resumed with more repeats, or a mark that trials of a later extension followed)."""
    last_new = max((i for i, event in enumerate(events) if event["e"] == "new"), default=-1)
    return [event for i, event in enumerate(events)
            if event["e"] != "finished" or (not extended and i > last_new)]
