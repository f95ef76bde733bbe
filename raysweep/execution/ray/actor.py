"""The worker actor: a long-lived Ray process hosting the trial runtime of ``worker.py``."""

from __future__ import annotations

from typing import Any

import cloudpickle
import ray

from raysweep.execution.messages import message_from_wire, to_wire
from raysweep.execution.ray.markers import _RunMarker
from raysweep.execution.worker import _Runtime


class _WorkerActor:
    """A long-lived worker process; reconfigured (not recreated) for each experiment."""

    def __init__(self) -> None:
        self._runtime: _Runtime | None = None
        self._marker = _RunMarker(ray.get_runtime_context().get_actor_id())

    def configure(self, objective: Any, metric: str, mode: str,
                  stop_blob: bytes) -> tuple[str, str | None]:
        # ``objective`` arrives deserialized by Ray (it was ``ray.put``), so ObjectRefs the
        # objective captured keep their owner and ``ray.get`` works inside trials
        if self._runtime is not None:
            self._runtime.close()
        stop = cloudpickle.loads(stop_blob)
        self._runtime = _Runtime(objective, metric=metric, mode=mode, stop=stop,
                                 mark=self._marker.mark)
        return ray.get_runtime_context().get_node_id(), self._marker.path

    def release(self) -> bool:
        """Drop the experiment's objective; True when the worker is clean enough to reuse."""
        runtime, self._runtime = self._runtime, None
        if runtime is None:
            return True
        clean = runtime.idle
        runtime.close()
        return clean

    def handle(self, messages: list[tuple]) -> list[tuple]:
        """Messages and events travel as ``messages.to_wire`` tuples (smaller, faster)."""
        assert self._runtime is not None, "configure() first"
        events = self._runtime.handle([message_from_wire(m) for m in messages])
        return [to_wire(event) for event in events]


#: The actor class (typed Any: Ray's stubs know neither ``max_concurrency`` here nor
#: ``.options`` on the result). Concurrent calls: one may wait in ``handle`` for the trial's
#: next events while an urgent one (a PAUSE/STOP) comes in.
WorkerActor: Any = ray.remote(max_concurrency=4)(_WorkerActor)  # type: ignore[call-overload]
