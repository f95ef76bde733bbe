"""Reporters: the plain-line one (logs, CI, pipes), its silent variant, and what they read
from the controller (the trial table, the executor's slots and clocks, a grid's size).

Every reporter has the two-method contract the controller relies on: ``update(controller)``
(called once per driver-loop iteration, cheap when nothing is due) and ``close()`` (draws the
final state and releases the terminal).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from raysweep.progress._state import Snapshot, _Tracker
from raysweep.progress._text import status_line, trial_line

if TYPE_CHECKING:
    from typing_extensions import Self


# --------------------------------------------------------------- what the controller tells
def _started(controller: Any) -> Callable[[str], bool] | None:
    """``trial_id -> bool``: whether a RUNNING trial has begun on its worker (None: unknown)."""
    running_since = getattr(getattr(controller, "executor", None), "running_since", None)
    if not callable(running_since):
        return None

    def started(trial_id: str) -> bool:
        try:
            return running_since(trial_id) is not None
        except Exception:  # noqa: BLE001 - an executor that cannot tell: call it running
            return True

    return started


def _grid_total(controller: Any) -> int | None:
    """What the searcher plans to propose when it ends by itself (a grid's points times its
    passes, plus ``points_to_evaluate``); ``None`` when it proposes without end."""
    searcher: Any = getattr(controller, "searcher", None)
    try:
        return searcher.planned_trials(searcher.space, searcher.num_samples)
    except Exception:  # noqa: BLE001 - not set up: no total, as before
        return None


def _slots(controller: Any) -> int | None:
    try:
        slots = controller.executor.num_slots
    except Exception:  # noqa: BLE001 - an executor that cannot tell (not set up yet)
        return None
    return slots if isinstance(slots, int) else None


# ------------------------------------------------------------------------------- reporters
class PlainReporter:
    """Plain status lines at most every ``interval_s`` seconds: for logs, CI and pipes.

    Args:
        metric: The experiment's metric.
        mode: ``"min"`` or ``"max"``.
        total: Trials expected (None when unknown, e.g. grid search).
        verbose: 0 silent, 1 status lines, 2 also a line per finished trial.
        interval_s: Seconds between status lines.
        stream: Where to write (default ``sys.stdout``).
        time_budget_s: The run's wall-clock budget, for the ETA.
        scope: ``"last"`` or ``"all"``, the rule for "best so far".

    Example:
        >>> reporter = PlainReporter(metric="loss", mode="min", total=100)  # doctest: +SKIP
    """

    prefix = "[raysweep] "

    def __init__(self, *, metric: str, mode: str, total: int | None, verbose: int = 1,
                 interval_s: float = 10.0, stream: Any = None,
                 time_budget_s: float | None = None, scope: str = "last") -> None:
        if interval_s <= 0:
            raise ValueError(f"PlainReporter: interval_s must be > 0, got {interval_s!r}")
        self.metric = metric
        self.mode = mode
        self.total = total
        self.verbose = verbose
        self.interval_s = interval_s
        self.stream = stream or sys.stdout
        self._tracker = _Tracker(metric, mode, scope, total, time_budget_s)
        self._last_line_at = time.monotonic()
        self._last_scan_at = -math.inf
        self._scan_interval_s = min(0.5, interval_s)
        self._snapshot: Snapshot | None = None
        self._slots: int | None = None
        self._clock_set = False
        self._controller: Any = None
        self._closed = False

    def _due_scan(self, controller: Any) -> Snapshot | None:
        """The trials scanned anew when a scan is due (every ``_scan_interval_s``), else
        None; the time of the scan is ``_last_scan_at``."""
        if self.verbose < 1:
            return None
        now = time.monotonic()
        if now - self._last_scan_at < self._scan_interval_s:
            return None
        self._last_scan_at = now
        self._controller = controller
        return self._scan(controller)

    def update(self, controller: Any) -> None:
        """Called every driver-loop iteration; does work only when a line is due."""
        snapshot = self._due_scan(controller)
        if snapshot is None:
            return
        now = self._last_scan_at
        if self.verbose >= 2:
            for trial in snapshot.finished_now:
                self._print(trial_line(trial, self.metric))
        if now - self._last_line_at >= self.interval_s:
            self._last_line_at = now
            self._print(status_line(snapshot, self.metric))

    def _scan(self, controller: Any) -> Snapshot:
        if not self._clock_set:
            self._clock_set = True
            self._tracker.follow_clock(getattr(controller, "executor", None))
            if self._tracker.total is None:
                self._tracker.total = self.total = _grid_total(controller)
        if self._slots is None:
            self._slots = _slots(controller)
        self._snapshot = self._tracker.scan(controller.trials, self._slots,
                                            _started(controller))
        return self._snapshot

    def line(self, controller: Any) -> str:
        """The current status line (without the prefix)."""
        return status_line(self._scan(controller), self.metric)

    def close(self) -> None:
        """Print what finished since the last scan and a final status line (once)."""
        if self._closed:
            return
        self._closed = True
        controller = self._controller
        if self.verbose < 1 or controller is None:
            return
        snapshot = self._scan(controller)
        if self.verbose >= 2:
            for trial in snapshot.finished_now:
                self._print(trial_line(trial, self.metric))
        self._print(status_line(snapshot, self.metric))

    def _print(self, text: str) -> None:
        print(self.prefix + text, file=self.stream, flush=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Silent(PlainReporter):
    def update(self, controller: Any) -> None:
        return None

    def close(self) -> None:
        return None


