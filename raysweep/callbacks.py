"""Callbacks: hooks users (and loggers) attach to a run with ``callbacks=[...]``."""

from __future__ import annotations

from typing import Any

from raysweep.trial import Trial


class Callback:
    """Subclass and override any hook; each receives plain data, never the controller.

    Example:
        >>> import raysweep as rs
        >>> class PrintBest(rs.Callback):
        ...     def on_trial_complete(self, trial):
        ...         print(trial.trial_id, trial.status.value, trial.last_result)
    """

    def on_trial_start(self, trial: Trial) -> None:
        """A trial (new, resumed, forked or retried) was handed to a worker."""

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> None:
        """A trial reported ``result``."""

    def on_trial_complete(self, trial: Trial) -> None:
        """A trial ended (``trial.status`` is TERMINATED or ERROR)."""

    def on_experiment_end(self, results: Any) -> None:
        """The run ended; ``results`` is the ``raysweep.Results``."""
