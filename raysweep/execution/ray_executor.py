"""The only module that imports ray: a pool of long-lived actors, one per concurrency slot.

Each actor hosts a ``_Runtime`` (see ``worker.py``). The driver keeps one call outstanding
per actor: the call carries the driver's messages (start a trial, a decision) and returns the
actor's next events, so one round trip answers a report and fetches the next one. Each actor
also keeps the next trial queued so that no core waits for the driver.
"""

from __future__ import annotations

import logging
import math
import os
import site
import socket
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import cloudpickle
import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError

from raysweep.execution.base import Executor
from raysweep.execution.worker import _Runtime

logger = logging.getLogger("raysweep")

_GROW_CHECK_S = 3.0
_SHORT_TRIAL_S = 0.005  # trials shorter than this get deeper per-worker queues
_MAX_DEPTH = 16


@ray.remote(max_concurrency=4)
class _WorkerActor:
    """A long-lived worker process; reconfigured (not recreated) for each experiment."""

    def __init__(self) -> None:
        self._runtime: _Runtime | None = None

    def configure(self, objective: Any, metric: str, mode: str, stop_blob: bytes) -> str:
        # ``objective`` arrives deserialized by Ray (it was ``ray.put``), so ObjectRefs the
        # objective captured keep their owner and ``ray.get`` works inside trials
        if self._runtime is not None:
            self._runtime.close()
        stop = cloudpickle.loads(stop_blob)
        self._runtime = _Runtime(objective, metric=metric, mode=mode, stop=stop)
        return ray.get_runtime_context().get_node_id()

    def release(self) -> bool:
        """Drop the experiment's objective; True when the worker is clean enough to reuse."""
        runtime, self._runtime = self._runtime, None
        if runtime is None:
            return True
        clean = runtime.idle
        runtime.close()
        return clean

    def handle(self, messages: list[tuple]) -> list[tuple]:
        return self._runtime.handle(messages)


# Idle workers kept between runs of one driver (a notebook, a benchmark, a test session),
# keyed by Ray job and resource shape: starting a worker process costs seconds.
_POOL: dict[tuple, list[Any]] = {}


_POOL_IDLE_S = 30.0
_pool_timer: threading.Timer | None = None
_pool_lock = threading.Lock()


def release_workers() -> None:
    """Kill the idle pooled workers now (they also go after ``_POOL_IDLE_S`` seconds idle)."""
    with _pool_lock:
        pooled = [actor for actors in _POOL.values() for actor in actors]
        _POOL.clear()
    for actor in pooled:
        try:
            ray.kill(actor, no_restart=True)
        except Exception:  # noqa: BLE001 - from an old Ray session, or already gone
            pass


def _arm_pool_timer() -> None:
    """Idle workers hold cluster resources: give them back after a while."""
    global _pool_timer
    if _pool_timer is not None:
        _pool_timer.cancel()
    _pool_timer = threading.Timer(_POOL_IDLE_S, release_workers)
    _pool_timer.daemon = True
    _pool_timer.start()


def _disarm_pool_timer() -> None:
    global _pool_timer
    if _pool_timer is not None:
        _pool_timer.cancel()
        _pool_timer = None


def _pool_key(options: dict[str, Any]) -> tuple:
    job = ray.get_runtime_context().get_job_id()
    return (job, repr(sorted(options.items())))


@dataclass(eq=False)
class _Slot:
    actor: Any
    ready_ref: Any  # resolves to the node id once the actor is placed and constructed
    node_id: str | None = None
    ready: bool = False
    outstanding: list = field(default_factory=list)
    pending: list = field(default_factory=list)
    urgent: bool = False
    assigned: list = field(default_factory=list)  # trial ids, head is running
    head_since: float = 0.0


def _split_resources(resources: dict[str, float]) -> dict[str, Any]:
    options: dict[str, Any] = {"num_cpus": 0, "num_gpus": 0}
    custom: dict[str, float] = {}
    for key, amount in resources.items():
        lowered = key.lower()
        if lowered == "cpu":
            options["num_cpus"] = amount
        elif lowered == "gpu":
            options["num_gpus"] = amount
        elif lowered == "memory":
            options["memory"] = amount
        else:
            custom[key] = amount
    if custom:
        options["resources"] = custom
    return options


def _node_key(key: str) -> str:
    lowered = key.lower()
    return {"cpu": "CPU", "gpu": "GPU", "memory": "memory"}.get(lowered, key)


