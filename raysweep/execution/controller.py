"""The driver loop, readable top to bottom: launch, poll, judge, persist. No ray here.

One iteration of ``Controller.run``:
  1. fill free worker slots: restarts first, then whatever the scheduler asks
     (a new trial from the searcher, a paused trial to resume, a PBT fork);
  2. poll the executor for every ready event (reports, trial ends, lost workers);
  3. feed results to the scheduler (decisions go back to the workers) and the searcher;
  4. journal everything (one write per iteration) and enforce budgets and timeouts.
"""

from __future__ import annotations

import gc
import logging
import time
import warnings
from collections import deque
from typing import Any

from raysweep import journal
from raysweep import storage as _storage
from raysweep.callbacks import takes_encoded_reports as _logs_reports
from raysweep.decisions import Decision, Fork, New, Resume, Wait
from raysweep.errors import MissingMetric, ResumeMismatch, TrialError
from raysweep.execution.checkpoints import CheckpointBook
from raysweep.execution.messages import Ended, EndKind, Event, Lost, Report
from raysweep.journal import JournalState, last_metric_result
from raysweep.search.base import FINISHED
from raysweep.trial import Trial, TrialStatus

logger = logging.getLogger("raysweep")

_FINISHED = (TrialStatus.TERMINATED, TrialStatus.ERROR)
_BUDGET_GRACE_S = 2.0  # after time_budget_s, how long a running trial may take to stop


