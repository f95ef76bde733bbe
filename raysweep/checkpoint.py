"""Checkpoints: any picklable object, or a directory wrapped in ``Checkpoint``.

On the worker a checkpoint becomes a *payload* (``("pickle", bytes)`` or ``("dir", tar
bytes)``) so that it travels to the driver through Ray's object store and can be written to
disk there without the driver ever unpickling user objects.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import cloudpickle

Payload = tuple[str, bytes]


class Checkpoint:
    """A checkpoint that is a directory of files (model weights written by a framework).

    Example:
        >>> import tempfile, raysweep as rs
        >>> d = tempfile.mkdtemp()
        >>> ckpt = rs.Checkpoint.from_directory(d)
        >>> ckpt.path == d
        True

    Inside an objective, ``rs.report(metrics, checkpoint=rs.Checkpoint.from_directory(d))``
    ships the directory's contents to the driver (symbolic links are followed: the files they
    point to are copied); ``rs.get_checkpoint()`` later returns a ``Checkpoint`` whose
    ``path`` holds a private copy of those files. As with Ray Tune's ``Checkpoint``, read
    them with ``to_directory()`` or ``with ckpt.as_directory() as path: ...``.
    """

    __slots__ = ("path",)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    @classmethod
    def from_directory(cls, path: str | os.PathLike[str]) -> Checkpoint:
        """Wrap an existing directory. Raises ``ValueError`` if it is not a directory."""
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"Checkpoint.from_directory: path must be a str or os.PathLike, "
                            f"got {type(path).__name__}")
        if not os.path.isdir(path):
            raise ValueError(f"Checkpoint.from_directory: {os.fspath(path)!r} is not a directory")
        return cls(path)

    def to_directory(self, path: str | os.PathLike[str] | None = None) -> str:
        """Copy the checkpoint's files to ``path`` (a new temp dir by default); return it.

        Files already in ``path`` are kept unless the checkpoint has a file of the same name.
        ``path`` may be the checkpoint's own directory (nothing is copied).
        """
        if not os.path.isdir(self.path):
            raise FileNotFoundError(f"Checkpoint.to_directory: the checkpoint's directory "
                                    f"{self.path!r} does not exist (any more)")
        target = os.fspath(path) if path is not None else tempfile.mkdtemp(prefix="raysweep_ckpt_")
        if os.path.exists(target) and os.path.samefile(target, self.path):
            return target
        shutil.copytree(self.path, target, dirs_exist_ok=True)
        return target

    @contextlib.contextmanager
    def as_directory(self) -> Iterator[str]:
        """Context manager giving a local directory with the checkpoint's files (its own).

        Example:
            >>> with ckpt.as_directory() as path:  # doctest: +SKIP
            ...     model.load(os.path.join(path, "model.pt"))
        """
        if not os.path.isdir(self.path):
            raise FileNotFoundError(f"Checkpoint.as_directory: the checkpoint's directory "
                                    f"{self.path!r} does not exist (any more)")
        yield self.path

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Checkpoint):
            return NotImplemented
        return os.path.abspath(self.path) == os.path.abspath(other.path)

    def __hash__(self) -> int:
        return hash(os.path.abspath(self.path))

    def __repr__(self) -> str:
        return f"Checkpoint({self.path!r})"


def to_payload(obj: Any) -> Payload | None:
    """Serialise a user checkpoint on the worker (raises ``TypeError`` if it cannot).

    ``None`` is no checkpoint (a ``Trainable`` whose ``save`` returns nothing): it gives
    ``None``, so that a paused trial restarts from scratch rather than resume with a
    fresh model at a later iteration.
    """
    if obj is None:
        return None
    if isinstance(obj, Checkpoint):
        if not os.path.isdir(obj.path):
            raise TypeError(f"checkpoint directory {obj.path!r} does not exist (any more); "
                            f"report a Checkpoint before deleting its directory")
        buffer = io.BytesIO()
        try:
            # dereference: a link's target is copied (it would not exist on the driver's
            # machine, and absolute links are refused on extraction)
            with tarfile.open(fileobj=buffer, mode="w", dereference=True) as tar:
                tar.add(obj.path, arcname=".")
        except OSError as exc:
            raise TypeError(f"checkpoint directory {obj.path!r} could not be read: {exc}") \
                from exc
        return ("dir", buffer.getvalue())
    try:
        return ("pickle", cloudpickle.dumps(obj))
    except Exception as exc:  # noqa: BLE001 - any pickling failure is the user's object
        raise TypeError(
            f"checkpoint of type {type(obj).__name__} could not be pickled: {exc}") from exc


# Directories ``from_payload`` extracted in this process: removed by ``release`` (when the
# run that asked for the checkpoint ends) and, whatever is left, at exit.
_EXTRACTED: set[str] = set()
_EXTRACTED_LOCK = threading.Lock()


def from_payload(payload: Payload | None) -> Any:
    """Rebuild a checkpoint on the worker (a temp directory for directory checkpoints)."""
    if payload is None:
        return None
    kind, data = payload
    if kind == "pickle":
        return cloudpickle.loads(data)
    target = tempfile.mkdtemp(prefix="raysweep_ckpt_")
    with _EXTRACTED_LOCK:
        _EXTRACTED.add(target)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        tar.extractall(target, filter="data")
    return Checkpoint(target)


def release(obj: Any) -> None:
    """Delete the private copy ``from_payload`` made for a directory checkpoint (no-op for
    anything else): the worker calls it when the run that used the checkpoint has ended."""
    if not isinstance(obj, Checkpoint):
        return
    with _EXTRACTED_LOCK:
        if obj.path not in _EXTRACTED:
            return
        _EXTRACTED.discard(obj.path)
    shutil.rmtree(obj.path, ignore_errors=True)


@atexit.register
def _release_all() -> None:
    with _EXTRACTED_LOCK:
        paths = list(_EXTRACTED)
        _EXTRACTED.clear()
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
