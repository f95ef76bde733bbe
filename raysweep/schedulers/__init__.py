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
# the names Ray Tune's ``tune.create_scheduler`` knows the same algorithms by
_ALIASES = {"async_hyperband": "asha", "asynchyperband": "asha",
            "median_stopping_rule": "median", "medianstopping": "median", "hb_bohb": "bohb"}
_CLASSES = {cls: (mod, cls) for mod, cls in _REGISTRY.values()}

__all__ = ["Scheduler", "make_scheduler", *sorted(_CLASSES)]


def __getattr__(name: str) -> Any:
    if name in _CLASSES:
        module, attr = _CLASSES[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'raysweep.schedulers' has no attribute {name!r}")


def make_scheduler(spec: str | Scheduler | None) -> Scheduler:
    """Build a scheduler from a name (``"asha"``; also Ray Tune's ``"async_hyperband"``,
    ``"median_stopping_rule"`` and ``"hb_bohb"``), pass an instance through; None is FIFO.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
        TypeError: anything that is neither a name nor a ``Scheduler``.
    """
    if spec is None:
        spec = "fifo"
    if isinstance(spec, Scheduler):
        return spec
    if isinstance(spec, str):
        key = _ALIASES.get(spec.lower(), spec.lower())
        if key not in _REGISTRY:
            raise ValueError(
                f"scheduler must be one of {sorted(_REGISTRY)} or a "
                f"raysweep.schedulers.Scheduler, got {spec!r}")
        module, attr = _REGISTRY[key]
        return getattr(importlib.import_module(module), attr)()
    raise TypeError(
        f"scheduler must be a name such as 'asha' or a raysweep.schedulers.Scheduler "
        f"instance, got {type(spec).__name__}")
