"""The Trial record: the only mutable per-trial state, plain data that survives JSON."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class TrialStatus(str, enum.Enum):
    """Where a trial is in its lifecycle (see DESIGN.md)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    TERMINATED = "TERMINATED"
    ERROR = "ERROR"

    @property
    def is_finished(self) -> bool:
        return self in (TrialStatus.TERMINATED, TrialStatus.ERROR)


@dataclass(slots=True)
class Trial:
    """One configuration being evaluated.

    Attributes:
        trial_id: Short unique id within the experiment (``"00007"``).
        config: The nested config dict the objective receives.
        status: Lifecycle state.
        iteration: The last ``training_iteration`` reported (0 before any report).
        last_result: The last reported result dict (metrics plus ``training_iteration``,
            ``time_total_s``), or None.
        parent_id: For PBT, the trial whose checkpoint this one last cloned.
        num_failures: How many times the trial's worker died (retries used).
        checkpoint_iteration: Iteration of the latest saved checkpoint, or None.
        error: Traceback text when ``status`` is ERROR.
        time_total_s: Seconds of objective time across all runs of the trial.
        node_id: The Ray node that last ran the trial (None for in-process runs).
    """

    trial_id: str
    config: dict[str, Any]
    status: TrialStatus = TrialStatus.PENDING
    iteration: int = 0
    last_result: dict[str, Any] | None = None
    parent_id: str | None = None
    num_failures: int = 0
    checkpoint_iteration: int | None = None
    error: str | None = None
    time_total_s: float = 0.0
    node_id: str | None = None
    best_loss: float = float("inf")  # best sign-normalised metric seen (internal)
    best_result: dict[str, Any] | None = None  # the result holding best_loss
    created_at: float = 0.0  # wall-clock time of creation
    extra: dict[str, Any] = field(default_factory=dict)  # scheduler/controller scratch