class Controller:
    """Drives one experiment. Everything it needs is passed in; it returns nothing but state."""

    def __init__(self, *, executor, searcher, scheduler, metric: str, mode: str,
                 num_samples: int | None, storage: _storage.ExperimentDir | None,
                 time_budget_s: float | None = None, max_failures: int = 0,
                 trial_timeout_s: float | None = None, keep_checkpoints: int = 2,
                 fail_fast: bool = False, callbacks: list | None = None,
                 reporter=None, objective_is_class: bool = False,
                 snapshot=None, snapshot_every_s: float = 30.0) -> None:
        self.executor = executor
        self.searcher = searcher
        self.scheduler = scheduler
        self.metric = metric
        self.mode = mode
        self.num_samples = num_samples
        self.storage = storage
        self.time_budget_s = time_budget_s
        self.max_failures = max_failures
        self.trial_timeout_s = trial_timeout_s
        self.keep_checkpoints = keep_checkpoints
        self.fail_fast = fail_fast
        self.callbacks = list(callbacks or [])
        # loggers that take a report as the journal encoded it, and everyone else
        self._report_loggers = [c for c in self.callbacks if _logs_reports(c)]
        self._result_callbacks = [c for c in self.callbacks if not _logs_reports(c)]
        self.reporter = reporter
        self.objective_is_class = objective_is_class
        self.snapshot = snapshot  # called now and then with the controller (results.csv)
        self.snapshot_every_s = snapshot_every_s
        self._last_snapshot = 0.0
        self._snapshot_interval_s = snapshot_every_s
        self.state = JournalState(metric, mode)
        self.trials = self.state.trials
        self._restart: deque[str] = deque()
        self._active: set[str] = set()  # trials handed to the executor and not yet ended
        self._created = 0
        # stored checkpoints, forks' donors, deletions waiting for the journal (write-ahead)
        self._book = CheckpointBook(storage, keep_checkpoints)
        self._budget_kill_at: float | None = None
        self._deadline: float | None = None
        self._budget_hit = False
        self._warned: set[str] = set()
        self._fatal: BaseException | None = None
        self._stopping: set[str] = set()
        # per running trial: the PAUSE/STOP sent to it, and why its checkpoint was refused
        self._pending: dict[str, Decision] = {}
        self._checkpoint_error: dict[str, str] = {}
        self._gc = _GcFreezer()

    # ---------------------------------------------------------------------------- replay
    def replay(self, events: list[dict[str, Any]]) -> None:
        """Rebuild trials, searcher and scheduler from a journal (restore).

        First the whole journal is folded to see which trials are unfinished and which of
        their reports will be produced again (those past their last checkpoint). Then the
        events are folded again one by one, and the searcher and scheduler get, around each,
        the same calls in the same order as in the original run (``_replay_<kind>``);
        unfinished trials are queued to restart from their last checkpoint.
        """
        again = journal.fold(events, self.metric, self.mode,
                             track_tails=True).unfinished_reports()
        decided: dict[str, Decision] = {}  # a decision journaled but not yet carried out
        for number, event in enumerate(events):
            kind = event["e"]
            if kind == "r" and number in again:
                self._replay_report_again(event)
            elif kind == "new":
                self._replay_new(event)
            elif kind == "finished":
                self.state.apply(event)
            else:
                trial = self.trials.get(event.get("id"))  # type: ignore[arg-type]
                if trial is not None:
                    self._replay_trial_event(trial, event, decided)
        self._book.reconcile(self.trials, events)
        for trial in self.trials.values():
            if trial.status in (TrialStatus.RUNNING, TrialStatus.PENDING):
                decision = decided.get(trial.trial_id, Decision.CONTINUE)
                if decision is Decision.STOP:  # the driver died before stopping it
                    self._set_status(trial, TrialStatus.TERMINATED)
                elif decision is Decision.PAUSE:
                    self._set_status(trial, TrialStatus.PAUSED)
                else:
                    trial.status = TrialStatus.PENDING
                    self._restart.append(trial.trial_id)

    def _replay_report_again(self, event: dict[str, Any]) -> None:
        """A report the trial will produce again after the restore: the searcher saw it live
        before the later suggestions, so it sees it here too and they are proposed again as
        journaled (searchers keep one value per trial and budget; the re-run's is the
        same). The fold does not take it: the trial restarts from its checkpoint."""
        trial_id = event["id"]
        if trial_id in self.trials:
            self.searcher.observe(trial_id, {**event["r"], "trial_id": trial_id}, final=False)

    def _replay_new(self, event: dict[str, Any]) -> None:
        trial_id = event["id"]
        launch = self.scheduler.next_launch(self.trials, exhausted=self._exhausted())
        if not isinstance(launch, New):
            self._replay_warning(f"scheduler returned {launch!r} where the journal "
                                 f"shows a new trial {trial_id}")
        suggested = self.searcher.suggest(trial_id)
        if isinstance(suggested, dict) and suggested != event["c"]:
            self._replay_warning(f"searcher proposed a different config for trial "
                                 f"{trial_id} on replay; keeping the journaled one")
        trial = self.state.add(event)
        self._created += 1
        self.scheduler.on_trial_add(trial)

    def _replay_trial_event(self, trial: Trial, event: dict[str, Any],
                            decided: dict[str, Decision]) -> None:
        """One event of an existing trial, with the algorithm calls it stood for live."""
        kind, trial_id = event["e"], trial.trial_id
        if kind == "r":
            self._book.reported(trial_id)
            self.state.apply(event)
            if event.get("ck"):
                self._book.replay_saved(trial_id, trial.iteration)
            result = {**event["r"], "trial_id": trial_id}
            self.searcher.observe(trial_id, result, final=False)
            if trial.status is TrialStatus.RUNNING:
                decided[trial_id] = self.scheduler.on_result(trial, result)
            return
        if not (kind == "s" and event.get("s") == "PENDING"):  # (settle keeps them)
            decided.pop(trial_id, None)
        if kind in ("resume", "fork"):
            self.scheduler.next_launch(self.trials,
                                       exhausted=self._exhausted() or bool(event.get("x")))
            if kind == "fork":
                self._book.replay_fork(trial, event, self.trials.get(event.get("p")))  # type: ignore[arg-type]
        elif kind == "unfork":
            self._book.replay_unfork(trial_id)
        self.state.apply(event)
        if kind == "s" and trial.status in _FINISHED:
            self._complete_algorithms(trial)
        elif kind == "ck":
            self._book.replay_saved(trial_id, event["i"])

    def _replay_warning(self, text: str) -> None:
        if "replay" not in self._warned:
            self._warned.add("replay")
            warnings.warn(f"raysweep restore: {text}", stacklevel=2)

    # ------------------------------------------------------------------------------- run
    def run(self) -> None:
        if self.time_budget_s is not None:
            self._deadline = self.executor.now() + self.time_budget_s
        self._last_snapshot = time.monotonic()
        for trial_id in list(self._restart):
            trial = self.trials[trial_id]
            self._journal(journal.restart(trial_id, trial.checkpoint_iteration or 0, "restore",
                                          trial.num_failures))
            trial.iteration = trial.checkpoint_iteration or 0
        try:
            while True:
                launched = self._launch()
                if not self._active:
                    if launched:
                        continue
                    if (self._restart or not self._exhausted()) and \
                            self.executor.waiting_for_workers():
                        self.executor.poll(0.2)  # workers are starting; nothing to lose
                        self._check_budget()
                        continue
                    if self._restart:
                        raise RuntimeError(
                            f"raysweep: no worker is left to run trial(s) "
                            f"{sorted(self._restart)} (the workers were lost and none could "
                            f"be started again); the experiment is saved: run it again with "
                            f"resume=True when the cluster has room")
                    break
                events = self.executor.poll(self._poll_timeout())
                for event in events:
                    self._handle(event)
                    if self._fatal is not None:
                        raise self._fatal
                self._check_timeouts()
                self._check_budget()
                self._flush()
                self._gc.step(self._created)
                if self.reporter is not None:
                    self.reporter.update(self)
                if self.snapshot is not None:
                    self._maybe_snapshot()
        finally:
            self._gc.release()
            self._flush(sync=True)
        self._finish_paused()
        self._flush(sync=True)

    def _maybe_snapshot(self) -> None:
        """Write the snapshot (results.csv) every ``snapshot_every_s``, or less often when it
        is big: its cost grows with the trials, so it is kept under ~2% of the driver's time."""
        now = time.monotonic()
        if now - self._last_snapshot < self._snapshot_interval_s:
            return
        self.snapshot(self)
        self._last_snapshot = time.monotonic()
        self._snapshot_interval_s = max(self.snapshot_every_s, 50 * (self._last_snapshot - now))

    def _poll_timeout(self) -> float:
        timeout = 1.0
        now = self.executor.now()
        if self._deadline is not None and not self._budget_hit:
            timeout = min(timeout, max(0.0, self._deadline - now))
        if self.trial_timeout_s is not None:
            timeout = min(timeout, max(0.05, self.trial_timeout_s / 4))
        if self._budget_kill_at is not None:
            timeout = min(timeout, max(0.05, self._budget_kill_at - now))
        return timeout

    # ---------------------------------------------------------------------------- launch
    def _exhausted(self) -> bool:
        if self._budget_hit or self.state.searcher_finished:
            return True
        return self.num_samples is not None and self._created >= self.num_samples

    def _launch(self) -> bool:
        """Fill free slots. Returns whether anything was started."""
        started = False
        while self.executor.free_slots() > 0:
            if self._restart:
                trial = self.trials[self._restart.popleft()]
                self._start(trial)
                started = True
                continue
            if self._budget_hit:
                break
            exhausted = self._exhausted()
            launch = self.scheduler.next_launch(self.trials, exhausted=exhausted)
            if isinstance(launch, Wait):
                break
            if isinstance(launch, New):
                if exhausted:
                    break
                trial_id = f"{self._created:05d}"
                config = self.searcher.suggest(trial_id)
                if config is None:
                    if self._unstall():
                        started = True
                        continue
                    break
                if config is FINISHED:
                    self.state.searcher_finished = True
                    self._journal(journal.finished())
                    continue
                trial = self.state.add(journal.new(trial_id, config, self.executor.wall_time()))
                trial.status = TrialStatus.PENDING
                self._created += 1
                self._journal(journal.new(trial_id, config, round(trial.created_at, 3)))
                self.scheduler.on_trial_add(trial)
                self._start(trial)
            else:
                self._resume_or_fork(launch)
            started = True
        return started

    def _unstall(self) -> bool:
        """The searcher has nothing now (it waits for results) but no trial runs: what it
        waits for are paused trials, e.g. Hyperband's rungs under a searcher's
        ``max_concurrent``. Ask the scheduler again as if no new trial could come (it then
        promotes what it has), and journal that (``"x"``) so a restore asks the same."""
        if self._active or self._restart or not any(
                t.status is TrialStatus.PAUSED for t in self.trials.values()):
            return False
        launch = self.scheduler.next_launch(self.trials, exhausted=True)
        if isinstance(launch, (Resume, Fork)):
            self._resume_or_fork(launch, stalled=True)
            return True
        return False

    def _resume_or_fork(self, launch: Any, stalled: bool = False) -> None:
        """Carry out the scheduler's Resume or Fork (``stalled``: see ``_unstall``)."""
        if isinstance(launch, Resume):
            trial = self._paused(launch.trial_id, "Resume")
            self._journal(journal.resume(trial.trial_id, stalled))
            trial.iteration = trial.checkpoint_iteration or 0
            self._start(trial)
        elif isinstance(launch, Fork):
            trial = self._paused(launch.trial_id, "Fork")
            parent = self.trials.get(launch.parent_id)
            if parent is None:
                raise RuntimeError(f"scheduler forked from unknown trial {launch.parent_id!r}")
            donor_iteration = parent.checkpoint_iteration
            location = self._book.location(parent)
            if donor_iteration is None:
                self._warn_once("fork", f"trial {trial.trial_id} clones trial {parent.trial_id}"
                                " which has no checkpoint: it restarts from scratch (report "
                                "checkpoints from the objective for PBT to exploit)")
            event = journal.fork(trial.trial_id, parent.trial_id, launch.config,
                                 donor_iteration, stalled)
            self._book.forked(trial, location)
            self._journal(event)
            self.state.apply(event)
            trial.status = TrialStatus.PENDING
            payload = None if location is None else self._payload(*location)
            self._start(trial, payload=payload, from_parent=True)
        else:  # pragma: no cover - protocol misuse
            raise TypeError(f"scheduler.next_launch returned {launch!r}")

    def _void_fork(self, trial: Trial) -> None:
        """A forked trial ended without a single report: its donor's checkpoint was the end
        of training (PBT forked from a finished trial). The new config produced nothing, so
        the trial keeps the config, lineage and result it had before the fork; a row's
        config is always the one that produced its result."""
        undo = self._book.void_fork(trial.trial_id)
        if undo is not None:
            self._journal(undo)
            self.state.apply(undo)

    def _paused(self, trial_id: str, what: str) -> Trial:
        trial = self.trials.get(trial_id)
        if trial is None or trial.status is not TrialStatus.PAUSED:
            status = None if trial is None else trial.status.value
            raise RuntimeError(f"scheduler asked to {what} trial {trial_id!r} whose status is "
                               f"{status}; only PAUSED trials can be resumed or forked")
        return trial

    def _payload(self, trial_id: str, iteration: int | None):
        if iteration is None or self.storage is None:
            return None
        return _storage.read_checkpoint_payload(self.storage.path, trial_id, iteration)

    def _start(self, trial: Trial, payload=None, from_parent: bool = False) -> None:
        if not from_parent:
            location = self._book.location(trial)
            payload = None if location is None else self._payload(*location)
            if payload is None:
                if trial.iteration and not self.objective_is_class:
                    self._warn_once("scratch", f"trial {trial.trial_id} has no checkpoint and "
                                    "restarts from scratch (report checkpoint=... from the "
                                    "objective to resume where it stopped)")
                trial.iteration = 0
        start_iteration = trial.iteration if payload is not None else 0
        trial.iteration = start_iteration
        trial.status = TrialStatus.RUNNING
        blocking = self.scheduler.blocking_iterations(trial)
        blocking = None if blocking is None else tuple(sorted(blocking))
        self.executor.start(trial.trial_id, trial.config, payload, start_iteration,
                            trial.time_total_s, blocking)
        self._active.add(trial.trial_id)
        for callback in self.callbacks:
            callback.on_trial_start(trial)

    # ---------------------------------------------------------------------------- events
    def _handle(self, event: Event) -> None:
        if isinstance(event, Report):
            self._on_report(event)
        elif isinstance(event, Ended):
            self._on_end(event)
        elif isinstance(event, Lost):
            self._on_lost(event)
        else:  # pragma: no cover - executor bug
            raise TypeError(f"unknown executor event {event!r}")

    def _on_report(self, report: Report) -> None:
        trial_id, result, payload, waiting = \
            report.trial_id, report.result, report.payload, report.waiting
        trial = self.trials[trial_id]
        self._book.reported(trial_id)
        trial.node_id = self.executor.node_of(trial_id)
        loss_known = self.metric in result
        self.state.record_result(trial, result)
        if payload is not None:
            try:
                self._save_checkpoint(trial, payload)
            except ValueError as exc:  # this checkpoint cannot be stored: the trial fails
                payload = None
                self._checkpoint_error[trial_id] = f"trial {trial_id}: {exc}"
                self._stopping.add(trial_id)
                if not waiting:
                    self.executor.decide(trial_id, Decision.STOP)
        encoded = None if self.storage is None else \
            self.storage.append_report(trial_id, result, payload is not None)
        for sink in self._report_loggers:  # ReportSinks: the file loggers reuse the journal's text
            sink.log_report(trial, result, encoded)
        result = dict(result)
        result["trial_id"] = trial_id
        for callback in self._result_callbacks:
            callback.on_trial_result(trial, result)
        if trial_id in self._stopping:
            if waiting:
                self.executor.decide(trial_id, Decision.STOP)
            return
        if not loss_known and self.scheduler.requires_metric:
            self._fatal = MissingMetric(
                f"trial {trial_id} reported {sorted(k for k in result if k != 'trial_id')} "
                f"but not the metric {self.metric!r}; the scheduler "
                f"{type(self.scheduler).__name__} needs it in every result")
            if waiting:
                self.executor.decide(trial_id, Decision.STOP)
            return
        self.searcher.observe(trial_id, result, final=False)
        try:
            decision = self.scheduler.on_result(trial, result)
        except MissingMetric as exc:
            self._fatal = exc
            if waiting:
                self.executor.decide(trial_id, Decision.STOP)
            return
        if decision is Decision.CONTINUE:
            if waiting:
                self.executor.decide(trial_id, Decision.CONTINUE)
            return
        self._stopping.add(trial_id)
        self._pending[trial_id] = decision
        self.executor.decide(trial_id, decision)

    def _save_checkpoint(self, trial: Trial, payload, iteration: int | None = None) -> None:
        """Store a checkpoint, then record it (write-ahead rule 1: before the journal event
        that names it is buffered; see ``execution/checkpoints.py``)."""
        if self.storage is None:
            return
        iteration = trial.iteration if iteration is None else iteration
        self.storage.write_checkpoint(trial.trial_id, iteration, payload)
        self._book.saved(trial, iteration)

    def _on_end(self, ended: Ended) -> None:
        trial_id, kind, info, payload = ended.trial_id, ended.kind, ended.info, ended.payload
        trial = self.trials[trial_id]
        self._active.discard(trial_id)
        self._stopping.discard(trial_id)
        pending = self._pending.pop(trial_id, None)
        failed = self._checkpoint_error.pop(trial_id, None)
        if failed is not None and kind is not EndKind.ERROR:
            kind, info = EndKind.ERROR, failed
        if kind is EndKind.STOPPED and trial.last_result is None:
            # stopped before its first report (the time budget ran out): nothing to judge
            self._set_status(trial, TrialStatus.TERMINATED)
            return
        if kind is EndKind.CANCELLED:
            if self._budget_hit:
                self._set_status(trial, TrialStatus.TERMINATED)
            else:
                trial.status = TrialStatus.PENDING
                self._restart.append(trial_id)
            return
        if kind is EndKind.DONE or (kind is EndKind.STOPPED and pending is not Decision.PAUSE):
            self._void_fork(trial)
        if kind is EndKind.ERROR:
            trial.error = info
            self._set_status(trial, TrialStatus.ERROR, error=info)
            if self.fail_fast:
                self._fatal = TrialError(f"trial {trial_id} failed (fail_fast=True):\n{info}")
            return
        if kind is EndKind.PAUSED or (kind is EndKind.STOPPED and pending is Decision.PAUSE):
            if payload is not None:
                try:
                    self._save_checkpoint(trial, payload)
                except ValueError as exc:
                    self._on_end(Ended(trial_id, EndKind.ERROR, f"trial {trial_id}: {exc}"))
                    return
                self._journal(journal.checkpoint(trial_id, trial.iteration))
            self._set_status(trial, TrialStatus.PAUSED)
            return
        if trial.last_result is None or self.metric not in (trial.last_result or {}):
            if not any(self.metric in (r or {}) for r in (trial.best_result, trial.last_result)):
                reported = sorted(k for k in (trial.last_result or {})
                                  if k not in ("training_iteration", "time_total_s",
                                               "time_this_iter_s"))
                message = (f"trial {trial_id} never reported the metric {self.metric!r}; it "
                           f"reported {reported}. Pass metric= one of those, or report "
                           f"{self.metric!r}.")
                self._set_status(trial, TrialStatus.ERROR, error=message)
                self._fatal = MissingMetric(message)
                return
        self._set_status(trial, TrialStatus.TERMINATED)

    def _on_lost(self, lost: Lost) -> None:
        trial_id, reason, counts = lost.trial_id, lost.reason, lost.counts
        trial = self.trials[trial_id]
        self._active.discard(trial_id)
        self._stopping.discard(trial_id)
        self._pending.pop(trial_id, None)
        self._checkpoint_error.pop(trial_id, None)
        if counts:
            trial.num_failures += 1
        if self._budget_hit and not (counts and trial.num_failures > self.max_failures):
            self._set_status(trial, TrialStatus.TERMINATED)  # no retry past the budget
            return
        if counts and trial.num_failures > self.max_failures:
            message = f"{reason} (failed {trial.num_failures} time(s); max_failures=" \
                      f"{self.max_failures})"
            self._set_status(trial, TrialStatus.ERROR, error=message)
            if self.fail_fast:
                self._fatal = TrialError(f"trial {trial_id} failed (fail_fast=True): {message}")
            return
        restart_from = trial.checkpoint_iteration or 0
        self._journal(journal.restart(trial_id, restart_from, "failure", trial.num_failures))
        trial.iteration = restart_from
        trial.status = TrialStatus.PENDING
        self._restart.append(trial_id)

    def _set_status(self, trial: Trial, status: TrialStatus, error: str | None = None) -> None:
        trial.status = status
        if error is not None:
            trial.error = error
        self._journal(journal.status(trial.trial_id, status.value, self.executor.wall_time(),
                                     error, trial.node_id))
        if status in _FINISHED:
            self._book.release_base(trial.trial_id)
            self._complete_algorithms(trial)
            for callback in self.callbacks:
                callback.on_trial_complete(trial)

    def _complete_algorithms(self, trial: Trial) -> None:
        self.scheduler.on_trial_complete(trial)
        final = dict(last_metric_result(trial, self.metric))
        if final:
            final["trial_id"] = trial.trial_id
        self.searcher.observe(trial.trial_id, final, final=True)

    # --------------------------------------------------------------- budgets and timeouts
    def _check_budget(self) -> None:
        if self._deadline is None:
            return
        if self._budget_hit:
            self._kill_past_budget()
            return
        if self.executor.now() < self._deadline:
            return
        self._budget_hit = True
        self._budget_kill_at = self.executor.now() + _BUDGET_GRACE_S
        while self._restart:  # waiting to be retried: they end where they are
            self._set_status(self.trials[self._restart.popleft()], TrialStatus.TERMINATED)
        for trial_id in list(self._active):
            self._stopping.add(trial_id)
            self.executor.decide(trial_id, Decision.STOP)

    def _kill_past_budget(self) -> None:
        """Trials told to stop at the time budget that did not reach a report within
        ``_BUDGET_GRACE_S`` (a long iteration, a sleep) are killed and end TERMINATED with
        their last results, as Ray Tune ends its trials at ``time_budget_s``."""
        if self._budget_kill_at is None or self.executor.now() < self._budget_kill_at:
            return
        if not self.executor.can_kill:  # (inline) the trial stops at its next report
            self._budget_kill_at = None
            return
        for trial_id in list(self._active):
            if self.executor.running_since(trial_id) is None:
                continue  # queued: it ends as cancelled
            for event in self.executor.kill(trial_id, "stopped at time_budget_s"):
                if isinstance(event, Lost):
                    self._on_lost(Lost(event.trial_id, event.reason, False))
                elif isinstance(event, Ended) and event.trial_id == trial_id:
                    trial = self.trials[trial_id]
                    self._active.discard(trial_id)
                    self._stopping.discard(trial_id)
                    self._pending.pop(trial_id, None)
                    self._checkpoint_error.pop(trial_id, None)
                    self._set_status(trial, TrialStatus.TERMINATED)
                else:
                    self._handle(event)

    def _check_timeouts(self) -> None:
        if self.trial_timeout_s is None:
            return
        now = self.executor.now()
        for trial_id in list(self._active):
            since = self.executor.running_since(trial_id)
            if since is not None and now - since > self.trial_timeout_s:
                reason = (f"trial {trial_id} exceeded trial_timeout_s={self.trial_timeout_s} "
                          "and was stopped")
                for event in self.executor.kill(trial_id, reason):
                    if isinstance(event, Lost):
                        self._on_lost(Lost(event.trial_id, event.reason, False))
                    else:
                        self._handle(event)

    def settle(self) -> None:
        """The run is ending early (a fatal error, ``fail_fast``, Ctrl-C, a full disk): every
        trial that is not final is journaled PENDING, which ``rs.load`` and ``raysweep ls``
        show as waiting to run (a resume restarts it from its last journaled checkpoint),
        never RUNNING. Replay treats a PENDING status like a RUNNING trial's."""
        for trial in self.trials.values():
            if trial.status in (TrialStatus.RUNNING, TrialStatus.PENDING):
                self._set_status(trial, TrialStatus.PENDING)
        self._flush(sync=True)

    def _finish_paused(self) -> None:
        for trial in self.trials.values():
            if trial.status is TrialStatus.PAUSED:
                self._set_status(trial, TrialStatus.TERMINATED)

    # ---------------------------------------------------------------------------- output
    def _journal(self, event: dict[str, Any]) -> None:
        if self.storage is not None:
            self.storage.append(event)

    def _flush(self, sync: bool = False) -> None:
        """Write the batch of journal events, then carry out the checkpoint deletions the
        batch allows (write-ahead rule 2, see ``execution/checkpoints.py``: a batch that lets
        a checkpoint go is fsynced first). A failed journal write raises before any
        deletion, so the journaled checkpoints stay."""
        if self.storage is None:
            return
        self.storage.flush(sync=sync or self._book.deletions_waiting)
        self._book.delete_doomed()

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(f"raysweep: {text}", stacklevel=3)
            logger.warning("raysweep: %s", text)


