"""What the display shows: a ``Snapshot`` of the trial table, kept up to date incrementally.

``_Tracker`` follows the controller's trial table: counts by status (a RUNNING trial that has
not begun on its worker is *queued*), the best trial so far under the experiment's ``Goal``,
the last few errors, the session's clock (real, or the simulated executor's virtual one) and
the bar's fraction and ETA (``_eta``).
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from raysweep._goal import Goal
from raysweep.progress._eta import fraction_and_eta
from raysweep.trial import Trial, TrialStatus

MAX_ERRORS = 3


def last_line(text: str) -> str:
    """The last non-blank line of ``text`` (a traceback's message), stripped."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


@dataclass
class Snapshot:
    """What the display shows at one moment (plain data; no rich objects)."""

    counts: dict[str, int]
    done: int
    total: int | None
    elapsed_s: float
    eta_s: float | None
    fraction: float | None
    best_value: float | None = None
    best_trial: str | None = None
    best_config: dict[str, Any] | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)
    running: int = 0
    slots: int | None = None
    queued: int = 0
    finished_now: list[Trial] = field(default_factory=list)


class _Tracker:
    """Follows the controller's trial table incrementally.

    A finished trial (TERMINATED or ERROR) never changes again within a run, so it is folded
    into the counts and the best once; each scan then touches only new and unfinished trials.
    That keeps a refresh cheap at 50,000 trials.
    """

    def __init__(self, metric: str, mode: str, scope: str, total: int | None,
                 time_budget_s: float | None) -> None:
        self.goal = Goal.of(metric, mode)
        self.metric = metric
        self.scope = scope
        self.total = total
        self.time_budget_s = time_budget_s
        self.start = time.monotonic()
        self.start_wall = time.time()
        self._elapsed: Callable[[], float] = lambda: time.monotonic() - self.start
        self._origin: float | None = None  # a virtual clock's wall time at its zero
        self._virtual_wall: Callable[[], float] | None = None
        self._seen = 0
        self._open: dict[str, Trial] = {}
        self._finished: dict[str, int] = {}
        self._best: tuple[float, Trial] | None = None
        self._errors: deque[tuple[str, str]] = deque(maxlen=MAX_ERRORS)
        self._done_before: int | None = None  # finished in earlier sessions (resume)
        self._first_run_at: float | None = None  # elapsed time when a trial first ran

    def _consider(self, trial: Trial,
                  best: tuple[float, Trial] | None) -> tuple[float, Trial] | None:
        """``best`` or ``trial``, whichever has the lower loss (an earlier best wins ties)."""
        loss = self.goal.trial_loss(trial, self.scope)
        if math.isfinite(loss) and (best is None or loss < best[0]):
            return (loss, trial)
        return best

    # -- the session's clock ----------------------------------------------------------------
    def follow_clock(self, executor: Any) -> None:
        """Measure time on ``executor``'s clock when it is virtual (the simulated executor).

        The controller's time budget and the trials' timestamps are then in virtual seconds, so
        the elapsed time, the ETA, the budget bar and the test for "finished in an earlier
        session" must be too. Call before the first ``scan``; real clocks change nothing.
        """
        now, wall = getattr(executor, "now", None), getattr(executor, "wall_time", None)
        if not callable(now) or not callable(wall):
            return
        try:
            if abs(float(now()) - time.monotonic()) <= 1.0:
                return  # the real monotonic clock
            origin = float(wall()) - float(now())
        except Exception:  # noqa: BLE001 - an executor that cannot tell: keep the real clock
            return
        if not math.isfinite(origin):
            return
        self._origin = origin
        self._virtual_wall = wall

    def _earlier(self, trial: Trial) -> bool:
        """Whether ``trial`` was created before this session (a resumed experiment)."""
        if self._origin is not None:  # virtual clock: this session's trials start at origin
            return trial.created_at < self._origin - 1e-3
        return bool(trial.created_at) and trial.created_at < self.start_wall - 1.0

    def _start_virtual(self, trials: dict[str, Trial]) -> None:
        """On a virtual clock, elapsed time counts from this session's first trial."""
        wall = self._virtual_wall
        if wall is None:
            return
        starts = [t.created_at for t in trials.values() if not self._earlier(t)]
        try:
            begin = min(starts) if starts else float(wall())
        except Exception:  # noqa: BLE001 - the clock broke: back to the real one
            self._origin = None
            return

        def elapsed() -> float:
            try:
                return max(0.0, float(wall()) - begin)
            except Exception:  # noqa: BLE001
                return 0.0

        self._elapsed = elapsed

    # -- one scan ---------------------------------------------------------------------------
    def scan(self, trials: dict[str, Trial], slots: int | None,
             started: Callable[[str], bool] | None = None) -> Snapshot:
        """Fold the trial table into a snapshot.

        ``started(trial_id)`` tells whether a RUNNING trial has begun on its worker (the
        executor's ``running_since`` is not None); without it every RUNNING trial counts as
        running. The others are shown as ``QUEUED``.
        """
        if self._done_before is None and self._origin is not None:
            self._start_virtual(trials)
        new = list(itertools.islice(trials.values(), self._seen, None))
        self._seen += len(new)
        for trial in new:
            self._open[trial.trial_id] = trial
        finished_now: list[Trial] = []
        earlier = 0
        for trial_id, trial in list(self._open.items()):
            if not trial.status.is_finished:
                continue
            del self._open[trial_id]
            status = trial.status.value
            self._finished[status] = self._finished.get(status, 0) + 1
            self._best = self._consider(trial, self._best)
            if self._done_before is None and self._earlier(trial):
                earlier += 1  # finished before this session (a resumed experiment)
                continue
            if trial.status is TrialStatus.ERROR:
                self._errors.append((trial.trial_id, last_line(trial.error or "")))
            finished_now.append(trial)
        if self._done_before is None:
            self._done_before = earlier
        counts = dict(self._finished)
        best = self._best
        running = queued = 0
        for trial in self._open.values():
            key = trial.status.value
            if trial.status is TrialStatus.RUNNING:
                if started is None or started(trial.trial_id):
                    running += 1
                else:
                    queued += 1
                    key = "QUEUED"
            counts[key] = counts.get(key, 0) + 1
            best = self._consider(trial, best)
        done = sum(self._finished.values())
        elapsed = self._elapsed()
        if self._first_run_at is None and (running or finished_now):
            self._first_run_at = elapsed
        fraction, eta = fraction_and_eta(
            done=done, total=self.total, done_before=self._done_before or 0,
            elapsed_s=elapsed, first_run_at_s=self._first_run_at, slots=slots,
            time_budget_s=self.time_budget_s)
        snapshot = Snapshot(counts=counts, done=done, total=self.total, elapsed_s=elapsed,
                            eta_s=eta, fraction=fraction, errors=list(self._errors),
                            running=running, slots=slots, queued=queued,
                            finished_now=finished_now)
        if best is not None:
            snapshot.best_value = self.goal.value_of(best[0])
            snapshot.best_trial = best[1].trial_id
            snapshot.best_config = best[1].config
        return snapshot
