"""The process-wide pool of idle worker actors, reused from one run to the next.

Starting a worker process costs seconds: a driver that runs several sweeps (a notebook, a
benchmark, a test session) hands its clean workers back here at the end of each, and the next
run with the same resource shape takes them. A timer kills them after ``_POOL_IDLE_S``
seconds idle, so they do not hold cluster resources for long.
"""

from __future__ import annotations

import threading
from typing import Any

import ray

from raysweep.execution.ray.markers import _drop_marker

# Idle workers kept between runs of one driver, keyed by Ray job and resource shape.
_POOL: dict[tuple, list[Any]] = {}

_POOL_IDLE_S = 30.0
_pool_timer: threading.Timer | None = None
_pool_lock = threading.Lock()


def kill_actor(actor: Any) -> None:
    """Kill a worker actor (quietly if it is already gone) and remove its marker file."""
    try:
        ray.kill(actor, no_restart=True)
    except Exception:  # noqa: BLE001 - from an old Ray session, or already gone
        pass
    _drop_marker(actor)


def release_workers() -> None:
    """Kill the idle pooled workers now (they also go after ``_POOL_IDLE_S`` seconds idle)."""
    with _pool_lock:
        pooled = [actor for actors in _POOL.values() for actor in actors]
        _POOL.clear()
    for actor in pooled:
        kill_actor(actor)


def claim(options: dict[str, Any]) -> None:
    """A run with actor ``options`` begins: stop the idle timer, and kill pooled workers of
    other shapes (they hold resources this run needs)."""
    _disarm_pool_timer()
    mine = _pool_key(options)
    with _pool_lock:
        stale = [a for k in [k for k in _POOL if k != mine] for a in _POOL.pop(k)]
    for actor in stale:
        kill_actor(actor)


def take(options: dict[str, Any]) -> Any | None:
    """An idle pooled worker with actor ``options``, or None."""
    with _pool_lock:
        pooled = _POOL.get(_pool_key(options))
        return pooled.pop() if pooled else None


def give_back(options: dict[str, Any], actors: list[Any]) -> None:
    """Keep clean ``actors`` for the next run; they are killed after ``_POOL_IDLE_S``."""
    with _pool_lock:
        _POOL.setdefault(_pool_key(options), []).extend(actors)
    _arm_pool_timer()


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
