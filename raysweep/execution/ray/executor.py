"""The Ray executor: a pool of long-lived actors, one per concurrency slot.

Each actor hosts a ``_Runtime`` (see ``worker.py``). The driver keeps one call outstanding
per actor: the call carries the driver's messages (start a trial, a decision) and returns the
actor's next events, so one round trip answers a report and fetches the next one. Each actor
also keeps the next trial queued so that no core waits for the driver.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import cloudpickle
import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError

from raysweep.decisions import Decision
from raysweep.execution.base import Executor
from raysweep.execution.messages import (Decide, Ended, EndKind, Event, Lost, Message, Start,
                                         event_from_wire, to_wire)
from raysweep.execution.ray import pool
from raysweep.execution.ray.actor import WorkerActor
from raysweep.execution.ray.connect import ensure_ray
from raysweep.execution.ray.markers import _read_marker, _sweep_markers
from raysweep.execution.ray.resources import _split_resources, capacity, request_workers
from raysweep.execution.ray.shipping import _dumps_by_value, _ship_code_by_value

logger = logging.getLogger("raysweep")

_GROW_CHECK_S = 3.0
_SHORT_TRIAL_S = 0.005  # trials shorter than this get deeper per-worker queues
_MAX_DEPTH = 16
_WAIT_WARN_S = 60.0
_FULL_POOL_WAIT_S = 10.0  # once one worker is up, how long setup waits for the others


def _last_line(exc: BaseException) -> str:
    """The last non-empty line of an exception's text (Ray's carry a remote traceback)."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(exc).__name__


@dataclass(eq=False)
class _Slot:
    actor: Any
    ready_ref: Any  # resolves to the node id once the actor is placed and constructed
    node_id: str | None = None
    marker: str | None = None  # path of the worker's ``_RunMarker`` file
    ready: bool = False
    outstanding: list = field(default_factory=list)
    pending: list[Message] = field(default_factory=list)
    urgent: bool = False
    assigned: list = field(default_factory=list)  # trial ids, head is running
    head_since: float = 0.0


