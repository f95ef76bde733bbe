"""The ``Callback`` base class, and ``ReportSink``: a logger that takes reports pre-encoded."""

from __future__ import annotations

import abc
from typing import Any, TypeGuard

from raysweep.trial import Trial

__all__ = ["Callback", "ReportSink", "takes_encoded_reports"]


class Callback:
    """Subclass and override any hook; each receives plain data, never the controller.

    Example:
        >>> import raysweep as rs
        >>> class PrintBest(rs.Callback):
        ...     def on_trial_complete(self, trial):
        ...         print(trial.trial_id, trial.status.value, trial.last_result)
    """

    def on_experiment_start(self, path: str, settings: dict[str, Any]) -> None:
        """The run is about to start trials; ``path`` is the experiment directory."""

    def on_trial_start(self, trial: Trial) -> None:
        """A trial (new, resumed, forked or retried) was handed to a worker."""

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> None:
        """A trial reported ``result``."""

    def on_trial_complete(self, trial: Trial) -> None:
        """A trial ended (``trial.status`` is TERMINATED or ERROR)."""

    def on_experiment_end(self, results: Any) -> None:
        """The run ended; ``results`` is the ``raysweep.Results``."""



class ReportSink(Callback, abc.ABC):
    """A logger that can take each report as the run's journal already encoded it.

    The run hands a ``ReportSink`` every report through ``log_report`` (with the journal's
    JSON text of the result, so a file logger writes it without encoding it again) instead
    of ``on_trial_result``. A subclass that overrides ``on_trial_result`` opts out: the run
    then calls its ``on_trial_result`` like any callback's. ``CSVLogger`` and ``JSONLLogger``
    are sinks; called by hand, ``on_trial_result`` logs through ``log_report`` too.

    Example:
        >>> import raysweep as rs
        >>> from raysweep.callbacks import ReportSink
        >>> class Lines(ReportSink):
        ...     def __init__(self):
        ...         self.lines = []
        ...     def log_report(self, trial, result, encoded):
        ...         self.lines.append(encoded)
    """

    @abc.abstractmethod
    def log_report(self, trial: Trial, result: dict[str, Any], encoded: str | None) -> None:
        """Log one report of ``trial``.

        Args:
            trial: The trial that reported.
            result: The result as the trial reported it: no ``trial_id`` key is added (it has
                one only if the trial reported one). Read it, do not change it.
            encoded: The journal's JSON text of ``result`` (an object, ``{...}``), or None
                when there is none (a run without a journal, or a call through
                ``on_trial_result``).
        """

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> None:
        self.log_report(trial, result, None)


def takes_encoded_reports(callback: Callback) -> TypeGuard[ReportSink]:
    """Whether the run hands ``callback`` each report through ``ReportSink.log_report``
    (a ``ReportSink`` that did not override ``on_trial_result``) rather than through
    ``on_trial_result``."""
    return isinstance(callback, ReportSink) and \
        type(callback).on_trial_result is ReportSink.on_trial_result


def _scalar(value: Any) -> float | None:
    """A loggable number (bools and non-numbers are not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and getattr(value, "ndim", 1) == 0:
        try:
            number = item()
        except (TypeError, ValueError):
            return None
        return float(number) if isinstance(number, (int, float)) and \
            not isinstance(number, bool) else None
    return None

