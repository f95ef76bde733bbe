"""The Executor protocol: where trials run. The controller knows nothing else about Ray.

The controller hands an executor ``start``/``decide`` calls and gets back, from ``poll`` and
``kill``, the events of ``messages.py``: ``Report``, ``Ended`` and ``Lost``.
"""

from __future__ import annotations

import abc
import time
from typing import Any

from raysweep.decisions import Decision
from raysweep.execution.messages import Event


class Executor(abc.ABC):
    """Base class of the Ray, inline and simulated executors."""

    #: Whether trials run in other processes (so the objective must be picklable).
    remote = False
    #: Whether ``kill`` can force-stop a running trial. When False the controller never calls
    #: it: a trial asked to stop (``decide``) ends at its next report.
    can_kill = True

    def check_run_arguments(  # noqa: B027 - optional: the default accepts all
            self, *, resources_per_trial: Any = None, address: Any = None,
            max_concurrent: Any = None) -> None:
        """Refuse ``raysweep.run`` arguments that mean nothing to this executor (raise
        ``ValueError`` naming the argument and the value). The default accepts all."""

    @abc.abstractmethod
    def setup(self, objective: Any, *, metric: str, mode: str, stop: Any) -> None:
        """Prepare workers for ``objective`` (ship it once)."""

    @property
    @abc.abstractmethod
    def num_slots(self) -> int:
        """How many trials can run at the same time."""

    @abc.abstractmethod
    def free_slots(self) -> int:
        """How many more trials ``start`` accepts now (running plus queued ones)."""

    @abc.abstractmethod
    def start(self, trial_id: str, config: dict[str, Any], payload: Any, start_iteration: int,
              time_total_s: float, blocking: tuple[int, ...] | None) -> None:
        """Queue a trial (from checkpoint ``payload`` when not None)."""

    @abc.abstractmethod
    def decide(self, trial_id: str, decision: Decision) -> None:
        """Answer a waiting report, or ask a running trial to pause/stop at its next report."""

    @abc.abstractmethod
    def poll(self, timeout_s: float) -> list[Event]:
        """Wait up to ``timeout_s`` for events; return every event that is ready."""

    def waiting_for_workers(self) -> bool:
        """True while workers are being (re)started, e.g. after a lost node."""
        return False

    def running_since(self, trial_id: str) -> float | None:
        """``now()`` when the trial's current run began on its worker (None if queued)."""
        return None

    @abc.abstractmethod
    def kill(self, trial_id: str, reason: str) -> list[Event]:
        """Force-stop a trial even if it never returns to Python (trial timeouts); called
        only when ``can_kill``.

        Returns the events this causes: ``Ended(trial_id, EndKind.ERROR, reason)`` for the
        trial and ``Lost`` events for trials that shared its worker.
        """

    def node_of(self, trial_id: str) -> str | None:
        """The node id running ``trial_id`` (None when not meaningful)."""
        return None

    def now(self) -> float:
        """A monotonic clock in seconds (virtual for the simulated executor)."""
        return time.monotonic()

    def wall_time(self) -> float:
        """Seconds since the epoch (virtual for the simulated executor)."""
        return time.time()

    def shutdown(self) -> None:  # noqa: B027 - optional: most executors hold nothing
        """Release workers."""
