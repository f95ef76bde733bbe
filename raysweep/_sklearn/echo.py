"""What a fit prints and warns on a Ray worker, replayed in the driver.

scikit-learn runs ``GridSearchCV``'s fits in the caller's process (or joblib workers whose
output the user rarely sees), so its users read the ``[CV 1/3] END ...`` lines on their
stdout and catch fit warnings with ``warnings.catch_warnings``, ``pytest.warns`` or
``-W error``. raysweep fits on Ray workers: ``capture`` records the worker's stdout and the
warnings raised while a candidate is evaluated (under the driver's warning filters, so an
``error`` filter still raises inside the fit, as it would in the caller's process), and
``replay`` prints the text and re-issues each warning with its category in the driver.

scikit-learn's callbacks (>= 1.9) send their messages to the caller's process through
``sklearn.callback._transport.send``: in the caller's process straight to the callback's
consumer, from another process over a local socket (plain ``pickle``, so not for classes
defined in a function or a script, and not from another machine). On the worker, ``capture``
takes those messages instead (one consumer per listener address), and ``replay`` hands them
to the consumers in the driver, candidate by candidate: the same messages, on any node.

Everything travels as plain JSON inside the candidate's result (the key ``WORKER_OUTPUT``).
"""

from __future__ import annotations

import base64
import contextlib
import io
import sys
import warnings
from typing import Any

import cloudpickle

try:
    from sklearn.callback import _transport
except ImportError:  # scikit-learn < 1.9: no callbacks
    _transport = None

#: The result key that carries a candidate's captured stdout and warnings.
WORKER_OUTPUT = "worker_output"

# filters whose action deduplicates by location: on the worker every warning is kept, and
# the driver's registry deduplicates once, as it would for a fit in the driver's process
_DEDUPLICATING = ("default", "module", "once")
_REGISTRIES: dict[str, dict] = {}


def driver_filters() -> list[tuple]:
    """The caller's warning filters, to apply on the worker (deduplicating actions become
    ``always``: the driver deduplicates when it re-issues)."""
    return [("always" if action in _DEDUPLICATING else action, *rest)
            for action, *rest in warnings.filters]


class Capture:
    """Records stdout and warnings on the worker; ``drain`` hands over what came so far."""

    def __init__(self, filters: list[tuple] | None) -> None:
        self.filters = filters
        self._text = io.StringIO()
        self._caught: list[warnings.WarningMessage] = []
        self._messages: list[tuple[str, Any]] = []
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Capture:
        self._caught = self._stack.enter_context(warnings.catch_warnings(record=True))
        if self.filters is not None:
            # a list at runtime (typeshed says Sequence); _filters_mutated is private, not in
            # typeshed: it is what simplefilter itself calls after changing the list
            warnings.filters[:] = [tuple(f) for f in self.filters]  # type: ignore[index]
            warnings._filters_mutated()  # type: ignore[attr-defined]  # noqa: SLF001
        self._stack.enter_context(contextlib.redirect_stdout(self._text))
        if _transport is not None:
            self._stack.enter_context(_relaying(self._messages))
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()

    def drain(self) -> dict[str, Any] | None:
        """Stdout and warnings since the last drain, as JSON (None when there were none)."""
        text = self._text.getvalue()
        self._text.seek(0)
        self._text.truncate()
        caught, self._caught[:] = list(self._caught), []
        messages, self._messages[:] = list(self._messages), []
        if not text and not caught and not messages:
            return None
        out: dict[str, Any] = {"stdout": text, "warnings": [_warning(w) for w in caught]}
        if messages:
            out["callback_messages"] = base64.b64encode(cloudpickle.dumps(messages)).decode()
        return out


class _Relay(dict):
    """``_transport._message_consumers`` on a worker: a listener of another process gets a
    consumer that keeps its messages for the driver."""

    def __init__(self, local: dict, kept: list[tuple[str, Any]]) -> None:
        super().__init__(local)
        self._kept = kept

    def get(self, address: Any, default: Any = None) -> Any:
        if address in self:
            return self[address]
        return lambda message: self._kept.append((address, message))


@contextlib.contextmanager
def _relaying(kept: list[tuple[str, Any]]) -> Any:
    local = _transport._message_consumers
    _transport._message_consumers = _Relay(local, kept)
    try:
        yield
    finally:
        _transport._message_consumers = local


def _warning(message: warnings.WarningMessage) -> dict[str, Any]:
    category = message.category
    try:
        blob = base64.b64encode(cloudpickle.dumps(category)).decode("ascii")
    except Exception:  # noqa: BLE001 - an unpicklable class: re-issued as a UserWarning
        blob = None
    return {"message": str(message.message), "category": blob,
            "category_name": f"{category.__module__}.{category.__qualname__}",
            "filename": message.filename, "lineno": message.lineno}


def _category(record: dict[str, Any]) -> type[Warning] | None:
    try:
        category = cloudpickle.loads(base64.b64decode(record["category"]))
    except Exception:  # noqa: BLE001 - e.g. a class that cannot be rebuilt here
        return None
    return category if isinstance(category, type) and issubclass(category, Warning) else None


def replay(output: dict[str, Any] | None, stream: Any = None) -> None:
    """Print a worker's captured stdout and re-issue its warnings in this process."""
    if not output:
        return
    if output.get("stdout"):
        (stream or sys.stdout).write(output["stdout"])
        (stream or sys.stdout).flush()
    if output.get("callback_messages") and _transport is not None:
        for address, message in cloudpickle.loads(base64.b64decode(output["callback_messages"])):
            consumer = _transport._message_consumers.get(address)
            if consumer is not None:  # None: the callback closed its listener
                consumer(message)
    for record in output.get("warnings", ()):
        category = _category(record)
        message = record["message"]
        if category is None:
            category = UserWarning
            message = f"{record['category_name']}: {message}"
        filename = record.get("filename") or "<raysweep worker>"
        warnings.warn_explicit(message, category, filename, record.get("lineno") or 0,
                               registry=_REGISTRIES.setdefault(filename, {}))
