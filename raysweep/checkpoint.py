"""Checkpoints: any picklable object, or a directory wrapped in ``Checkpoint``.

On the worker a checkpoint becomes a *payload* (``("pickle", bytes)`` or ``("dir", tar
bytes)``) so that it travels to the driver through Ray's object store and can be written to
disk there without the driver ever unpickling user objects.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
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
    ships the directory's contents to the driver; ``rs.get_checkpoint()`` later returns a
    ``Checkpoint`` whose ``path`` holds a private copy of those files.
    """

    __slots__ = ("path",)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)

    @classmethod
    def from_directory(cls, path: str | os.PathLike[str]) -> Checkpoint:
        """Wrap an existing directory. Raises ``ValueError`` if it is not a directory."""
        if not os.path.isdir(path):
            raise ValueError(f"Checkpoint.from_directory: {os.fspath(path)!r} is not a directory")
        return cls(path)

    def to_directory(self, path: str | os.PathLike[str] | None = None) -> str:
        """Copy the checkpoint's files to ``path`` (a new temp dir by default); return it."""
        target = os.fspath(path) if path is not None else tempfile.mkdtemp(prefix="raysweep_ckpt_")
        shutil.copytree(self.path, target, dirs_exist_ok=True)
        return target

    def __repr__(self) -> str:
        return f"Checkpoint({self.path!r})"


def to_payload(obj: Any) -> Payload:
    """Serialise a user checkpoint on the worker (raises ``TypeError`` if it cannot)."""
    if isinstance(obj, Checkpoint):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.add(obj.path, arcname=".")
        return ("dir", buffer.getvalue())
    try:
        return ("pickle", cloudpickle.dumps(obj))
    except Exception as exc:  # noqa: BLE001 - any pickling failure is the user's object
        raise TypeError(
            f"checkpoint of type {type(obj).__name__} could not be pickled: {exc}") from exc


def from_payload(payload: Payload | None) -> Any:
    """Rebuild a checkpoint on the worker (a temp directory for directory checkpoints)."""
    if payload is None:
        return None
    kind, data = payload
    if kind == "pickle":
        return cloudpickle.loads(data)
    target = tempfile.mkdtemp(prefix="raysweep_ckpt_")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        tar.extractall(target, filter="data")
    return Checkpoint(target)
