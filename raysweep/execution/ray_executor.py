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
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import cloudpickle
import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError

from raysweep.decisions import Decision
from raysweep.execution.base import Executor
from raysweep.execution.messages import (Decide, Ended, EndKind, Event, Lost, Message, Start,
                                         event_from_wire, message_from_wire, to_wire)
from raysweep.execution.worker import _Runtime

logger = logging.getLogger("raysweep")

_GROW_CHECK_S = 3.0
_SHORT_TRIAL_S = 0.005  # trials shorter than this get deeper per-worker queues
_MAX_DEPTH = 16
_WAIT_WARN_S = 60.0
_FULL_POOL_WAIT_S = 10.0  # once one worker is up, how long setup waits for the others
_MARK_BYTES = 64


def _last_line(exc: BaseException) -> str:
    """The last non-empty line of an exception's text (Ray's carry a remote traceback)."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(exc).__name__


@ray.remote(max_concurrency=4)
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


class _RunMarker:
    """A tiny file holding the id of the trial this worker is running ("" when idle).

    The driver keeps the next trial queued on each worker, so when a worker dies the driver
    cannot tell from its messages whether the trial it last heard of was still running or had
    ended (that reply may have died with the process) and a queued one had begun. The file
    outlives the process: a driver on the same machine reads it to charge the failure to the
    right trial. Writing it costs one ``pwrite`` per trial.
    """

    def __init__(self, actor_id: str) -> None:
        self.path: str | None = None
        self._fd: int | None = None
        try:
            directory = os.path.join(tempfile.gettempdir(), "raysweep-workers")
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, actor_id)
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            self.path = path
        except OSError:  # no writable temp dir: the driver falls back to its own view
            self._fd = None

    def mark(self, trial_id: str) -> None:
        if self._fd is not None:
            try:
                os.pwrite(self._fd, trial_id.encode().ljust(_MARK_BYTES), 0)
            except (OSError, AttributeError):  # AttributeError: no os.pwrite on this OS
                pass


def _sweep_markers(max_age_s: float = 86400.0) -> None:
    """Remove marker files nobody has written for a day (workers Ray shut down itself, e.g.
    with their driver, leave theirs behind; a live worker rewrites its own at every trial)."""
    directory = os.path.join(tempfile.gettempdir(), "raysweep-workers")
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        try:
            if now - entry.stat().st_mtime > max_age_s:
                os.unlink(entry.path)
        except OSError:
            pass


def _drop_marker(actor: Any) -> None:
    """Remove the marker file of a worker the driver killed (when it is on this machine)."""
    try:
        os.unlink(os.path.join(tempfile.gettempdir(), "raysweep-workers", actor._actor_id.hex()))
    except (OSError, AttributeError):
        pass


def _read_marker(path: str | None) -> str | None:
    """The trial a dead worker was running ("" if idle), or None when its marker cannot be
    read here (another machine); the file is removed."""
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MARK_BYTES)
        os.unlink(path)
    except OSError:
        return None
    return data.decode(errors="replace").strip()


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
        _drop_marker(actor)


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
    marker: str | None = None  # path of the worker's ``_RunMarker`` file
    ready: bool = False
    outstanding: list = field(default_factory=list)
    pending: list[Message] = field(default_factory=list)
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


def _check_reachable(address: str) -> None:
    """A ``host:port`` (or ``ray://host:port``) that nothing answers at is a clear error at
    once (``ray.init`` would retry for minutes)."""
    target = address[len("ray://"):] if address.startswith("ray://") else address
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", "local" and other forms: Ray's own business
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5.0):
            return
    except OSError as exc:
        raise ConnectionError(
            f"could not connect to the Ray cluster at address={address!r}: nothing answers "
            f"there ({exc.strerror or exc}); check the address and that the cluster is up "
            "(ray status), or leave address unset for a local Ray") from None


class _DropTokenNotice(logging.Filter):
    """Ray's notice that the Ray we start has token authentication on: in a local sweep that
    is how it should be and the user has nothing to do, so it is left out of the console.
    (The warning that authentication is *disabled* does matter and still shows.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Token authentication is enabled")


_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"


def _start_local_ray(announce: bool) -> None:
    """Start the Ray a local sweep needs: no dashboard, listening on the loopback interface
    only, quiet unless something matters; say at once what is happening.

    Ray keeps a local Ray on loopback by itself on macOS and Windows (its
    ``ENABLE_RAY_CLUSTER`` switch, to avoid firewall prompts); on Linux it would resolve
    ``127.0.0.1`` to the machine's outside address and let the GCS, raylet and workers listen
    on every interface. The switch is turned off for the duration of ``ray.init`` only, so
    the node's address is ``127.0.0.1`` and Ray's servers bind to loopback (the session's
    node keeps that address; nothing else reads the switch). Should a Ray release move it,
    the sweep still starts, with Ray's default binding.
    """
    try:
        from ray._private.utils import get_num_cpus  # noqa: PLC0415 - what Ray will use

        cpus = int(get_num_cpus())
    except Exception:  # noqa: BLE001 - private API may move
        cpus = os.cpu_count() or 1
    started = time.monotonic()
    if announce:
        print(f"[raysweep] starting Ray: {cpus} CPU{'s' if cpus != 1 else ''}, local, "
              "listening on 127.0.0.1 only (a few seconds) ...", file=sys.stderr, flush=True)
    quiet = {"include_dashboard": False, "logging_level": logging.WARNING,
             "configure_logging": True}
    notice = _DropTokenNotice()
    auth_logger = logging.getLogger(_AUTH_LOGGER)
    auth_logger.addFilter(notice)
    try:
        from ray._private import ray_constants  # noqa: PLC0415

        switch = ray_constants.ENABLE_RAY_CLUSTER
    except (ImportError, AttributeError):  # a Ray without the switch: its default binding
        ray_constants, switch = None, None
    try:
        if ray_constants is not None:
            ray_constants.ENABLE_RAY_CLUSTER = False
            ray.init(address="local", _node_ip_address="127.0.0.1", **quiet)
        else:
            ray.init(address="local", **quiet)
    finally:
        if ray_constants is not None:
            ray_constants.ENABLE_RAY_CLUSTER = switch
        auth_logger.removeFilter(notice)
    if announce:
        print(f"[raysweep] Ray is up ({time.monotonic() - started:.1f} s); starting workers",
              file=sys.stderr, flush=True)


def ensure_ray(address: str | None, announce: bool = False) -> None:
    """Join ``address`` / ``RAY_ADDRESS``, or start (or reuse) a local Ray.

    ``announce`` prints what is happening while a local Ray starts (it takes seconds)."""
    if ray.is_initialized():
        if address and address not in ("auto", "local"):
            try:
                current = ray.get_runtime_context().gcs_address
            except Exception:  # noqa: BLE001
                current = None
            if current != address:
                logger.warning("raysweep: Ray is already connected (to %s); address=%r is not "
                               "used. Call ray.shutdown() first to join another cluster.",
                               current, address)
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        _check_reachable(address)
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
                f"could not connect to the Ray cluster at address={address!r}: "
                f"{str(exc).rstrip('.')}. If the "
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
    _start_local_ray(announce)


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
            _drop_marker(actor)
        self._target = n_slots
        _sweep_markers()
        for _ in range(n_slots):
            self._add_slot()
        # Wait for the workers that fit now, so the first trials start on a full pool; but
        # once one is up, not for long (a node that died and still counts as alive would
        # hold the sweep back for a minute): the rest join the pool when they are ready.
        deadline = time.monotonic() + 60.0
        fit_now = min(n_slots, capacity)
        while sum(s.ready for s in self._slots) < min(fit_now, len(self._slots)) and \
                time.monotonic() < deadline:
            self._check_ready(timeout=0.5)
            if any(s.ready for s in self._slots):
                deadline = min(deadline, time.monotonic() + _FULL_POOL_WAIT_S)
            if not self._slots:
                raise RuntimeError("raysweep: no worker could be started on the Ray cluster: "
                                   f"{self._start_error}")
        self._last_grow = time.monotonic()

    @staticmethod
    def _kill(slot: _Slot) -> None:
        try:
            ray.kill(slot.actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
        _drop_marker(slot.actor)

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
        extra = self._capacity(total=False)
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
        if self.max_concurrent is not None:
            return
        bundle = {_node_key(key): amount for key, amount in self.resources.items()
                  if amount > 0}
        if not bundle:
            return
        queued = sum(max(0, len(slot.assigned) - 1) for slot in self._slots)
        wanted = len(self._slots) + queued if queued else 0
        if wanted == self._requested:
            return
        self._requested = wanted
        try:
            from ray.autoscaler.sdk import request_resources  # noqa: PLC0415

            request_resources(bundles=[dict(bundle) for _ in range(wanted)])
        except Exception as exc:  # noqa: BLE001 - a hint to the autoscaler, never fatal
            logger.debug("raysweep: could not ask the autoscaler for workers: %s", exc)

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
            events, self._cancelled = self._cancelled, []
            return events
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
        self._kill(slot)
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
            try:
                from ray.autoscaler.sdk import request_resources  # noqa: PLC0415

                request_resources(bundles=[])
            except Exception:  # noqa: BLE001
                pass
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
        self._held.clear()
