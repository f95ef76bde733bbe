"""A virtual-clock executor: N simulated workers, trials driven by a learning-curve function.

``Simulated`` runs the real controller, searchers and schedulers against trials that exist
only as a function ``curve(config, iteration) -> (duration_s, metrics)``. Nothing sleeps:
the clock jumps from one event to the next, so a simulated week of a 1,000-worker cluster
takes seconds of driver time, and the experiment directory is an ordinary one (same
journal, same DataFrames) whose timestamps are virtual.

The model follows the worker runtime of ``worker.py`` exactly, only in virtual time:

* a trial holds one worker from ``start`` until it ends; iteration ``k`` begins when
  iteration ``k - 1`` was reported (or, at a blocking iteration, when the driver's decision
  arrives) and is reported ``duration_s`` later;
* a report is ``waiting`` when its iteration is one of the scheduler's blocking iterations
  (all of them when it gives ``None``); the trial then idles until its decision arrives,
  which is on the driver's *next* ``poll`` (plus ``latency_s``), as on a real cluster;
* otherwise the trial runs ahead, and a PAUSE/STOP sent for such a report takes effect at
  its next report (a real worker only notices at ``report``): a PAUSE drops that report
  (the trial resumes from its checkpoint and makes it again), a STOP keeps it as the
  trial's last one; the last iteration of a trial is always kept;
* messages from the driver (``start``, ``decide``) are delivered at the next ``poll``;
* ``poll`` jumps straight to the next event: its timeout only bounds how long a real driver
  blocks and is not simulated, so ``time_budget_s`` and ``trial_timeout_s`` take effect at
  the first event after they expire (a real driver notices within its one-second poll).
"""

from __future__ import annotations

import heapq
import inspect
import math
import pickle
import time
import traceback
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from raysweep.decisions import Decision
from raysweep.execution.base import Executor
from raysweep.execution.messages import Ended, EndKind, Event, Report
from raysweep.execution.worker import _plain, _stop_checker

_ITERATION, _END = 0, 1  # what a heap entry does when the clock reaches it
_CHECKPOINTS = ("pause", "blocking")


