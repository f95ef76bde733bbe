"""The objective's side of the worker boundary: ``report`` and ``get_checkpoint``."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

_local = threading.local()


class _StopTrial(BaseException):
    """Raised inside ``report`` to unwind an objective that was paused or stopped.

    A BaseException so that a user's ``except Exception`` does not swallow it.
    """


def _current(function: str = "report") -> Any:  # the worker's run of this thread (execution/)
    session = getattr(_local, "session", None)
    if session is None:
        raise RuntimeError(
            f"raysweep.{function}() can only be called inside an objective that "
            "raysweep.run() is running (in the thread that runs the objective)")
    return session


def report(metrics: dict[str, Any] | None = None, *, checkpoint: Any = None,
           **kwargs: Any) -> None:
    """Report one training iteration's metrics (and optionally a checkpoint).

    Each call is one iteration: ``training_iteration`` is counted for you. The scheduler's
    decision is applied here: when the trial is paused or stopped, ``report`` does not
    return (the objective is unwound cleanly).

    Args:
        metrics: A dict of numbers (or other JSON-able values) for this iteration.
        checkpoint: Anything picklable (a dict of arrays, a model, bytes) or a
            ``raysweep.Checkpoint`` of a directory. ``get_checkpoint()`` returns it after a
            pause, a worker failure, a restore or a PBT clone.
        **kwargs: Metrics given as keywords (``rs.report(loss=0.3)``).

    Example:
        >>> import raysweep as rs
        >>> def train(config):
        ...     for epoch in range(3):
        ...         rs.report({"loss": 1.0 / (epoch + 1)})
    """
    session = _current()
    if metrics is not None and not isinstance(metrics, Mapping):
        raise TypeError(f"raysweep.report: metrics must be a dict of names to values, such as "
                        f"{{'loss': 0.3}}, got {type(metrics).__name__} {_short(metrics)}")
    merged = dict(metrics) if metrics else {}
    if kwargs:
        merged.update(kwargs)
    session.report(merged, checkpoint)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def get_checkpoint() -> Any:
    """The latest checkpoint of the running trial, or ``None`` when it starts fresh."""
    return _current("get_checkpoint").get_checkpoint()


def get_trial_id() -> str:
    """The id of the trial this objective is running (``"00007"``)."""
    return _current("get_trial_id").trial_id
