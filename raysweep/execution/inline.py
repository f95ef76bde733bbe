"""An in-process executor: one trial at a time in the driver's process, no Ray.

Good for debugging (``executor="inline"``: breakpoints and prints work) and for fast,
deterministic tests of the controller.
"""

from __future__ import annotations

from typing import Any

from raysweep.decisions import Decision
from raysweep.execution.base import Executor
from raysweep.execution.messages import Decide, Ended, Event, Message, Start
from raysweep.execution.worker import _Runtime


class InlineExecutor(Executor):
    """Runs trials sequentially in a thread of the driver process."""

    #: A trial runs in a thread of the driver: it stops at its next report, never before.
    can_kill = False

    def __init__(self) -> None:
        self._runtime: _Runtime | None = None
        self._messages: list[Message] = []
        self._assigned: list[str] = []
        self._started_at: dict[str, float] = {}

    def setup(self, objective: Any, *, metric: str, mode: str, stop: Any) -> None:
        self._runtime = _Runtime(objective, metric=metric, mode=mode, stop=stop, linger_s=0.0)

    @property
    def num_slots(self) -> int:
        return 1

    def free_slots(self) -> int:
        return 0 if self._assigned else 1

    def start(self, trial_id: str, config: dict[str, Any], payload: Any, start_iteration: int,
              time_total_s: float, blocking: tuple[int, ...] | None) -> None:
        self._messages.append(Start(trial_id, config, payload, start_iteration, time_total_s,
                                    blocking))
        self._assigned.append(trial_id)
        self._started_at[trial_id] = self.now()

    def decide(self, trial_id: str, decision: Decision) -> None:
        self._messages.append(Decide(trial_id, decision))

    def poll(self, timeout_s: float) -> list[Event]:
        assert self._runtime is not None, "setup() first"
        if not self._assigned and not self._messages:
            return []
        messages, self._messages = self._messages, []
        events = self._runtime.handle(messages)
        for event in events:
            if type(event) is Ended and event.trial_id in self._assigned:
                self._assigned.remove(event.trial_id)
                self._started_at.pop(event.trial_id, None)
        return events

    def running_since(self, trial_id: str) -> float | None:
        return self._started_at.get(trial_id)

    def shutdown(self) -> None:
        """Stop the trial thread: a trial still running (after Ctrl-C or a fatal error) ends
        at its next report instead of running on in the background."""
        if self._runtime is not None:
            self._runtime.stop_all()

    def kill(self, trial_id: str, reason: str) -> list[Event]:
        """Not possible here (``can_kill`` is False): a trial in the driver's own thread can
        only be asked to stop, which ``decide`` does."""
        raise RuntimeError("the inline executor cannot kill a running trial; use the Ray "
                           "executor for trial_timeout_s")