def _fits(node_resources: dict[str, float], resources: dict[str, float]) -> int:
    """How many trials with ``resources`` fit on a node with ``node_resources``."""
    count = math.inf
    for key, amount in resources.items():
        if amount <= 0:
            continue
        have = node_resources.get(_node_key(key), 0.0)
        count = min(count, math.floor(have / amount + 1e-9))
    return 10**6 if count is math.inf else int(count)


def _is_local_source(module_name: str) -> bool:
    """True for modules that live outside site-packages (scripts, test files)."""
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    if not path or module_name.split(".")[0] in ("raysweep",):
        return False
    path = os.path.realpath(path)
    roots = {os.path.realpath(p) for p in site.getsitepackages() + [site.getusersitepackages()]}
    roots.add(os.path.realpath(sysconfig.get_paths()["stdlib"]))
    return not any(path.startswith(root + os.sep) for root in roots)


def _ship_code_by_value(obj: Any) -> None:
    """Make both picklers (ours and Ray's) ship the code of ``obj``'s module by value when it
    is a user module (a script, a test file) that worker processes may not be able to import."""
    module_name = getattr(obj, "__module__", None)
    if module_name and module_name != "__main__" and _is_local_source(module_name):
        register_by_value(module_name)


def register_by_value(module_name: str) -> None:
    """Pickle the code of module ``module_name`` by value, with our pickler and Ray's."""
    module = sys.modules[module_name]
    cloudpickle.register_pickle_by_value(module)
    ray.cloudpickle.register_pickle_by_value(module)


def _dumps_by_value(obj: Any) -> bytes:
    """Pickle ``obj``, shipping the code of user modules by value (workers may not have them)."""
    _ship_code_by_value(obj)
    return cloudpickle.dumps(obj)


def _recorded_cluster_reachable() -> bool:
    """Whether the head that ``ray start`` recorded in Ray's temp dir still answers."""
    try:
        from ray._private.utils import read_ray_address  # noqa: PLC0415
        address = read_ray_address()
    except Exception:  # noqa: BLE001 - private API may move; fall back to a fresh Ray
        return False
    if not address:
        return False
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            return True
    except (OSError, ValueError):
        return False


def _is_auth_failure(exc: BaseException | None) -> bool:
    """Whether ``exc`` or anything in its cause chain is an authentication failure."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = f"{type(exc).__name__} {exc}".lower()
        if "authenticationerror" in text or "invalidauthtoken" in text or \
                "authentication token" in text or "unauthenticated" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def ensure_ray(address: str | None) -> None:
    """Join ``address`` / ``RAY_ADDRESS``, or start (or reuse) a local Ray."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    quiet = {"include_dashboard": False, "logging_level": logging.WARNING,
             "configure_logging": True}
    if address:
        try:
            ray.init(address=address, logging_level=logging.WARNING)
        except Exception as exc:
            if _is_auth_failure(exc):
                mode = (os.environ.get("RAY_AUTH_MODE") or "").lower()
                why = ("RAY_AUTH_MODE is not 'token' in this process, so no token was presented"
                       if mode != "token" else "the cluster refused the token")
                raise ConnectionError(
                    f"could not authenticate with the Ray cluster at {address!r}: {why}. Set "
                    "RAY_AUTH_MODE=token and give the cluster's token in RAY_AUTH_TOKEN (or "
                    "RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token)") from exc
            raise ConnectionError(
                f"could not connect to the Ray cluster at address={address!r}: {exc}. If the "
                "cluster uses token authentication, set RAY_AUTH_MODE=token and "
                "RAY_AUTH_TOKEN") from exc
        return
    if _recorded_cluster_reachable():
        ray.init(address="auto", logging_level=logging.WARNING)
        return
    try:
        from ray._private.utils import read_ray_address  # noqa: PLC0415
        stale = read_ray_address()
    except Exception:  # noqa: BLE001
        stale = None
    if stale:
        logger.warning("raysweep: the Ray cluster recorded at %s is gone; starting a local Ray",
                       stale)
    ray.init(address="local", **quiet)