class RayExecutor(Executor):
    """Runs trials on a pool of reusable Ray actors."""

    remote = True

    def __init__(self, *, resources: dict[str, float], max_concurrent: int | None = None,
                 address: str | None = None, queue_depth: int = 2, verbose: int = 1,
                 prequeue: bool = True) -> None:
        self.verbose = verbose  # >= 1: say what happens while a local Ray starts
        # prequeue=False: a worker holds only the trial it runs, so trials handed out and
        # not yet finished never exceed the workers (max_concurrent): what a learning
        # searcher proposes then always sees every earlier result (same seed, same results
        # order -> same configs). True queues trials ahead on each worker (throughput).
        if not prequeue:
            queue_depth = 1
        self.prequeue = prequeue
        self.resources = dict(resources)
        self.max_concurrent = max_concurrent
        self.address = address
        self.queue_depth = queue_depth
        self._slots: list[_Slot] = []
        self._owner: dict[Any, _Slot] = {}
        self._where: dict[str, _Slot] = {}
        self._cancelled: list[Event] = []
        self._last_grow = 0.0
        self._mean_s: float | None = None
        self._node: dict[str, str | None] = {}  # the node of each trial's latest run
        self._depth = queue_depth
        # Trials that shared a worker that died while two or more of its trials were in
        # flight: the driver cannot tell which one was running (the reply saying the first one
        # ended may have died with the process), so none is charged a failure and each runs
        # next alone on a worker, where a second death is its own.
        self._suspects: set[str] = set()
        self._held: list[Start] = []  # start messages of suspects waiting for an idle worker
        self._target = 0  # workers wanted; lost ones are replaced up to this
        self._start_error: str | None = None
        self._requested = 0  # workers last asked of an autoscaler (_signal_demand)
        self._waiting_since: float | None = None

    # -- setup ----------------------------------------------------------------------------
    def setup(self, objective: Any, *, metric: str, mode: str, stop: Any) -> None:
        ensure_ray(self.address, announce=self.verbose >= 1)
        room = capacity(self.resources, total=True)
        if room < 1:
            nodes = [{k: v for k, v in n["Resources"].items() if not k.startswith("node:")}
                     for n in ray.nodes() if n.get("Alive")]
            raise ValueError(
                f"resources_per_trial={self.resources!r} cannot be satisfied by any node of "
                f"the Ray cluster; its nodes have {nodes}")
        n_slots = room if self.max_concurrent is None else min(room, self.max_concurrent)
        if self.max_concurrent is None and room >= 10**6:  # nothing is asked of any node
            n_slots = max(1, int(ray.cluster_resources().get("CPU", 1)))  # one per CPU
        if self.max_concurrent is not None and self.max_concurrent > room:
            n_slots = self.max_concurrent  # more may fit once nodes join; extras wait
        _ship_code_by_value(objective)
        self._blob = ray.put(objective)  # Ray's serializer: captured ObjectRefs keep working
        self._stop_blob = cloudpickle.dumps(stop) if not callable(stop) else _dumps_by_value(stop)
        self._metric, self._mode = metric, mode
        self._options = _split_resources(self.resources)
        pool.claim(self._options)
        self._target = n_slots
        _sweep_markers()
        for _ in range(n_slots):
            self._add_slot()
        # Wait for the workers that fit now, so the first trials start on a full pool; but
        # once one is up, not for long (a node that died and still counts as alive would
        # hold the sweep back for a minute): the rest join the pool when they are ready.
        deadline = time.monotonic() + 60.0
        fit_now = min(n_slots, room)
        while sum(s.ready for s in self._slots) < min(fit_now, len(self._slots)) and \
                time.monotonic() < deadline:
            self._check_ready(timeout=0.5)
            if any(s.ready for s in self._slots):
                deadline = min(deadline, time.monotonic() + _FULL_POOL_WAIT_S)
            if not self._slots:
                raise RuntimeError("raysweep: no worker could be started on the Ray cluster: "
                                   f"{self._start_error}")
        self._last_grow = time.monotonic()

    def _add_slot(self) -> None:
        actor = pool.take(self._options)
        if actor is None:
            actor = WorkerActor.options(scheduling_strategy="SPREAD", max_restarts=0,
                                         **self._options).remote()
        ready = actor.configure.remote(self._blob, self._metric, self._mode, self._stop_blob)
        self._slots.append(_Slot(actor=actor, ready_ref=ready))

    def _check_ready(self, timeout: float = 0.0) -> None:
        waiting = [s for s in self._slots if not s.ready]
        if not waiting:
            return
        refs = [s.ready_ref for s in waiting]
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout)
        finished = set(done)
        for slot in waiting:
            if slot.ready_ref in finished:
                try:
                    slot.node_id, slot.marker = ray.get(slot.ready_ref)
                    slot.ready = True
                except RayError as exc:
                    logger.warning("raysweep: a worker failed to start: %s", exc)
                    self._start_error = _last_line(exc)
                    self._slots.remove(slot)

    def _maybe_grow(self) -> None:
        now = time.monotonic()
        if now - self._last_grow < _GROW_CHECK_S:
            return
        self._last_grow = now
        self._signal_demand()
        if any(not s.ready for s in self._slots):
            return
        if self.max_concurrent is not None and len(self._slots) >= self.max_concurrent:
            return
        if self.max_concurrent is None and all(v <= 0 for v in self.resources.values()):
            return  # trials that ask for nothing "fit" without bound: setup chose the pool
        extra = capacity(self.resources, total=False)
        if self.max_concurrent is not None:
            extra = min(extra, self.max_concurrent - len(self._slots))
        for _ in range(max(0, extra)):
            self._add_slot()
        self._target = max(self._target, len(self._slots))

    def _signal_demand(self) -> None:
        """Tell the cluster's autoscaler, if it has one, how many workers this sweep could
        use: one per worker now, plus one per trial waiting in a worker's queue.

        Without ``max_concurrent`` the pool is sized to the nodes that exist, so an
        autoscaler would see no waiting work and never add a node; with this it adds nodes
        while trials queue, and the pool grows onto them (``_maybe_grow``). A cluster
        without an autoscaler ignores the request. With ``max_concurrent`` the workers that
        do not fit yet wait to be placed, which is demand enough.
        """
        if self.max_concurrent is not None or all(v <= 0 for v in self.resources.values()):
            return
        queued = sum(max(0, len(slot.assigned) - 1) for slot in self._slots)
        wanted = len(self._slots) + queued if queued else 0
        if wanted != self._requested:
            self._requested = wanted
            request_workers(self.resources, wanted)

    # -- protocol -------------------------------------------------------------------------
    @property
    def num_slots(self) -> int:
        return len(self._slots)

    def waiting_for_workers(self) -> bool:
        self._maybe_grow()
        waiting = any(not s.ready for s in self._slots) or bool(self._held)
        if not waiting:
            self._waiting_since = None
        elif self._waiting_since is None:
            self._waiting_since = time.monotonic()
        elif time.monotonic() - self._waiting_since > _WAIT_WARN_S:
            self._waiting_since = math.inf  # warn once per wait
            logger.warning("raysweep: no trial has run for %.0f s: waiting for the Ray cluster "
                           "to place workers with resources %s", _WAIT_WARN_S, self.resources)
        return waiting

    def free_slots(self) -> int:
        self._check_ready()
        if self._held:  # let workers drain so that suspects get one to themselves
            return 0
        return sum(max(0, self._depth - len(s.assigned)) for s in self._slots
                   if s.ready and not (s.assigned and s.assigned[0] in self._suspects))

    def start(self, trial_id: str, config: dict[str, Any], payload: Any, start_iteration: int,
              time_total_s: float, blocking: tuple[int, ...] | None) -> None:
        message = Start(trial_id, config, payload, start_iteration, time_total_s, blocking)
        if trial_id in self._suspects:
            self._held.append(message)
            self._place_held()
            return
        candidates = [s for s in self._slots if s.ready and len(s.assigned) < self._depth
                      and not (s.assigned and s.assigned[0] in self._suspects)]
        self._assign(min(candidates, key=lambda s: len(s.assigned)), message)

    def _assign(self, slot: _Slot, message: Start) -> None:
        trial_id = message.trial_id
        slot.pending.append(message)
        if not slot.assigned:
            slot.head_since = time.monotonic()
        slot.assigned.append(trial_id)
        self._where[trial_id] = slot
        self._node[trial_id] = slot.node_id

    def _place_held(self) -> None:
        """Give each held suspect an idle worker of its own, as they become idle."""
        while self._held:
            idle = [s for s in self._slots if s.ready and not s.assigned]
            if not idle:
                return
            self._assign(idle[0], self._held.pop(0))

    def decide(self, trial_id: str, decision: Decision) -> None:
        slot = self._where.get(trial_id)
        if slot is None:
            for index, message in enumerate(self._held):
                if message.trial_id == trial_id and decision is not Decision.CONTINUE:
                    del self._held[index]  # never started: it ends as a cancelled queued one
                    self._cancelled.append(Ended(trial_id, EndKind.CANCELLED))
                    break
            return
        slot.pending.append(Decide(trial_id, decision))
        if decision is not Decision.CONTINUE:
            slot.urgent = True

    def node_of(self, trial_id: str) -> str | None:
        return self._node.get(trial_id)

    def running_since(self, trial_id: str) -> float | None:
        slot = self._where.get(trial_id)
        if slot is None or not slot.assigned or slot.assigned[0] != trial_id:
            return None
        return slot.head_since

    def poll(self, timeout_s: float) -> list[Event]:
        self._maybe_grow()
        self._check_ready()
        self._place_held()
        if self._cancelled:
            cancelled, self._cancelled = self._cancelled, []
            return cancelled
        for slot in self._slots:
            if slot.pending and (not slot.outstanding or slot.urgent):
                self._call(slot, slot.pending)
                slot.pending, slot.urgent = [], False
            elif not slot.outstanding and slot.assigned:
                self._call(slot, [])
        refs = list(self._owner)
        if not refs:
            if any(not s.ready for s in self._slots):
                self._check_ready(timeout=timeout_s)
            return []
        ready, _ = ray.wait(refs, num_returns=1, timeout=timeout_s)
        if not ready:
            return []
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        events: list[Event] = []
        for ref in ready:
            slot = self._owner.pop(ref)
            slot.outstanding.remove(ref)
            if slot not in self._slots:
                continue
            try:
                batch = ray.get(ref)
            except RayActorError as exc:
                events.extend(self._lose(slot, f"worker process died: {exc}"))
                continue
            except (RayError, GetTimeoutError) as exc:  # the call failed, not the process
                events.extend(self._lose(slot, f"worker call failed: {_last_line(exc)}"))
                continue
            for wire in batch:
                event = event_from_wire(wire)
                if isinstance(event, Ended):
                    self._finish(slot, event.trial_id)
                    self._suspects.discard(event.trial_id)  # it ran alone; its worker lived
                events.append(event)
        return events

    def _finish(self, slot: _Slot, trial_id: str) -> None:
        if trial_id in slot.assigned:
            was_head = slot.assigned[0] == trial_id
            slot.assigned.remove(trial_id)
            if was_head:
                now = time.monotonic()
                self._observe_duration(now - slot.head_since)
                slot.head_since = now
        if self._where.get(trial_id) is slot:
            del self._where[trial_id]

    def _observe_duration(self, seconds: float) -> None:
        """Queue more trials per worker when trials are much shorter than a round trip.

        With trials of a few microseconds, a round trip per trial is the whole cost; letting
        each call carry several queued trials amortises it. Longer trials keep the default
        (one running, one queued), so searchers do not see needless pending trials.
        """
        self._mean_s = seconds if self._mean_s is None else 0.9 * self._mean_s + 0.1 * seconds
        if self._mean_s < _SHORT_TRIAL_S and self.prequeue:
            self._depth = int(min(_MAX_DEPTH, max(self.queue_depth,
                                                  _SHORT_TRIAL_S / max(self._mean_s, 1e-6))))
        else:
            self._depth = self.queue_depth

    def _call(self, slot: _Slot, messages: list[Message]) -> None:
        ref = slot.actor.handle.remote([to_wire(message) for message in messages])
        slot.outstanding.append(ref)
        self._owner[ref] = slot

    def _lose(self, slot: _Slot, reason: str, *, culprit: str | None = None) -> list[Event]:
        """Drop a dead (or killed) actor and start its replacement; its trials come back as
        ``lost`` events. The failure is charged to the trial the worker was running, as its
        ``_RunMarker`` says; where that cannot be read, to a trial that had the worker to
        itself, and otherwise to none (see ``_suspects``)."""
        events: list[Event] = []
        alone = len(slot.assigned) == 1
        running = _read_marker(slot.marker) if culprit is None else None
        for trial_id in slot.assigned:
            if trial_id == culprit:
                continue
            if culprit is not None:
                counts = False
            elif running is not None:  # the worker's own record says who was running
                counts = trial_id == running
            else:
                counts = alone
                if not alone:
                    self._suspects.add(trial_id)
            events.append(Lost(trial_id, reason, counts))
            if self._where.get(trial_id) is slot:
                del self._where[trial_id]
        slot.assigned = []
        for ref in slot.outstanding:
            self._owner.pop(ref, None)
        slot.outstanding = []
        if slot in self._slots:
            self._slots.remove(slot)
        pool.kill_actor(slot.actor)
        if len(self._slots) < self._target:  # Ray places it once resources are free again
            self._add_slot()
        return events

    def kill(self, trial_id: str, reason: str) -> list[Event]:
        slot = self._where.get(trial_id)
        if slot is None:
            return []
        events = self._lose(slot, "worker killed to stop a timed-out trial", culprit=trial_id)
        events.append(Ended(trial_id, EndKind.ERROR, reason))
        return events

    def shutdown(self) -> None:
        """Return clean workers to the pool; kill busy or broken ones."""
        if self._requested:  # the sweep needs no more: withdraw the autoscaler request
            self._requested = 0
            request_workers(self.resources, 0)
        keep, releases = [], []
        for slot in self._slots:
            if slot.ready and not slot.assigned and not slot.outstanding:
                keep.append(slot)
                releases.append(slot.actor.release.remote())
            else:
                pool.kill_actor(slot.actor)
        if releases:
            done, _ = ray.wait(releases, num_returns=len(releases), timeout=5.0)
            finished = set(done)
            clean_actors = []
            for slot, ref in zip(keep, releases):
                try:
                    clean = ref in finished and ray.get(ref)
                except RayError:
                    clean = False
                if clean:
                    clean_actors.append(slot.actor)
                else:
                    pool.kill_actor(slot.actor)
            pool.give_back(self._options, clean_actors)
        self._slots = []
        self._owner.clear()
        self._where.clear()
        self._held.clear()
