"""The loggers every run gets unless the user brought the same ones."""

from __future__ import annotations

import os

from raysweep.callbacks._base import Callback
from raysweep.callbacks._csv import CSVLogger
from raysweep.callbacks._jsonl import JSONLLogger


def default_loggers(callbacks: list[Callback] | tuple[Callback, ...] = (),
                    path: str | os.PathLike[str] | None = None) -> list[Callback]:
    """The loggers every run gets: ``progress.csv`` and ``progress.jsonl`` (one file each).

    Args:
        callbacks: The user's callbacks. A logger of the same kind among them that writes the
            shared file of this experiment (no ``path``, or ``path`` equal to the experiment
            directory, and not ``per_trial``) replaces the default one: no duplicate rows.
        path: The experiment directory.

    Returns:
        The loggers to add (possibly none).
    """
    here = None if path is None else os.path.abspath(os.fspath(path))
    out: list[Callback] = []
    for kind in (CSVLogger, JSONLLogger):
        # (the path the user gave: one a previous run handed the logger does not count)
        covered = any(type(c) is kind and not c.per_trial and c._given_path in (None, here)
                      for c in callbacks)
        if not covered:
            out.append(kind())
    return out

