"""What schedulers answer: a Decision for each result, a Launch when a slot is free.

Algorithms decide, the controller acts: these small values are the whole vocabulary.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Union


class Decision(str, enum.Enum):
    """A scheduler's verdict on one reported result."""

    CONTINUE = "CONTINUE"
    PAUSE = "PAUSE"  # stop at this report boundary, keep the checkpoint, free the worker
    STOP = "STOP"  # end the trial now (status TERMINATED)


@dataclass(frozen=True)
class New:
    """Start a new trial with a config from the searcher."""


@dataclass(frozen=True)
class Resume:
    """Resume a PAUSED trial from its latest checkpoint (e.g. a Hyperband promotion)."""

    trial_id: str


@dataclass(frozen=True)
class Fork:
    """Restart PAUSED trial ``trial_id`` from ``parent_id``'s latest checkpoint with ``config``.

    This is PBT's exploit-and-explore: the trial keeps its id (so the experiment keeps
    ``num_samples`` trials), its config changes, and its lineage records the donor.
    """

    trial_id: str
    parent_id: str
    config: dict[str, Any]


@dataclass(frozen=True)
class Wait:
    """Nothing to start until more results arrive."""


Launch = Union[New, Resume, Fork, Wait]

NEW = New()
WAIT = Wait()
