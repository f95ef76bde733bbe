"""raysweep: parallel hyperparameter tuning on Ray.

Example:
    >>> import raysweep as rs
    >>> results = rs.run(lambda c: (c["x"] - 3) ** 2, {"x": rs.uniform(-10, 10)},
    ...                  metric="loss", mode="min", num_samples=20)  # doctest: +SKIP

Heavy parts (pandas, the controller) load on first use, so that worker processes, which
import only the trial runtime, start quickly.
"""

from __future__ import annotations

import importlib
from typing import Any

from raysweep.callbacks import Callback
from raysweep.checkpoint import Checkpoint
from raysweep.session import get_checkpoint, get_trial_id, report
from raysweep.space import (
    choice, fixed, grid, loguniform, lograndint, normal, qloguniform, qrandint, quniform,
    randint, uniform,
)
from raysweep.trainable import Trainable
from raysweep.trial import Trial, TrialStatus

__version__ = "0.1.0"

_LAZY = {
    "run": ("raysweep.api", "run"),
    "restore": ("raysweep.api", "restore"),
    "load": ("raysweep.results", "load"),
    "Results": ("raysweep.results", "Results"),
    "Simulated": ("raysweep.execution.simulated", "Simulated"),
    "search": ("raysweep.search", None),
    "schedulers": ("raysweep.schedulers", None),
}

__all__ = [
    "Callback", "Checkpoint", "Results", "Simulated", "Trainable", "Trial", "TrialStatus",
    "__version__", "choice", "fixed", "get_checkpoint", "get_trial_id", "grid", "load",
    "loguniform", "lograndint", "normal", "qloguniform", "qrandint", "quniform", "randint",
    "report", "restore", "run", "schedulers", "search", "uniform",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module_name, attribute = _LAZY[name]
        module = importlib.import_module(module_name)
        value = module if attribute is None else getattr(module, attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'raysweep' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
