"""The experiment directory: the only module that touches the disk.

Layout (see DESIGN.md)::

    <storage_path>/<name>/
      experiment.json     settings (metric, mode, space, search, scheduler, seed, version)
      journal.jsonl       append-only events, one self-contained JSON object per line
      results.csv         derived table, rewritten periodically and at the end
      trials/<trial_id>/checkpoint_<iteration>/   a trial's checkpoint, written atomically
      .lock               held (flock) by the live driver

The journal's format (every event kind and key), its encoder, decoder and fold are owned by
``raysweep.journal``; this module only writes and reads its bytes.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import signal
import socket
import tarfile
import tempfile
import time
from collections.abc import Iterator
from typing import IO, Any

from raysweep import journal
from raysweep.errors import ExperimentLocked

EXPERIMENT_FILE = "experiment.json"
JOURNAL_FILE = "journal.jsonl"
RESULTS_FILE = "results.csv"
LOCK_FILE = ".lock"
FORMAT_VERSION = 1


# The encoder lives with the journal's format; these names stay importable from here.
_json_default = journal.json_default
dumps = journal.dumps
_quote = journal.quote


# -- crash points (a private test hook) ------------------------------------------------------
# ``RAYSWEEP_CRASH_AT=k`` (read once, at import) makes the process SIGKILL itself right after
# its k-th durable action: a journal write, a checkpoint written or deleted, a results
# snapshot, a file renamed into place. tests/test_crashpoints.py sets ``_crash_at`` directly
# in forked children and tries every k of a sweep (see docs/guide/durability.md).
def _env_crash_at() -> int | None:
    value = os.environ.get("RAYSWEEP_CRASH_AT", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


_crash_at: int | None = _env_crash_at()
_crash_torn = os.environ.get("RAYSWEEP_CRASH_TORN") == "1"  # die halfway through that write
_durable_actions = 0


def _durable(kind: str) -> None:
    """Count one durable action; die here (SIGKILL: no cleanup, no flush) at the k-th."""
    global _durable_actions
    if _crash_at is None:
        return
    _durable_actions += 1
    if _durable_actions == _crash_at:
        os.kill(os.getpid(), signal.SIGKILL)


def _umask() -> int:
    """The process umask (read without changing it where /proc says it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # (racy with other threads, hence the /proc read above)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file: 0666 less the umask.
    Every file of an experiment directory gets it (``mkstemp`` alone would give 0600)."""
    return 0o666 & ~_umask()


def atomic_write(path: str, data: bytes | str, action: str = "rename") -> None:
    """Write ``data`` to ``path`` via a temp file in the same directory and a rename; the
    file's mode follows the umask, like the journal's."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _durable(action)


def default_storage_path() -> str:
    return os.path.join(os.path.expanduser("~"), "raysweep_results")


def is_experiment_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, EXPERIMENT_FILE))


def read_settings(path: str) -> dict[str, Any]:
    file = os.path.join(path, EXPERIMENT_FILE)
    if not os.path.isfile(file):
        raise FileNotFoundError(f"{path!r} is not a raysweep experiment directory "
                                f"(no {EXPERIMENT_FILE})")
    with open(file, encoding="utf-8") as handle:
        return json.load(handle)


def read_journal(path: str) -> Iterator[dict[str, Any]]:
    """Yield journal events (decoded by ``raysweep.journal``, the one decoder). A torn last
    line is ignored; a bad line elsewhere, or any line that is JSON but not a valid event,
    is ``CorruptJournal`` naming the file and line."""
    return iter(journal.read(os.path.join(path, JOURNAL_FILE)))


def running_driver(path: str) -> str | None:
    """Who holds the experiment's writer lock right now (``"pid 123 on host"``), or None
    when no live driver does (it finished, or it was killed: a lock dies with its process)."""
    try:
        handle = open(os.path.join(path, LOCK_FILE), "rb")  # noqa: SIM115
    except OSError:
        return None
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            owner = handle.read(200).decode(errors="replace").strip()
            return owner or "another process"
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return None


