"""The few exception types raysweep raises on purpose."""

from __future__ import annotations


class RaysweepError(Exception):
    """Base class of raysweep's own errors."""


class InvalidSpace(RaysweepError, ValueError):
    """A search space (or one of its domains) is malformed."""


class MissingMetric(RaysweepError, KeyError):
    """A trial's results never contained the metric the experiment optimises."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ResumeMismatch(RaysweepError, ValueError):
    """An experiment was resumed with settings that differ from the stored ones."""


class CorruptJournal(RaysweepError):
    """The experiment journal cannot be read (other than a torn last line)."""


class ExperimentLocked(RaysweepError, ValueError):
    """Another live driver is already writing this experiment directory (a ValueError too:
    the name given is one that cannot be used now)."""


class TrialError(RaysweepError):
    """Raised by ``fail_fast=True`` runs: carries the failing trial's traceback text."""


def add_note(error: BaseException, note: str) -> None:
    """Attach ``note`` to ``error`` (shown under its traceback). Python 3.10 has no
    ``BaseException.add_note``: there the note is logged instead, so it is never lost."""
    adder = getattr(error, "add_note", None)
    if adder is not None:
        adder(note)
    else:
        import logging

        logging.getLogger("raysweep").warning("%s", note)
