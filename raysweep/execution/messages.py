"""What the driver and the workers say to each other: the whole vocabulary, typed.

Driver -> worker (``Executor.start``/``decide`` and the worker runtime's ``handle``):
    ``Start``   queue a trial (from a checkpoint payload when not None)
    ``Decide``  answer a waiting report, or ask a running trial to pause/stop at its next one
    ``Cancel``  drop a queued trial that has not started

Worker -> driver (``Executor.poll``/``kill``):
    ``Report``  one result (with its checkpoint payload, or None)
    ``Ended``   the trial's run ended; ``kind`` says how (an ``EndKind``)
    ``Lost``    the process running the trial died or was killed: retry from its checkpoint

Inside the Ray executor these travel as compact tuples (``to_wire``/``from_wire``): a tuple
of plain values pickles ten times faster than the objects do; nowhere else are they tuples.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Union

from raysweep.decisions import Decision

__all__ = ["Cancel", "Decide", "EndKind", "Ended", "Event", "Lost", "Message", "Report",
           "Start", "event_from_wire", "message_from_wire", "to_wire"]


class EndKind(str, enum.Enum):
    """How a trial's run on a worker ended."""

    DONE = "done"  # the objective returned, or a Trainable said done / reached its limit
    STOPPED = "stopped"  # a stop criterion or a STOP decision ended it after a report
    PAUSED = "paused"  # a PAUSE decision: it resumes from its checkpoint later
    CANCELLED = "cancelled"  # queued on a worker and dropped before it began
    ERROR = "error"  # the objective raised (``info``: the traceback text) or it was killed


# -- driver -> worker ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Start:
    """Queue a trial on a worker.

    ``payload`` is a checkpoint payload or None; ``blocking`` is None (wait for a decision
    after every report) or the iterations whose reports wait for one.
    """

    trial_id: str
    config: dict[str, Any]
    payload: Any
    start_iteration: int
    time_total_s: float
    blocking: tuple[int, ...] | None


@dataclass(frozen=True, slots=True)
class Decide:
    """The scheduler's decision on a trial's latest report."""

    trial_id: str
    decision: Decision


@dataclass(frozen=True, slots=True)
class Cancel:
    """Drop a queued trial that has not started (it ends ``CANCELLED``)."""

    trial_id: str


# -- worker -> driver ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Report:
    """A reported result; ``waiting``: the trial is blocked until a ``Decide`` arrives."""

    trial_id: str
    result: dict[str, Any]
    payload: Any
    waiting: bool


@dataclass(frozen=True, slots=True)
class Ended:
    """A trial's run ended. ``info`` is the error text for ``EndKind.ERROR`` (else None);
    ``payload`` is the checkpoint a paused ``Trainable`` saved (else None)."""

    trial_id: str
    kind: EndKind
    info: str | None = None
    payload: Any = None


@dataclass(frozen=True, slots=True)
class Lost:
    """The process running the trial died (or was killed because another trial on it timed
    out); ``counts``: whether this counts as one of the trial's failures."""

    trial_id: str
    reason: str
    counts: bool


Message = Union[Start, Decide, Cancel]
Event = Union[Report, Ended, Lost]


# -- the Ray executor's wire format ----------------------------------------------------------
_DECISIONS = {decision.value: decision for decision in Decision}
_END_KINDS = {kind.value: kind for kind in EndKind}


def to_wire(item: Message | Event) -> tuple:
    """A compact tuple of plain values for ``item`` (only the Ray executor sends these)."""
    if isinstance(item, Report):
        return ("r", item.trial_id, item.result, item.payload, item.waiting)
    if isinstance(item, Ended):
        return ("e", item.trial_id, item.kind.value, item.info, item.payload)
    if isinstance(item, Decide):
        return ("d", item.trial_id, item.decision.value)
    if isinstance(item, Start):
        return ("s", item.trial_id, item.config, item.payload, item.start_iteration,
                item.time_total_s, item.blocking)
    if isinstance(item, Cancel):
        return ("c", item.trial_id)
    if isinstance(item, Lost):
        return ("lost", item.trial_id, item.reason, item.counts)
    raise TypeError(f"not a raysweep message: {item!r}")


def event_from_wire(wire: tuple) -> Event:
    """The ``Report``, ``Ended`` or ``Lost`` that ``to_wire`` encoded as ``wire``."""
    tag = wire[0]
    if tag == "r":
        return Report(wire[1], wire[2], wire[3], wire[4])
    if tag == "e":
        return Ended(wire[1], _END_KINDS[wire[2]], wire[3], wire[4])
    if tag == "lost":
        return Lost(wire[1], wire[2], wire[3])
    raise ValueError(f"not a raysweep wire event: {wire!r}")


def message_from_wire(wire: tuple) -> Message:
    """The ``Start``, ``Decide`` or ``Cancel`` that ``to_wire`` encoded as ``wire``."""
    tag = wire[0]
    if tag == "d":
        return Decide(wire[1], _DECISIONS[wire[2]])
    if tag == "s":
        return Start(wire[1], wire[2], wire[3], wire[4], wire[5], wire[6])
    if tag == "c":
        return Cancel(wire[1])
    raise ValueError(f"not a raysweep wire message: {wire!r}")
