"""Trial schedulers, selectable by name (``scheduler="asha"``) or as objects.

Each algorithm lives in its own module behind the ``Scheduler`` protocol of ``base.py``.
"""

from __future__ import annotations

import importlib
from typing import Any

from raysweep.schedulers.base import Scheduler

_REGISTRY: dict[str, tuple[str, str]] = {
    "fifo": ("raysweep.schedulers.fifo", "FIFO"),
    "asha": ("raysweep.schedulers.asha", "ASHA"),
    "hyperband": ("raysweep.schedulers.hyperband", "Hyperband"),
    "median": ("raysweep.schedulers.median", "MedianStopping"),
    "pbt": ("raysweep.schedulers.pbt", "PBT"),
    "bohb": ("raysweep.schedulers.bohb", "BOHB"),
}
_CLASSES = {cls: (mod, cls) for mod, cls in _REGISTRY.values()}

__all__ = ["Scheduler", "make_scheduler", *sorted(_CLASSES)]


def __getattr__(name: str) -> Any:
    if name in _CLASSES:
        module, attr = _CLASSES[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'raysweep.schedulers' has no attribute {name!r}")


def make_scheduler(spec: str | Scheduler | None) -> Scheduler:
    """Build a scheduler from a name (``"asha"``), pass an instance through; None is FIFO.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
        TypeError: anything that is neither a name nor a ``Scheduler``.
    """
    if spec is None:
        spec = "fifo"
    if isinstance(spec, Scheduler):
        return spec
    if isinstance(spec, str):
        key = spec.lower()
        if key not in _REGISTRY:
            raise ValueError(
                f"scheduler must be one of {sorted(_REGISTRY)} or a "
                f"raysweep.schedulers.Scheduler, got {spec!r}")
        module, attr = _REGISTRY[key]
        return getattr(importlib.import_module(module), attr)()
    raise TypeError(
        f"scheduler must be a name such as 'asha' or a raysweep.schedulers.Scheduler "
        f"instance, got {type(spec).__name__}")