class ExperimentDir:
    """Writer side of one experiment directory (held by the live driver)."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self._buffer: list[str] = []
        self._journal: int | None = None  # file descriptor, opened for appending
        self._size = 0  # bytes of the journal that hold complete lines
        self._broken: OSError | None = None  # a failed write: nothing more is written
        self._lock_handle: IO[str] | None = None
        self._last_sync = time.monotonic()

    # -- lifecycle ------------------------------------------------------------------------
    def lock(self) -> None:
        """Take the single-writer lock; a crashed driver's lock dies with its process."""
        try:
            os.makedirs(self.path, exist_ok=True)
            handle = open(os.path.join(self.path, LOCK_FILE), "a+")  # noqa: SIM115
        except OSError as exc:
            raise _write_error(self.path, exc, "the experiment directory is not writable; "
                               "choose a writable storage_path") from exc
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            handle.close()
            raise ExperimentLocked(
                f"experiment {self.path!r} is already being run by {owner}; wait for it to "
                "finish or choose another name") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        self._lock_handle = handle

    def write_settings(self, settings: dict[str, Any]) -> None:
        atomic_write(os.path.join(self.path, EXPERIMENT_FILE),
                     json.dumps(settings, indent=2, default=_json_default))

    def open_journal(self) -> None:
        file = os.path.join(self.path, JOURNAL_FILE)
        try:
            # A torn last line from a killed driver must not glue onto our first event.
            if os.path.exists(file) and os.path.getsize(file) > 0:
                with open(file, "rb") as handle:
                    handle.seek(-1, os.SEEK_END)
                    torn = handle.read(1) != b"\n"
                if torn:
                    self._repair_tail(file)
            self._journal = os.open(file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            self._size = os.fstat(self._journal).st_size
        except OSError as exc:
            raise _write_error(file, exc, "the journal cannot be written") from exc

    @staticmethod
    def _repair_tail(file: str) -> None:
        """End the journal on a complete line: a last line without its newline is kept
        when it is a whole event (``read_journal`` already returned it), else cut."""
        with open(file, "rb+") as handle:
            data = handle.read()
            cut = data.rfind(b"\n") + 1
            try:
                event = json.loads(data[cut:])
                whole = isinstance(event, dict) and "e" in event
            except ValueError:
                whole = False
            if whole:
                handle.write(b"\n")
            else:
                handle.truncate(cut)

    def close(self) -> None:
        try:
            self.flush(sync=True)
        finally:
            if self._journal is not None:
                os.close(self._journal)
                self._journal = None
        if self._lock_handle is not None:
            try:
                fcntl.flock(self._lock_handle.fileno(), fcntl.LOCK_UN)
            finally:
                self._lock_handle.close()
                self._lock_handle = None

    # -- journal --------------------------------------------------------------------------
    @property
    def journal_ok(self) -> bool:
        """Whether every event appended so far can still reach the journal (it is open and no
        write failed): only then may checkpoints the journal no longer needs be deleted."""
        return self._journal is not None and self._broken is None

    def append(self, event: dict[str, Any]) -> None:
        self._buffer.append(dumps(event))

    def append_report(self, trial_id: str, result: dict[str, Any], checkpoint: bool) -> str:
        """Journal one report (the line ``append(journal.report(...))`` would write) and
        return the JSON text of ``result``, which loggers reuse rather than encode the same
        numbers again."""
        text = dumps(result)
        self._buffer.append(journal.report_line(trial_id, text, checkpoint))
        return text

    def flush(self, sync: bool = False) -> None:
        """Write buffered events (one write call); fsync when asked or once a second.

        A write that fails (disk full, a file size limit, an I/O error) is undone back to the
        last complete line and raised as an ``OSError`` naming the journal; the journal then
        stays as it was (later events are dropped), so a resume reads it whole.
        """
        if self._journal is None or self._broken is not None:
            self._buffer.clear()
            return
        fd = self._journal
        try:
            if self._buffer:
                data = ("\n".join(self._buffer) + "\n").encode()
                self._buffer.clear()  # first: an interrupted flush never writes twice
                if _crash_torn and _crash_at == _durable_actions + 1:
                    os.write(fd, data[:len(data) // 2])  # a torn write, then the crash
                    _durable("journal")
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                self._size += len(data)
                _durable("journal")
            now = time.monotonic()
            if sync or now - self._last_sync >= 1.0:
                os.fsync(fd)
                self._last_sync = now
        except OSError as exc:
            try:
                os.ftruncate(fd, self._size)  # no torn line for a resume to trip on
            except OSError:
                pass
            file = os.path.join(self.path, JOURNAL_FILE)
            self._broken = _write_error(file, exc, "the run stops here; the journal keeps "
                                        "every event before this write: make room and "
                                        "continue with resume=True")
            raise self._broken from exc

    # -- checkpoints ----------------------------------------------------------------------
    def checkpoint_dir(self, trial_id: str, iteration: int) -> str:
        return os.path.join(self.path, "trials", trial_id, f"checkpoint_{iteration:06d}")

    def write_checkpoint(self, trial_id: str, iteration: int, payload: tuple[str, bytes]) -> str:
        """Store a checkpoint payload atomically (temp dir + rename); return its directory.

        Raises:
            OSError: the disk refused (naming the directory); the run cannot go on.
            ValueError: a directory checkpoint holds what cannot be stored (e.g. a link to an
                absolute path); only that trial is at fault.
        """
        final = self.checkpoint_dir(trial_id, iteration)
        try:
            return self._write_checkpoint(final, payload)
        except OSError as exc:
            raise _write_error(final, exc, "a checkpoint cannot be stored; the journal keeps "
                               "the run up to here: make room and continue with "
                               "resume=True") from exc
        except tarfile.TarError as exc:  # FilterError: a link out of the directory
            raise ValueError(f"its checkpoint directory cannot be stored: {exc}") from None

    @staticmethod
    def _write_checkpoint(final: str, payload: tuple[str, bytes]) -> str:
        parent = os.path.dirname(final)
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".tmp-ckpt-", dir=parent)
        try:
            kind, data = payload
            if kind == "pickle":
                with open(os.path.join(tmp, "checkpoint.pkl"), "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
            else:
                os.makedirs(os.path.join(tmp, "files"))
                with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
                    tar.extractall(os.path.join(tmp, "files"), filter="data")
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp gives 0700; follow the umask
            if os.path.exists(final):
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _durable("checkpoint")
        return final

    def delete_checkpoint(self, trial_id: str, iteration: int) -> None:
        """Remove a stored checkpoint. Write-ahead: call this only once the journal holds
        (written and synced) a newer checkpoint of the trial, or the trial's end; the
        controller batches these after its journal flush (``Controller._flush``)."""
        directory = self.checkpoint_dir(trial_id, iteration)
        if os.path.isdir(directory):
            shutil.rmtree(directory, ignore_errors=True)
            _durable("delete")

    def write_results_csv(self, frame) -> None:
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        atomic_write(os.path.join(self.path, RESULTS_FILE), buffer.getvalue(), "snapshot")


def _write_error(path: str, exc: OSError, advice: str) -> OSError:
    """An ``OSError`` (same errno) that says which file could not be written and what now."""
    reason = exc.strerror or str(exc)
    return type(exc)(exc.errno, f"raysweep: could not write {path!r} ({reason}); {advice}") \
        if exc.errno is not None else OSError(f"raysweep: could not write {path!r} ({reason}); "
                                              f"{advice}")


def read_checkpoint_payload(path: str, trial_id: str, iteration: int) -> tuple[str, bytes] | None:
    """Read a stored checkpoint back as a payload for a worker (None if missing)."""
    directory = os.path.join(path, "trials", trial_id, f"checkpoint_{iteration:06d}")
    pickled = os.path.join(directory, "checkpoint.pkl")
    if os.path.isfile(pickled):
        with open(pickled, "rb") as handle:
            return ("pickle", handle.read())
    files = os.path.join(directory, "files")
    if os.path.isdir(files):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.add(files, arcname=".")
        return ("dir", buffer.getvalue())
    return None


def load_checkpoint(path: str, trial_id: str, iteration: int) -> Any:
    """Load a stored checkpoint as the user's object (or a ``Checkpoint`` for directories)."""
    from raysweep.checkpoint import Checkpoint  # noqa: PLC0415

    directory = os.path.join(path, "trials", trial_id, f"checkpoint_{iteration:06d}")
    pickled = os.path.join(directory, "checkpoint.pkl")
    if os.path.isfile(pickled):
        import cloudpickle  # noqa: PLC0415

        with open(pickled, "rb") as handle:
            return cloudpickle.load(handle)
    files = os.path.join(directory, "files")
    if os.path.isdir(files):
        return Checkpoint(files)
    return None


def list_checkpoints(path: str, trial_id: str, clean: bool = False) -> list[int]:
    """The iterations of ``trial_id``'s stored checkpoints, in order. ``clean`` (the writer,
    on restore) also removes the temp directories of checkpoint writes a killed driver cut."""
    directory = os.path.join(path, "trials", trial_id)
    if not os.path.isdir(directory):
        return []
    out = []
    for entry in os.listdir(directory):
        if clean and entry.startswith(".tmp-ckpt-"):
            shutil.rmtree(os.path.join(directory, entry), ignore_errors=True)
        elif entry.startswith("checkpoint_"):
            try:
                out.append(int(entry.split("_", 1)[1]))
            except ValueError:
                continue
    return sorted(out)