class _GcFreezer:
    """Keeps Python's cyclic garbage collector off the trials of a big sweep.

    Each full collection walks every live container, and a sweep keeps one Trial record per
    trial: at 10^6 trials full collections made each event about 15% dearer than at 10^4.
    Every ``every`` new trials this collects once and ``gc.freeze()``s what survived (the
    trials so far among it), which later collections skip; ``release`` (end of the run)
    ``gc.unfreeze()``s it all. It acts only when the collector is on and nothing else in the
    process froze objects (``gc.freeze`` is process-wide and all-or-nothing to undo).
    """

    def __init__(self, every: int = 10_000) -> None:
        self.every = every
        self.active = gc.isenabled() and gc.get_freeze_count() == 0
        self.next_at = every
        self.frozen = False

    def step(self, trials: int) -> None:
        if self.active and trials >= self.next_at:
            self.next_at = trials + self.every
            gc.collect()
            gc.freeze()
            self.frozen = True

    def release(self) -> None:
        if self.frozen:
            self.frozen = False
            gc.unfreeze()


def check_resume(settings: dict[str, Any], stored: dict[str, Any]) -> None:
    """Refuse to resume an experiment whose metric, mode or space changed."""
    for key in ("metric", "mode", "space"):
        if stored.get(key) != settings.get(key):
            raise ResumeMismatch(
                f"cannot resume: {key} changed (stored {stored.get(key)!r}, now "
                f"{settings.get(key)!r}); use a new name for a different experiment")


