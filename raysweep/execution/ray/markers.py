"""Worker marker files: which trial a worker process was running when it died.

The driver keeps the next trial queued on each worker, so when a worker dies the driver
cannot tell from its messages alone which of its trials was running. Each worker writes the
id of the trial it runs to a small file that outlives the process (``_RunMarker``); a driver
on the same machine reads it to charge the failure to the right trial.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

_MARK_BYTES = 64


def _directory() -> str:
    return os.path.join(tempfile.gettempdir(), "raysweep-workers")


class _RunMarker:
    """A tiny file holding the id of the trial this worker is running ("" when idle).

    The driver keeps the next trial queued on each worker, so when a worker dies the driver
    cannot tell from its messages whether the trial it last heard of was still running or had
    ended (that reply may have died with the process) and a queued one had begun. The file
    outlives the process: a driver on the same machine reads it to charge the failure to the
    right trial. Writing it costs one ``pwrite`` per trial.
    """

    def __init__(self, actor_id: str | None) -> None:
        self.path: str | None = None
        self._fd: int | None = None
        if not actor_id:  # not in an actor: nothing to mark
            return
        try:
            directory = _directory()
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
    directory = _directory()
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
        os.unlink(os.path.join(_directory(), actor._actor_id.hex()))
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
