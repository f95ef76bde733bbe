"""FIFO: run every trial to its end; only the ``stop=`` criteria end trials early."""

from __future__ import annotations

from collections.abc import Collection

from raysweep.schedulers.base import Scheduler
from raysweep.trial import Trial


class FIFO(Scheduler):
    """Run trials in the order the searcher proposes them, each to completion.

    Example:
        >>> import raysweep as rs
        >>> sched = rs.schedulers.FIFO()
    """

    name = "fifo"
    requires_metric = False

    def blocking_iterations(self, trial: Trial) -> Collection[int]:
        return ()  # never decides on its own: the worker may run ahead and batch reports
