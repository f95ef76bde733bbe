"""The worker side of the boundary: runs trials one after another in a dedicated thread.

The same runtime serves the Ray actor (``ray_executor``) and the in-process executor
(``inline``). The driver talks to it with ``handle(messages) -> events``: messages are
``Start``, ``Decide`` and ``Cancel``, events are ``Report`` and ``Ended`` (see ``messages.py``).

``handle`` returns as soon as there is something to say: immediately when the objective is
blocked on a decision or idle, otherwise after a short linger that lets run-ahead reports and
back-to-back short trials travel together in one reply.
"""

from __future__ import annotations

import collections
import inspect
import math
import threading
import time
import traceback
from collections.abc import Mapping
from typing import Any

import cloudpickle
import numpy as np

from raysweep import checkpoint as _ckpt
from raysweep import session as _session
from raysweep.decisions import Decision
from raysweep.execution.messages import (Cancel, Decide, Ended, EndKind, Event, Message,
                                         Report, Start)
from raysweep.trainable import Trainable

LINGER_S = 0.002


def _stop_checker(stop: Any, metric: str, mode: str):
    """Turn the ``stop=`` argument into ``f(trial_id, result) -> bool`` (or None)."""
    if stop is None:
        return None
    if callable(stop):
        try:
            signature = inspect.signature(stop)
        except (TypeError, ValueError):
            signature = None
        takes_two = True
        if signature is not None:
            try:
                signature.bind("trial_id", {})
            except TypeError:
                takes_two = False  # f(result)
        if not takes_two:
            return lambda trial_id, result: bool(stop(result))
        return lambda trial_id, result: bool(stop(trial_id, result))
    criteria = dict(stop)

    def check(trial_id: str, result: dict[str, Any]) -> bool:
        for key, threshold in criteria.items():
            value = result.get(key)
            if value is None:
                continue
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            if math.isnan(value):
                continue
            if key == metric and mode == "min":
                if value <= threshold:
                    return True
            elif value >= threshold:
                return True
        return False

    return check


class _Run:
    """One run of one trial inside the worker thread; it is the objective's session."""

    __slots__ = ("runtime", "trial_id", "config", "payload", "iteration", "time_base",
                 "blocking", "decision", "stop_request", "end_kind", "_checkpoint",
                 "_last_time", "_start", "reported", "waiting")

    def __init__(self, runtime: _Runtime, msg: Start) -> None:
        self.trial_id = msg.trial_id
        self.config = msg.config
        self.payload = msg.payload
        self.iteration = msg.start_iteration
        self.time_base = msg.time_total_s
        self.runtime = runtime
        self.blocking = None if msg.blocking is None else frozenset(msg.blocking)
        self.decision: Decision | None = None
        self.stop_request: Decision | None = None  # PAUSE/STOP asked while running ahead
        self.end_kind = EndKind.STOPPED
        self._checkpoint: Any = _MISSING
        self._start = self._last_time = time.perf_counter()
        self.reported = False
        self.waiting = False  # blocked in report() until the driver's decision arrives

    def begin(self) -> None:
        self._start = self._last_time = time.perf_counter()

    # -- the objective's API (raysweep.session) -------------------------------------------
    def get_checkpoint(self) -> Any:
        if self._checkpoint is _MISSING:
            self._checkpoint = _ckpt.from_payload(self.payload)
        return self._checkpoint

    def report(self, metrics: dict[str, Any], checkpoint: Any = None,
               final: bool = False) -> None:
        runtime = self.runtime
        # Asked to pause: this report is dropped (the trial resumes from its last checkpoint
        # and produces it again). Asked to stop: it is kept, and a final result (the value an
        # objective returned) always is: the trial ends with it.
        if self.stop_request is Decision.PAUSE and not final:
            self.end_kind = EndKind.PAUSED
            raise _session._StopTrial()
        payload = None
        if checkpoint is not None:
            try:
                payload = _ckpt.to_payload(checkpoint)
            except TypeError as exc:
                raise TypeError(f"trial {self.trial_id}: {exc}") from None
        result = {key: _plain(value) for key, value in metrics.items()}
        for key, value in result.items():
            if type(key) is not str and not isinstance(key, str):
                raise TypeError(f"trial {self.trial_id}: metric names must be strings, got "
                                f"{key!r}")
            if type(value) not in _PLAIN:
                _check_sendable(self.trial_id, key, value)
        now = time.perf_counter()
        self.iteration += 1
        self.reported = True
        result["training_iteration"] = self.iteration
        result["time_this_iter_s"] = now - self._last_time
        result["time_total_s"] = self.time_base + (now - self._start)
        self._last_time = now
        stop = runtime.stop_check is not None and runtime.stop_check(self.trial_id, result)
        if self.stop_request is not None and not final:
            stop = True  # asked to stop while running ahead: this is its last report
        waiting = not (stop or final) and (self.blocking is None or self.iteration in self.blocking)
        with runtime.cond:
            self.waiting = waiting
            runtime.emit(Report(self.trial_id, result, payload, waiting))
            if stop:
                self.end_kind = EndKind.STOPPED
                raise _session._StopTrial()
            if not waiting:
                return
            while self.decision is None:
                runtime.cond.wait()
            decision, self.decision = self.decision, None
            self.waiting = False
        if decision is Decision.CONTINUE:
            return
        self.end_kind = EndKind.PAUSED if decision is Decision.PAUSE else EndKind.STOPPED
        raise _session._StopTrial()


