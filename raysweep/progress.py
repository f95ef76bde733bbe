"""Progress output. Plain lines at a bounded rate (a live panel can replace this class)."""

from __future__ import annotations

import sys
import time
from typing import Any

from raysweep.trial import TrialStatus


class PlainReporter:
    """Prints one status line at most every ``interval_s`` seconds (``verbose >= 1``)."""

    def __init__(self, *, metric: str, mode: str, total: int | None, verbose: int = 1,
                 interval_s: float = 5.0, stream: Any = None) -> None:
        self.metric = metric
        self.mode = mode
        self.total = total
        self.verbose = verbose
        self.interval_s = interval_s
        self.stream = stream or sys.stdout
        self._last = time.monotonic()
        self._start = self._last
        self._done_seen: set[str] = set()

    def update(self, controller: Any) -> None:
        if self.verbose >= 2:
            for trial in controller.trials.values():
                if trial.status.is_finished and trial.trial_id not in self._done_seen:
                    self._done_seen.add(trial.trial_id)
                    value = (trial.last_result or {}).get(self.metric)
                    print(f"[raysweep] trial {trial.trial_id} {trial.status.value} "
                          f"{self.metric}={value} config={trial.config}", file=self.stream)
        now = time.monotonic()
        if self.verbose < 1 or now - self._last < self.interval_s:
            return
        self._last = now
        print("[raysweep] " + self.line(controller), file=self.stream, flush=True)

    def line(self, controller: Any) -> str:
        counts: dict[str, int] = {}
        for trial in controller.trials.values():
            counts[trial.status.value] = counts.get(trial.status.value, 0) + 1
        done = counts.get(TrialStatus.TERMINATED.value, 0) + counts.get(TrialStatus.ERROR.value, 0)
        total = f"/{self.total}" if self.total else ""
        parts = [f"{done}{total} done", f"{time.monotonic() - self._start:.0f}s"]
        parts += [f"{k.lower()}={v}" for k, v in sorted(counts.items())]
        return ", ".join(parts)
