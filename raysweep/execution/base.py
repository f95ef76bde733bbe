"""The Executor protocol: where trials run. The controller knows nothing else about Ray.

Events returned by ``poll`` are small tuples (see ``worker.py`` for "r"/"e"), plus
``("lost", trial_id, reason, counts_as_failure)`` when the process running a trial died or was
killed and the trial must be retried from its last checkpoint.
"""

from __future__ import annotations

import time
from typing import Any


class Executor:
    """Base class of the Ray, inline and simulated executors."""

    #: Whether trials run in other processes (so the objective must be picklable).
    remote = False

    def setup(self, objective: Any, *, metric: str, mode: str, stop: Any) -> None:
        """Prepare workers for ``objective`` (ship it once)."""
        raise NotImplementedError

    @property
    def num_slots(self) -> int:
        """How many trials can run at the same time."""
        raise NotImplementedError

    def free_slots(self) -> int:
        """How many more trials ``start`` accepts now (running plus queued ones)."""
        raise NotImplementedError

    def start(self, trial_id: str, config: dict[str, Any], payload: Any, start_iteration: int,
              time_total_s: float, blocking: tuple[int, ...] | None) -> None:
        """Queue a trial (from checkpoint ``payload`` when not None)."""
        raise NotImplementedError

    def decide(self, trial_id: str, decision: str) -> None:
        """Answer a waiting report, or ask a running trial to pause/stop at its next report."""
        raise NotImplementedError

    def poll(self, timeout_s: float) -> list[tuple]:
        """Wait up to ``timeout_s`` for events; return every event that is ready."""
        raise NotImplementedError

    def waiting_for_workers(self) -> bool:
        """True while workers are being (re)started, e.g. after a lost node."""
        return False

    def running_since(self, trial_id: str) -> float | None:
        """``now()`` when the trial's current run began on its worker (None if queued)."""
        return None

    def kill(self, trial_id: str, reason: str) -> list[tuple]:
        """Force-stop a trial even if it never returns to Python (trial timeouts).

        Returns the events this causes: ``("e", trial_id, "error", reason, None)`` for the
        trial and ``lost`` events for trials that shared its worker.
        """
        raise NotImplementedError

    def node_of(self, trial_id: str) -> str | None:
        """The node id running ``trial_id`` (None when not meaningful)."""
        return None

    def now(self) -> float:
        """A monotonic clock in seconds (virtual for the simulated executor)."""
        return time.monotonic()

    def wall_time(self) -> float:
        """Seconds since the epoch (virtual for the simulated executor)."""
        return time.time()

    def shutdown(self) -> None:
        """Release workers."""