class RayExecutor(Executor):
    """Runs trials on a pool of reusable Ray actors."""

    remote = True

    def __init__(self, *, resources: dict[str, float], max_concurrent: int | None = None,
                 address: str | None = None, queue_depth: int = 2) -> None:
        self.resources = dict(resources)
        self.max_concurrent = max_concurrent
        self.address = address
        self.queue_depth = queue_depth
        self._slots: list[_Slot] = []
        self._owner: dict[Any, _Slot] = {}
        self._where: dict[str, _Slot] = {}
        self._last_grow = 0.0
        self._mean_s: float | None = None
        self._node: dict[str, str | None] = {}  # the node of each trial's latest run
        self._depth = queue_depth

    # -- setup ----------------------------------------------------------------------------
    def setup(self, objective: Any, *, metric: str, mode: str, stop: Any) -> None:
        ensure_ray(self.address)
        capacity = self._capacity(total=True)
        if capacity < 1:
            nodes = [{k: v for k, v in n["Resources"].items() if not k.startswith("node:")}
                     for n in ray.nodes() if n.get("Alive")]
            raise ValueError(
                f"resources_per_trial={self.resources!r} cannot be satisfied by any node of "
                f"the Ray cluster; its nodes have {nodes}")
        n_slots = capacity if self.max_concurrent is None else min(capacity, self.max_concurrent)
        if self.max_concurrent is None and capacity >= 10**6:  # nothing is asked of any node
            n_slots = max(1, int(ray.cluster_resources().get("CPU", 1)))  # one per CPU
        if self.max_concurrent is not None and self.max_concurrent > capacity:
            n_slots = self.max_concurrent  # more may fit once nodes join; extras wait
        _ship_code_by_value(objective)
        self._blob = ray.put(objective)  # Ray's serializer: captured ObjectRefs keep working
        self._stop_blob = cloudpickle.dumps(stop) if not callable(stop) else _dumps_by_value(stop)
        self._metric, self._mode = metric, mode
        self._options = _split_resources(self.resources)
        _disarm_pool_timer()
        mine = _pool_key(self._options)
        with _pool_lock:
            stale = [a for k in [k for k in _POOL if k != mine] for a in _POOL.pop(k)]
        for actor in stale:  # idle workers of another shape hold resources this run needs
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001 - from an old Ray session
                pass
        for _ in range(n_slots):
            self._add_slot()
        # Wait for the workers that fit now, so the first trials start on a full pool.
        deadline = time.monotonic() + 60.0
        fit_now = min(n_slots, capacity)
        while sum(s.ready for s in self._slots) < min(fit_now, len(self._slots)) and \
                time.monotonic() < deadline:
            self._check_ready(timeout=0.5)
            if not self._slots:
                raise RuntimeError("raysweep: no worker could be started on the Ray cluster")
        self._last_grow = time.monotonic()

    @staticmethod
    def _kill(slot: _Slot) -> None:
        try:
            ray.kill(slot.actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass

    def _capacity(self, *, total: bool) -> int:
        count = 0
        if total:
            for node in ray.nodes():
                if node.get("Alive"):
                    count += _fits(node["Resources"], self.resources)
            return count
        return _fits(ray.available_resources(), self.resources)

    def _add_slot(self) -> None:
        with _pool_lock:
            pooled = _POOL.get(_pool_key(self._options))
            actor = pooled.pop() if pooled else None
        if actor is None:
            actor = _WorkerActor.options(scheduling_strategy="SPREAD", max_restarts=0,
                                         **self._options).remote()
        ready = actor.configure.remote(self._blob, self._metric, self._mode, self._stop_blob)
        self._slots.append(_Slot(actor=actor, ready_ref=ready))

    def _check_ready(self, timeout: float = 0.0) -> None:
        waiting = [s for s in self._slots if not s.ready]
        if not waiting:
            return
        refs = [s.ready_ref for s in waiting]
        done, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout)
        done = set(done)
        for slot in waiting:
            if slot.ready_ref in done:
                try:
                    slot.node_id = ray.get(slot.ready_ref)
                    slot.ready = True
                except RayError as exc:
                    logger.warning("raysweep: a worker failed to start: %s", exc)
                    self._slots.remove(slot)

    def _maybe_grow(self) -> None:
        now = time.monotonic()
        if now - self._last_grow < _GROW_CHECK_S:
            return
        self._last_grow = now
        if any(not s.ready for s in self._slots):
            return
        if self.max_concurrent is not None and len(self._slots) >= self.max_concurrent:
            return
        if self.max_concurrent is None and all(v <= 0 for v in self.resources.values()):
            return  # trials that ask for nothing "fit" without bound: setup chose the pool
        extra = self._capacity(total=False)
        if self.max_concurrent is not None:
            extra = min(extra, self.max_concurrent - len(self._slots))
        for _ in range(max(0, extra)):
            self._add_slot()

    # -- protocol -------------------------------------------------------------------------
    @property
    def num_slots(self) -> int:
        return len(self._slots)

    def waiting_for_workers(self) -> bool:
        self._maybe_grow()
        return any(not s.ready for s in self._slots)

    def free_slots(self) -> int:
        self._check_ready()
        return sum(max(0, self._depth - len(s.assigned)) for s in self._slots if s.ready)

    def start(self, trial_id, config, payload, start_iteration, time_total_s, blocking):
        candidates = [s for s in self._slots if s.ready and len(s.assigned) < self._depth]
        slot = min(candidates, key=lambda s: len(s.assigned))
        slot.pending.append(("s", trial_id, config, payload, start_iteration, time_total_s,
                             blocking))
        if not slot.assigned:
            slot.head_since = time.monotonic()
        slot.assigned.append(trial_id)
        self._where[trial_id] = slot
        self._node[trial_id] = slot.node_id

    def decide(self, trial_id: str, decision: str) -> None:
        slot = self._where.get(trial_id)
        if slot is None:
            return
        slot.pending.append(("d", trial_id, decision))
        if decision != "CONTINUE":
            slot.urgent = True

    def node_of(self, trial_id: str) -> str | None:
        return self._node.get(trial_id)

    def running_since(self, trial_id: str) -> float | None:
        slot = self._where.get(trial_id)
        if slot is None or not slot.assigned or slot.assigned[0] != trial_id:
            return None
        return slot.head_since

    def poll(self, timeout_s: float) -> list[tuple]:
        self._maybe_grow()
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
        events: list[tuple] = []
        for ref in ready:
            slot = self._owner.pop(ref)
            slot.outstanding.remove(ref)
            if slot not in self._slots:
                continue
            try:
                batch = ray.get(ref)
            except (RayActorError, RayError, GetTimeoutError) as exc:
                events.extend(self._lose(slot, f"worker process died: {exc}"))
                continue
            for event in batch:
                if event[0] == "e":
                    self._finish(slot, event[1])
            events.extend(batch)
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
        if self._mean_s < _SHORT_TRIAL_S:
            self._depth = int(min(_MAX_DEPTH, max(self.queue_depth,
                                                  _SHORT_TRIAL_S / max(self._mean_s, 1e-6))))
        else:
            self._depth = self.queue_depth

    def _call(self, slot: _Slot, messages: list[tuple]) -> None:
        ref = slot.actor.handle.remote(messages)
        slot.outstanding.append(ref)
        self._owner[ref] = slot

    def _lose(self, slot: _Slot, reason: str, *, culprit: str | None = None) -> list[tuple]:
        """Drop a dead (or killed) actor; its trials come back as ``lost`` events."""
        events = []
        for index, trial_id in enumerate(slot.assigned):
            if trial_id == culprit:
                continue
            events.append(("lost", trial_id, reason, index == 0))
            if self._where.get(trial_id) is slot:
                del self._where[trial_id]
        slot.assigned = []
        for ref in slot.outstanding:
            self._owner.pop(ref, None)
        slot.outstanding = []
        if slot in self._slots:
            self._slots.remove(slot)
        try:
            ray.kill(slot.actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
        self._last_grow = 0.0  # replace it as soon as resources allow
        return events

    def kill(self, trial_id: str, reason: str) -> list[tuple]:
        slot = self._where.get(trial_id)
        if slot is None:
            return []
        events = self._lose(slot, "worker killed to stop a timed-out trial", culprit=trial_id)
        events.append(("e", trial_id, "error", reason, None))
        return events

    def shutdown(self) -> None:
        """Return clean workers to the pool; kill busy or broken ones."""
        keep, releases = [], []
        for slot in self._slots:
            if slot.ready and not slot.assigned and not slot.outstanding:
                keep.append(slot)
                releases.append(slot.actor.release.remote())
            else:
                self._kill(slot)
        if releases:
            done, _ = ray.wait(releases, num_returns=len(releases), timeout=5.0)
            done = set(done)
            clean_actors = []
            for slot, ref in zip(keep, releases):
                try:
                    clean = ref in done and ray.get(ref)
                except RayError:
                    clean = False
                if clean:
                    clean_actors.append(slot.actor)
                else:
                    self._kill(slot)
            with _pool_lock:
                _POOL.setdefault(_pool_key(self._options), []).extend(clean_actors)
            _arm_pool_timer()
        self._slots = []
        self._owner.clear()
        self._where.clear()
