"""An in-process executor: one trial at a time in the driver's process, no Ray.

Good for debugging (``executor="inline"``: breakpoints and prints work) and for fast,
deterministic tests of the controller.
"""

from __future__ import annotations

from typing import Any

from raysweep.execution.base import Executor
from raysweep.execution.worker import _Runtime


class InlineExecutor(Executor):
    """Runs trials sequentially in a thread of the driver process."""

    def __init__(self) -> None:
        self._runtime: _Runtime | None = None
        self._messages: list[tuple] = []
        self._assigned: list[str] = []
        self._started_at: dict[str, float] = {}

    def setup(self, objective: Any, *, metric: str, mode: str, stop: Any) -> None:
        self._runtime = _Runtime(objective, metric=metric, mode=mode, stop=stop, linger_s=0.0)

    @property
    def num_slots(self) -> int:
        return 1

    def free_slots(self) -> int:
        return 0 if self._assigned else 1

    def start(self, trial_id, config, payload, start_iteration, time_total_s, blocking):
        self._messages.append(("s", trial_id, config, payload, start_iteration, time_total_s,
                               blocking))
        self._assigned.append(trial_id)
        self._started_at[trial_id] = self.now()

    def decide(self, trial_id: str, decision: str) -> None:
        self._messages.append(("d", trial_id, decision))

    def poll(self, timeout_s: float) -> list[tuple]:
        assert self._runtime is not None, "setup() first"
        if not self._assigned and not self._messages:
            return []
        messages, self._messages = self._messages, []
        events = self._runtime.handle(messages)
        for event in events:
            if event[0] == "e" and event[1] in self._assigned:
                self._assigned.remove(event[1])
                self._started_at.pop(event[1], None)
        return events

    def running_since(self, trial_id: str) -> float | None:
        return self._started_at.get(trial_id)

    def shutdown(self) -> None:
        """Stop the trial thread: a trial still running (after Ctrl-C or a fatal error) ends
        at its next report instead of running on in the background."""
        if self._runtime is not None:
            self._runtime.stop_all()

    def kill(self, trial_id: str, reason: str) -> list[tuple]:
        raise NotImplementedError("the inline executor cannot kill a running trial; "
                                  "use the Ray executor for trial_timeout_s")