_MISSING = object()
_PLAIN = frozenset((float, int, str, bool, type(None), np.ndarray, np.float64, np.float32,
                    np.int64, np.int32, np.bool_))


def _check_sendable(trial_id: str, key: str, value: Any) -> None:
    """A reported value travels to the driver pickled: say which one cannot, and why (on
    Ray an unpicklable value would otherwise fail the whole reply and look like a dead
    worker)."""
    try:
        cloudpickle.dumps(value)
    except Exception as exc:  # noqa: BLE001 - any pickling failure is the user's value
        raise TypeError(
            f"trial {trial_id}: the reported value of {key!r} ({type(value).__name__}) cannot "
            f"be sent to the driver: {exc}; report numbers, strings, arrays or other "
            f"picklable values") from None


def _short(value: Any) -> str:
    text = repr(value)
    return f"({text})" if len(text) <= 60 else f"({text[:57]}...)"


def _plain(value: Any) -> Any:
    """numpy scalars become Python numbers so results are plain, JSON-friendly data."""
    if type(value) in (float, int, str, bool) or value is None:
        return value
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "ndim", None) == 0:
        try:
            return item()
        except (TypeError, ValueError):
            return value
    return value


class _Runtime:
    """Queue of trials plus the thread that runs them; thread-safe ``handle``."""

    def __init__(self, objective: Any, *, metric: str, mode: str, stop: Any = None,
                 linger_s: float = LINGER_S, mark=None) -> None:
        self.objective = objective
        # ``mark(trial_id)`` when a run begins and ``mark("")`` when it ends: a record that
        # outlives the process, so that a dead worker's culprit is known (see ray_executor)
        self.mark = mark
        self.metric = metric
        self.is_class = isinstance(objective, type) and issubclass(objective, Trainable)
        self.stop_check = _stop_checker(stop, metric, mode)
        self.linger_s = linger_s
        self.cond = threading.Condition()
        self._queue: collections.deque[_Run] = collections.deque()
        self._events: list[Event] = []
        self._first_event_at = 0.0
        self._current: _Run | None = None
        self._generation = 0
        self._thread = threading.Thread(target=self._loop, name="raysweep-trial", daemon=True)
        self._thread.start()

    # -- driver side ----------------------------------------------------------------------
    def emit(self, event: Event) -> None:  # caller holds self.cond
        if not self._events:
            self._first_event_at = time.perf_counter()
        self._events.append(event)
        self.cond.notify_all()

    def handle(self, messages: list[Message], wait: bool = True) -> list[Event]:
        with self.cond:
            self._generation += 1
            generation = self._generation
            for msg in messages:
                self._apply(msg)
            self.cond.notify_all()
            while wait:
                if self._generation != generation:
                    break  # a newer call took over; hand back what we have
                current = self._current
                idle = current is None and not self._queue
                blocked = current is not None and current.waiting and current.decision is None
                if self._events:
                    if idle or blocked:
                        break
                    remaining = self.linger_s - (time.perf_counter() - self._first_event_at)
                    if remaining <= 0:
                        break
                    self.cond.wait(remaining)
                elif idle:
                    break
                else:
                    self.cond.wait()
            events, self._events = self._events, []
            return events

    def _apply(self, msg: Message) -> None:
        if isinstance(msg, Start):
            self._queue.append(_Run(self, msg))
        elif isinstance(msg, Decide):
            trial_id, decision = msg.trial_id, msg.decision
            run = self._current
            if run is not None and run.trial_id == trial_id:
                if run.waiting:
                    run.decision = decision
                elif decision is not Decision.CONTINUE:
                    run.stop_request = decision
            elif decision is not Decision.CONTINUE:
                self._cancel(trial_id)
        elif isinstance(msg, Cancel):
            self._cancel(msg.trial_id)
        else:  # pragma: no cover - protocol bug
            raise ValueError(f"unknown worker message {msg!r}")

    def _cancel(self, trial_id: str) -> None:
        """Drop ``trial_id`` if it waits in the queue (it ends cancelled)."""
        for queued in self._queue:
            if queued.trial_id == trial_id:
                self._queue.remove(queued)
                self.emit(Ended(trial_id, EndKind.CANCELLED))
                break

    # -- objective thread -----------------------------------------------------------------
    def close(self) -> None:
        """Let the (idle) trial thread exit; used when a pooled worker is reconfigured."""
        with self.cond:
            self._closed = True
            self.cond.notify_all()

    def stop_all(self) -> None:
        """Drop queued trials, stop the running one at its next report, and let the thread
        exit: the run is over (finished, interrupted or failed) and nobody reads its events."""
        with self.cond:
            self._queue.clear()
            run = self._current
            if run is not None:
                if run.waiting:
                    run.decision = Decision.STOP
                else:
                    run.stop_request = Decision.STOP
            self._closed = True
            self.cond.notify_all()

    @property
    def idle(self) -> bool:
        with self.cond:
            return self._current is None and not self._queue and not self._events

    _closed = False

    def _loop(self) -> None:
        while True:
            with self.cond:
                while not self._queue:
                    if self._closed:
                        return
                    self.cond.wait()
                run = self._queue.popleft()
                self._current = run
            if self.mark is not None:
                self.mark(run.trial_id)
            run.begin()
            kind, info, payload = self._execute(run)
            if self.mark is not None:
                self.mark("")
            with self.cond:
                self._current = None
                self.emit(Ended(run.trial_id, kind, info, payload))

    def _execute(self, run: _Run) -> tuple[EndKind, str | None, Any]:
        _session._local.session = run
        instance = None
        try:
            if self.is_class:
                instance = self.objective(run.config)
                self._run_trainable(run, instance)
            else:
                returned = self.objective(run.config)
                if returned is not None:
                    run.report(self._as_metrics(returned), final=True)
                elif not run.reported and run.payload is None:
                    # (resumed from its final checkpoint, an objective may have nothing left)
                    raise TypeError(
                        "the objective returned None and never called raysweep.report(); "
                        "return a number or a dict of metrics, or call raysweep.report(...)")
            return EndKind.DONE, None, None
        except _session._StopTrial:
            payload = None
            if run.end_kind is EndKind.PAUSED and instance is not None:
                try:
                    payload = _ckpt.to_payload(instance.save())
                except Exception:  # noqa: BLE001 - report as the trial's error
                    return EndKind.ERROR, traceback.format_exc(), None
            return run.end_kind, None, payload
        except BaseException:  # noqa: BLE001 - any failure belongs to the trial
            return EndKind.ERROR, traceback.format_exc(), None
        finally:
            if instance is not None:
                try:
                    instance.cleanup()
                except Exception:  # noqa: BLE001
                    pass
            _session._local.session = None
            if run._checkpoint is not _MISSING:  # its copy of a directory checkpoint
                _ckpt.release(run._checkpoint)

    def _as_metrics(self, returned: Any) -> dict[str, Any]:
        if isinstance(returned, Mapping):
            return dict(returned)
        if not isinstance(returned, (str, bytes, bool, np.bool_)):
            try:
                return {self.metric: float(returned)}
            except (TypeError, ValueError):
                pass
        raise TypeError(
            f"the objective must return a number, a dict of metrics or None, got "
            f"{type(returned).__name__} {_short(returned)}")

    def _run_trainable(self, run: _Run, instance: Trainable) -> None:
        instance.setup(run.config)
        state = run.get_checkpoint()
        if state is not None:
            instance.restore(state)
        limit = self.objective.max_iterations
        save_at = run.blocking if run.blocking else frozenset()
        while True:
            metrics = instance.step()
            if not isinstance(metrics, dict):
                raise TypeError(
                    f"{self.objective.__name__}.step() must return a dict of metrics, got "
                    f"{type(metrics).__name__}")
            metrics = dict(metrics)
            done = bool(metrics.pop("done", False))
            next_iteration = run.iteration + 1
            if limit is not None and next_iteration >= limit:
                done = True
            checkpoint = None
            if done or next_iteration in save_at:
                checkpoint = instance.save()
            run.report(metrics, checkpoint=checkpoint, final=done)
            if done:
                return
