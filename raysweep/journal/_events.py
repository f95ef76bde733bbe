"""The event kinds and one constructor per event the driver writes (the schema is in
``raysweep/journal/__init__.py``). Events are plain dicts, built here only: the encoder writes
their keys in this order, and readers index them by these compact keys."""

from __future__ import annotations

import enum
from typing import Any

#: A journal event as written and as decoded (a JSON object).
Event = dict[str, Any]


class Kind(str, enum.Enum):
    """The ``"e"`` of every event kind (a ``str``: ``Kind.NEW == "new"``)."""

    SESSION = "session"
    NEW = "new"
    REPORT = "r"
    STATUS = "s"
    CHECKPOINT = "ck"
    RESUME = "resume"
    FORK = "fork"
    UNFORK = "unfork"
    RESTART = "restart"
    FINISHED = "finished"

    def __str__(self) -> str:
        return self.value


# The constructors write plain ``str`` kinds: json writes a str-Enum's value, but equality
# and hashing on the plain string are what the hot paths rely on.
_SESSION, _NEW, _STATUS, _CK = "session", "new", "s", "ck"
_RESUME, _FORK, _UNFORK, _RESTART, _FINISHED = "resume", "fork", "unfork", "restart", "finished"


def session(kind: str, t: float) -> Event:
    """A driver session starts, ends, or is interrupted (``kind``)."""
    return {"e": _SESSION, "kind": kind, "t": round(t, 3)}


def new(trial_id: str, config: dict[str, Any], t: float) -> Event:
    """Trial ``trial_id`` is created with ``config`` at wall time ``t`` (not rounded here:
    the controller applies the exact time and journals it rounded)."""
    return {"e": _NEW, "id": trial_id, "c": config, "t": t}


def report(trial_id: str, result: dict[str, Any], checkpoint: bool = False) -> Event:
    """A report (the controller writes the same line faster with ``report_line``)."""
    event: Event = {"e": "r", "id": trial_id, "r": result}
    if checkpoint:
        event["ck"] = 1
    return event


def status(trial_id: str, value: str, t: float, error: str | None = None,
           node: str | None = None) -> Event:
    """Trial ``trial_id``'s status becomes ``value`` (a ``TrialStatus`` value)."""
    event: Event = {"e": _STATUS, "id": trial_id, "s": value, "t": round(t, 3)}
    if error is not None:
        event["err"] = error
    if node is not None:
        event["node"] = node
    return event


def checkpoint(trial_id: str, iteration: int) -> Event:
    """A checkpoint of ``trial_id`` was stored at ``iteration`` as it paused."""
    return {"e": _CK, "id": trial_id, "i": iteration}


def resume(trial_id: str, stalled: bool = False) -> Event:
    """A paused trial runs again (``stalled``: see the ``"x"`` key in the schema)."""
    return {"e": _RESUME, "id": trial_id, "x": 1} if stalled else {"e": _RESUME, "id": trial_id}


def fork(trial_id: str, parent_id: str, config: dict[str, Any], checkpoint_iteration: int | None,
         stalled: bool = False) -> Event:
    """``trial_id`` continues from ``parent_id``'s checkpoint at ``checkpoint_iteration``
    (None: the parent has none; it starts from scratch) with ``config``."""
    event: Event = {"e": _FORK, "id": trial_id, "p": parent_id, "c": config,
                    "i": checkpoint_iteration or 0, "ci": checkpoint_iteration}
    if stalled:
        event["x"] = 1
    return event


def unfork(trial_id: str, config: dict[str, Any], parent_id: str | None, iteration: int,
           checkpoint_iteration: int | None, result: dict[str, Any] | None) -> Event:
    """Undo a fork that produced no report: the trial's state from before it."""
    event: Event = {"e": _UNFORK, "id": trial_id, "c": config, "p": parent_id, "i": iteration,
                    "ci": checkpoint_iteration}
    if result is not None:
        event["r"] = result
    return event


def restart(trial_id: str, iteration: int, why: str, failures: int) -> Event:
    """``trial_id`` runs again from its checkpoint at ``iteration`` after a lost worker
    (``why="failure"``) or a restore (``"restore"``); ``failures`` so far."""
    return {"e": _RESTART, "id": trial_id, "i": iteration, "why": why, "n": failures}


def finished() -> Event:
    """The searcher proposes no more trials."""
    return {"e": _FINISHED}