class Simulated(Executor):
    """Run trials on ``workers`` simulated workers in virtual time.

    Args:
        workers: Number of simulated workers (trials running at once), >= 1.
        curve: ``curve(config, iteration) -> (duration_s, metrics)`` or
            ``curve(config, iteration, rng) -> (duration_s, metrics)`` (the ``rng`` is
            passed when the third parameter is required or named ``rng``). ``iteration``
            counts from 1; ``duration_s`` is the virtual time that iteration takes (a finite
            number >= 0); ``metrics`` is a dict of the metrics reported at its end (or a
            number, recorded under the experiment's metric). Put ``"done": True`` in the
            metrics to end the trial after this report. ``rng`` is a
            ``numpy.random.Generator`` private to the trial (seeded from ``seed``, the trial
            id and the iteration the run starts at), for noisy curves. The objective
            passed to ``raysweep.run`` is never called: pass the real one, and the same
            script runs for real when ``executor=`` is dropped.
        max_iterations: A trial ends (status TERMINATED) after this many iterations. None:
            it ends when the curve says ``done``, a ``stop=`` criterion is met or the
            scheduler stops it.
        seed: Seeds the ``rng`` handed to the curve.
        latency_s: Virtual seconds between the driver sending a message (a start, a
            decision) and the worker acting on it: the round trip of a real cluster.
        checkpoints: ``"pause"`` (default): a trial saves a checkpoint only when it is
            paused, which is all a resume needs (Hyperband). ``"blocking"``: also at every
            blocking iteration, as a ``Trainable`` does; PBT needs this to clone trials.
            A checkpoint is a tiny pickled ``{"iteration": k}`` written to the experiment
            directory like any other.
        start_time: The virtual wall clock (seconds since the epoch) at virtual time 0;
            default: the real time when the executor is created.
        include_driver_time: Also advance the clock by the driver's CPU time spent between
            polls, so that a slow controller delays waiting workers as it would on a real
            cluster (events then arrive in bigger batches). Makes runs depend on timing.

    Raises:
        ValueError: ``workers < 1`` and other bad arguments; during the run, a curve that
            returns a non-finite duration or metric (naming the trial and the iteration).

    Example:
        >>> import raysweep as rs
        >>> from raysweep.execution.simulated import Simulated
        >>> def curve(config, iteration):
        ...     return 60.0, {"loss": config["lr"] + 1.0 / iteration}
        >>> results = rs.run(train, {"lr": rs.uniform(0, 1)}, metric="loss", mode="min",
        ...                  num_samples=100, scheduler="asha", verbose=0,
        ...                  executor=Simulated(workers=16, max_iterations=27))  # doctest: +SKIP
    """

    remote = False

    def __init__(self, workers: int, curve: Callable[..., Any], *,
                 max_iterations: int | None = None, seed: int = 0, latency_s: float = 0.0,
                 checkpoints: str = "pause", start_time: float | None = None,
                 include_driver_time: bool = False) -> None:
        if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
            raise ValueError(f"Simulated: workers must be an int >= 1, got {workers!r}")
        if not callable(curve) or isinstance(curve, type):
            raise TypeError(f"Simulated: curve must be a callable (config, iteration) -> "
                            f"(duration_s, metrics), got {type(curve).__name__}")
        if max_iterations is not None and (isinstance(max_iterations, bool) or not isinstance(
                max_iterations, (int, np.integer)) or max_iterations < 1):
            raise ValueError(f"Simulated: max_iterations must be an int >= 1 or None, got "
                             f"{max_iterations!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"Simulated: seed must be an int >= 0, got {seed!r}")
        if not _is_real(latency_s) or not math.isfinite(latency_s) or latency_s < 0:
            raise ValueError(f"Simulated: latency_s must be a finite number >= 0, got "
                             f"{latency_s!r}")
        if checkpoints not in _CHECKPOINTS:
            raise ValueError(f"Simulated: checkpoints must be one of {list(_CHECKPOINTS)}, got "
                             f"{checkpoints!r}")
        if start_time is not None and (not _is_real(start_time) or not math.isfinite(start_time)):
            raise ValueError(f"Simulated: start_time must be a finite number of seconds since "
                             f"the epoch, got {start_time!r}")
        if not isinstance(include_driver_time, (bool, np.bool_)):
            raise TypeError(f"Simulated: include_driver_time must be True or False, got "
                            f"{include_driver_time!r}")
        self.workers = int(workers)
        self.curve = curve
        self.max_iterations = None if max_iterations is None else int(max_iterations)
        self.seed = int(seed)
        self.latency_s = float(latency_s)
        self.checkpoints = checkpoints
        self.include_driver_time = bool(include_driver_time)
        self._origin = time.time() if start_time is None else float(start_time)
        self._now = 0.0
        self._reset()
        #: Counters of the last run: reports, iterations run, iterations lost to run-ahead
        #: pauses, polls that returned nothing, and busy worker-seconds.
        self.stats: dict[str, float] = {}

    def _reset(self) -> None:
        self._runs: dict[str, _SimRun] = {}
        self._inbox: list[tuple[_SimRun, Decision | None]] = []
        self._heap: list[tuple] = []
        self._seq = 0
        self._fn: Callable[..., Any] | None = None
        self._with_rng = False
        self._stop_check = None
        self._metric = "loss"
        self._cpu_mark: float | None = None

    # -- protocol --------------------------------------------------------------------------
    def check_run_arguments(self, *, resources_per_trial: Any = None, address: Any = None,
                            max_concurrent: Any = None) -> None:
        """Refuse ``raysweep.run`` arguments that only mean something on Ray.

        Raises:
            ValueError: ``resources_per_trial``, ``address`` or ``max_concurrent`` is given.
        """
        rules = {
            "resources_per_trial": (resources_per_trial, "a simulated run uses no Ray resources"),
            "address": (address, "a simulated run joins no Ray cluster"),
            "max_concurrent": (max_concurrent, "Simulated(workers=...) sets the concurrency"),
        }
        for name, (value, why) in rules.items():
            if value is not None:
                raise ValueError(f"{name} must be None with executor=Simulated(...) ({why}), "
                                 f"got {value!r}")

    def setup(self, objective: Any, *, metric: str, mode: str, stop: Any) -> None:
        self._reset()
        fn = self.curve
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):
            signature = None
        if signature is not None:
            name = getattr(fn, "__name__", type(fn).__name__)
            try:
                signature.bind({}, 1)
                takes_two = True
            except TypeError:
                takes_two = False
            try:
                signature.bind({}, 1, None)
                takes_three = True
            except TypeError:
                takes_three = False
            if not (takes_two or takes_three):
                raise TypeError(f"Simulated: curve {name}{signature} must take (config, "
                                f"iteration) or (config, iteration, rng)")
            # a third parameter with a default is the curve's own (curve(c, i, scale=2.0)),
            # unless it is called rng
            self._with_rng = not takes_two or "rng" in signature.parameters
        self._fn = fn
        self._metric = metric
        self._stop_check = _stop_checker(stop, metric, mode)
        self.stats = {"reports": 0, "iterations": 0, "lost_iterations": 0, "empty_polls": 0,
                      "busy_s": 0.0}

    @property
    def num_slots(self) -> int:
        return self.workers

    def free_slots(self) -> int:
        return self.workers - len(self._runs)

    def start(self, trial_id: str, config: dict[str, Any], payload: Any, start_iteration: int,
              time_total_s: float, blocking: tuple[int, ...] | None) -> None:
        if self._fn is None:
            raise RuntimeError("Simulated: setup() must be called before start()")
        if trial_id in self._runs or len(self._runs) >= self.workers:
            why = "it is already running" if trial_id in self._runs else "no free worker"
            raise RuntimeError(f"Simulated: cannot start trial {trial_id}: {why}")
        run = _SimRun(trial_id, config, start_iteration if payload is not None else 0,
                      time_total_s, blocking)
        self._runs[trial_id] = run
        self._inbox.append((run, None))

    def decide(self, trial_id: str, decision: Decision) -> None:
        run = self._runs.get(trial_id)
        if run is not None:
            self._inbox.append((run, decision))

    def poll(self, timeout_s: float) -> list[Event]:
        if self.include_driver_time and self._cpu_mark is not None:
            self._now += max(0.0, time.process_time() - self._cpu_mark)
        self._deliver()
        heap = self._heap
        while heap and heap[0][2].gen != heap[0][3]:
            heapq.heappop(heap)  # a killed or ended run's entry
        events: list[Event] = []
        if not heap:  # every running trial waits for a decision that was never sent
            self._now += max(0.0, timeout_s)
            self.stats["empty_polls"] += 1
        else:
            # Straight to the next event: the timeout bounds how long a real driver blocks,
            # it is not simulated (see the module docstring).
            self._now = max(self._now, heap[0][0])
            now = self._now
            while heap and heap[0][0] <= now:
                _, _, run, gen, action = heapq.heappop(heap)
                if run.gen != gen:
                    continue
                if action == _ITERATION:
                    self._report(run, events)
                else:
                    self._end(run, run.end_kind, run.end_info, events)
        if self.include_driver_time:
            self._cpu_mark = time.process_time()
        return events

    def running_since(self, trial_id: str) -> float | None:
        run = self._runs.get(trial_id)
        return None if run is None else run.began

    def kill(self, trial_id: str, reason: str) -> list[Event]:
        run = self._runs.get(trial_id)
        if run is None:
            return []
        events: list[Event] = []
        self._end(run, EndKind.ERROR, reason, events)
        return events

    def now(self) -> float:
        return self._now

    def wall_time(self) -> float:
        return self._origin + self._now

    def shutdown(self) -> None:
        for run in self._runs.values():
            run.gen += 1
        self._runs.clear()
        self._heap.clear()
        self._inbox.clear()

    # -- the simulation --------------------------------------------------------------------
    def _push(self, at: float, run: _SimRun, action: int) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, run, run.gen, action))

    def _deliver(self) -> None:
        """The driver's messages reach the workers ``latency_s`` after this poll begins."""
        if not self._inbox:
            return
        inbox, self._inbox = self._inbox, []
        at = self._now + self.latency_s
        for run, decision in inbox:
            if self._runs.get(run.trial_id) is not run:
                continue  # ended meanwhile
            if decision is None:  # a start
                run.began = at
                self._begin_iteration(run, at)
            elif run.waiting:
                run.waiting = False
                if decision is Decision.CONTINUE:
                    self._begin_iteration(run, at)
                else:
                    run.gen += 1  # nothing else is scheduled for a waiting run; be safe
                    run.end_kind = EndKind.PAUSED if decision is Decision.PAUSE \
                        else EndKind.STOPPED
                    self._push(at, run, _END)
            elif decision is not Decision.CONTINUE and run.stop_request is None:
                run.stop_request = decision  # noticed at the next report

    def _begin_iteration(self, run: _SimRun, at: float) -> None:
        iteration = run.iteration + 1
        fn = self._fn
        assert fn is not None, "setup() first"
        try:
            if self._with_rng:
                if run.rng is None:
                    run.rng = np.random.default_rng(
                        [self.seed, zlib.crc32(run.trial_id.encode()), run.iteration])
                out = fn(run.config, iteration, run.rng)
            else:
                out = fn(run.config, iteration)
        except Exception:  # noqa: BLE001 - the curve's failure is the trial's, as on a worker
            run.end_kind, run.end_info = EndKind.ERROR, traceback.format_exc()
            self._push(at, run, _END)
            return
        duration, metrics = self._check(out, run.trial_id, iteration)
        run.pending = metrics
        run.duration = duration
        self._push(at + duration, run, _ITERATION)

    def _check(self, out: Any, trial_id: str, iteration: int) -> tuple[float, dict]:
        where = f"for trial {trial_id} at iteration {iteration}"
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise TypeError(f"Simulated: the curve must return (duration_s, metrics), got "
                            f"{out!r} {where}")
        duration, metrics = out
        if type(duration) is not float:
            if not _is_real(duration):
                raise TypeError(f"Simulated: the curve's duration_s must be a number, got "
                                f"{duration!r} {where}")
            duration = float(duration)
        if not (0.0 <= duration < math.inf):
            raise ValueError(f"Simulated: the curve returned duration_s={duration!r} {where}; "
                             f"it must be a finite number of seconds >= 0")
        if type(metrics) is not dict:
            if _is_real(metrics):
                metrics = {self._metric: metrics}
            elif isinstance(metrics, dict):
                metrics = dict(metrics)
            else:
                raise TypeError(f"Simulated: the curve's metrics must be a dict or a number, "
                                f"got {type(metrics).__name__} {where}")
        converted: dict[str, Any] | None = None
        for key, value in metrics.items():
            if type(key) is not str and not isinstance(key, str):
                raise TypeError(f"Simulated: metric names must be strings, got {key!r} {where}")
            kind = type(value)
            if kind is float:
                if value - value != 0.0:  # NaN or +-inf
                    raise ValueError(f"Simulated: the curve returned {key}={value!r} {where}; "
                                     f"metrics must be finite")
            elif kind is not int and kind is not str and kind is not bool and value is not None:
                plain = _plain(value)  # numpy scalars become Python numbers, as on a worker
                if _is_real(plain) and not math.isfinite(plain):
                    raise ValueError(f"Simulated: the curve returned {key}={plain!r} {where}; "
                                     f"metrics must be finite")
                if plain is not value:
                    converted = converted or {}
                    converted[key] = plain
        if converted:
            metrics = {**metrics, **converted}
        return duration, metrics

    def _report(self, run: _SimRun, events: list[Event]) -> None:
        stats = self.stats
        stats["iterations"] += 1
        stats["busy_s"] += run.duration
        assert run.pending is not None and run.began is not None  # an iteration is under way
        result = dict(run.pending)
        done = bool(result.pop("done", False))
        final = done or (self.max_iterations is not None and
                         run.iteration + 1 >= self.max_iterations)
        if run.stop_request is Decision.PAUSE and not final:  # asked while running ahead
            stats["lost_iterations"] += 1  # dropped: the resumed trial makes it again
            self._end(run, EndKind.PAUSED, None, events)
            return
        run.iteration += 1
        iteration = run.iteration
        run.pending = None
        result["training_iteration"] = iteration
        result["time_this_iter_s"] = run.duration
        result["time_total_s"] = run.time_base + (self._now - run.began)
        stop = self._stop_check is not None and self._stop_check(run.trial_id, result)
        if run.stop_request is not None and not final:
            stop = True  # asked to stop while running ahead: this is its last report
        blocking = run.blocking
        waiting = not (stop or final) and (blocking is None or iteration in blocking)
        payload = None
        if self.checkpoints == "blocking" and blocking and iteration in blocking:
            payload = _payload(iteration)
            run.saved = iteration
        stats["reports"] += 1
        events.append(Report(run.trial_id, result, payload, waiting))
        if stop:
            self._end(run, EndKind.STOPPED, None, events)
        elif final:
            self._end(run, EndKind.DONE, None, events)
        elif waiting:
            run.waiting = True
        else:
            self._begin_iteration(run, self._now)

    def _end(self, run: _SimRun, kind: EndKind, info: str | None,
             events: list[Event]) -> None:
        run.gen += 1
        del self._runs[run.trial_id]
        payload = None
        if kind is EndKind.PAUSED and run.iteration and run.saved != run.iteration:
            payload = _payload(run.iteration)
        events.append(Ended(run.trial_id, kind, info, payload))


class _SimRun:
    """One run of one trial on a simulated worker."""

    __slots__ = ("began", "blocking", "config", "duration", "end_info", "end_kind", "gen",
                 "iteration", "pending", "rng", "saved", "stop_request", "time_base", "trial_id",
                 "waiting")

    def __init__(self, trial_id: str, config: dict[str, Any], iteration: int,
                 time_base: float, blocking: tuple[int, ...] | None) -> None:
        self.trial_id = trial_id
        self.config = config
        self.iteration = iteration
        self.time_base = time_base
        self.blocking = None if blocking is None else frozenset(blocking)
        self.began: float | None = None
        self.gen = 0  # bumped when the run ends: its heap entries become stale
        self.waiting = False
        self.stop_request: Decision | None = None
        self.pending: dict[str, Any] | None = None
        self.duration = 0.0
        self.rng: np.random.Generator | None = None
        self.end_kind = EndKind.STOPPED
        self.end_info: str | None = None
        self.saved: int | None = None  # iteration of the checkpoint sent with a report


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))


def _payload(iteration: int) -> tuple[str, bytes]:
    return ("pickle", pickle.dumps({"simulated": True, "iteration": iteration}))
