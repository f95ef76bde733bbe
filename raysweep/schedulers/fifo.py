"""FIFO: run every trial to its end; only the ``stop=`` criteria end trials early."""

from __future__ import annotations

from raysweep.schedulers.base import Scheduler


class FIFO(Scheduler):
    """Run trials in the order the searcher proposes them, each to completion.

    Example:
        >>> import raysweep as rs
        >>> sched = rs.schedulers.FIFO()
    """

    name = "fifo"
    requires_metric = False

    def blocking_iterations(self, trial):
        return ()  # never decides on its own: the worker may run ahead and batch reports
