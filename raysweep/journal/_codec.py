"""The journal's one encoder and one decoder.

Encoding: ``dumps`` (compact JSON, one line, numpy scalars made plain, never failing a write)
writes every event; ``report_line`` writes the hot one, a report, from the result's JSON text
(reused by the file loggers). ``count_created`` counts trials by the exact bytes ``dumps``
writes for a ``new`` event.

Decoding: every reader (``rs.load``, resume, the CLI) goes through ``decode``, so a malformed
line is always a ``CorruptJournal`` naming the file and line.

The event kinds and their fields are listed in ``raysweep/journal/__init__.py``. A line
must be a JSON object with a string ``"e"``; the fields each kind needs must be there with
the right types (a result is a dict, an iteration an int, ...). Kinds this version does not
know are passed through (readers ignore them). A line that is not JSON at all is a torn
write when it is the file's last line (the event never happened), else corruption.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from raysweep.errors import CorruptJournal


# -- encoding ---------------------------------------------------------------------------------
def json_default(value: Any) -> Any:
    """Make numpy scalars and other oddities JSON-able (never fail a journal write)."""
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError):
            pass
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    return repr(value)


# One encoder for every journal line: ``json.dumps`` with options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=json_default)


def _c_encoder() -> Callable[[Any, int], Any] | None:
    """json's C encoder, built once (``JSONEncoder.encode`` builds one per call), with the
    options of ``_ENCODER``; None where this Python's json has no C encoder or it takes
    other arguments."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        # no circular-reference markers: the encoder keeps no state between calls (a cycle
        # ends in RecursionError, and dumps then lets the full encoder report it)
        encoder = make(None, json_default, json.encoder.encode_basestring_ascii, None, ":", ",",
                       False, False, True)
        if "".join(encoder({"a": [1.5, float("nan")], "b": None}, 0)) != \
                '{"a":[1.5,NaN],"b":null}':
            return None
    except Exception:  # noqa: BLE001 - any surprise: use the pure-Python path
        return None
    return encoder


_C_ENCODER = _c_encoder()
quote: Callable[[str], str] = json.encoder.encode_basestring_ascii


def dumps(obj: Any) -> str:
    """Compact JSON; NaN/inf stay as JSON's NaN/Infinity tokens (read back by json.loads)."""
    if _C_ENCODER is not None and type(obj) is dict:
        try:
            return "".join(_C_ENCODER(obj, 0))
        except Exception:  # noqa: BLE001 - e.g. a circular value: let the full path say so
            pass
    return _ENCODER.encode(obj)


def report_line(trial_id: str, result_text: str, checkpoint: bool) -> str:
    """The line ``dumps(journal.report(trial_id, result, checkpoint))`` writes, built from
    ``result_text = dumps(result)`` (the controller's hot path; loggers reuse that text)."""
    end = ',"ck":1}' if checkpoint else "}"
    return f'{{"e":"r","id":{quote(trial_id)},"r":{result_text}{end}'


# What ``dumps(journal.new(...))`` writes first: every created trial is one line starting so.
_NEW_PREFIX = b'\n{"e":"new",'


def count_created(path: str) -> int:
    """How many trials the journal file at ``path`` created: a scan for the bytes ``dumps``
    writes for a ``new`` event (no decoding: a resume asks before reading the journal); a
    torn last line is not one."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return 0
    data = b"\n" + data[:data.rfind(b"\n") + 1]
    return data.count(_NEW_PREFIX)


# -- decoding ---------------------------------------------------------------------------------

_STATUSES = frozenset(("PENDING", "RUNNING", "PAUSED", "TERMINATED", "ERROR"))


class _Malformed(ValueError):
    """A line that is JSON but not a valid event (never a torn write)."""


def _is_int(value: Any) -> bool:
    return type(value) is int


def _trial(event: dict) -> str | None:
    return None if type(event.get("id")) is str else "its 'id' is not a trial id string"


def _check_new(event: dict) -> str | None:
    return _trial(event) or (None if type(event.get("c")) is dict else
                             "its config 'c' is not an object")


def _check_report(event: dict) -> str | None:
    result = event.get("r")
    if type(result) is not dict:
        return _trial(event) or "its result 'r' is not an object"
    iteration = result.get("training_iteration", 0)
    if not _is_int(iteration):
        return "its training_iteration is not an integer"
    return _trial(event)


def _check_status(event: dict) -> str | None:
    if event.get("s") not in _STATUSES:
        return f"its status 's' is {event.get('s')!r}, not one of {sorted(_STATUSES)}"
    if "err" in event and not isinstance(event["err"], str):
        return "its error 'err' is not a string"
    return _trial(event)


def _check_iteration(event: dict) -> str | None:
    return _trial(event) or (None if _is_int(event.get("i", 0)) else
                             "its iteration 'i' is not an integer")


def _check_fork(event: dict) -> str | None:
    problem = _check_iteration(event)
    if problem:
        return problem
    if type(event.get("c")) is not dict:
        return "its config 'c' is not an object"
    if event["e"] == "fork" and type(event.get("p")) is not str:
        return "its parent 'p' is not a trial id string"
    checkpoint = event.get("ci")
    if checkpoint is not None and not _is_int(checkpoint):
        return "its checkpoint iteration 'ci' is not an integer"
    if "r" in event and type(event["r"]) is not dict:
        return "its result 'r' is not an object"
    return None


_CHECKS: dict[str, Callable[[dict], str | None]] = {
    "new": _check_new, "r": _check_report, "s": _check_status, "ck": _check_iteration,
    "resume": _trial, "fork": _check_fork, "unfork": _check_fork,
    "restart": _check_iteration,
}


def decode(line: bytes | str) -> dict[str, Any]:
    """One journal line as an event.

    Raises:
        ValueError: the line is not JSON (a torn write, if it is the last line).
        _Malformed: (a ValueError) it is JSON but not a valid event.
    """
    event = json.loads(line)
    if type(event) is not dict or type(event.get("e")) is not str:
        raise _Malformed("not a journal event object (a JSON object with a string 'e')")
    check = _CHECKS.get(event["e"])
    if check is not None:
        problem = check(event)
        if problem:
            raise _Malformed(f"a {event['e']!r} event whose {problem.removeprefix('its ')}")
    return event


def decode_all(data: bytes, file: str) -> list[dict[str, Any]]:
    """Every event of a journal's bytes; a torn last line is dropped."""
    lines = data.split(b"\n")
    last = len(lines) - 1
    events: list[dict[str, Any]] = []
    append = events.append
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            append(decode(line))
        except _Malformed as exc:
            raise corrupt(file, number + 1, str(exc)) from None
        except ValueError as exc:
            if number == last:  # torn write at the end: the event never happened
                break
            raise corrupt(file, number + 1, str(exc)) from None
    return events


def read(path: str) -> list[dict[str, Any]]:
    """Every event of the journal file at ``path`` (none when there is no file)."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as handle:
        data = handle.read()
    return decode_all(data, path)


def corrupt(file: str, line_number: int, reason: str) -> CorruptJournal:
    return CorruptJournal(
        f"{file}: line {line_number} is not a valid journal event ({reason}); the journal "
        "is corrupt. Move the experiment aside or repair that line.")
