"""raysweep: parallel hyperparameter tuning on Ray.

Example:
    >>> import raysweep as rs
    >>> results = rs.run(lambda c: (c["x"] - 3) ** 2, {"x": rs.uniform(-10, 10)},
    ...                  metric="loss", mode="min", num_samples=20)  # doctest: +SKIP
"""

from __future__ import annotations

from raysweep import schedulers, search
from raysweep.api import VERSION as __version__
from raysweep.api import restore, run
from raysweep.callbacks import Callback
from raysweep.checkpoint import Checkpoint
from raysweep.results import Results, load
from raysweep.session import get_checkpoint, get_trial_id, report
from raysweep.space import (
    choice, fixed, grid, loguniform, lograndint, normal, qloguniform, qrandint, quniform,
    randint, uniform,
)
from raysweep.trainable import Trainable
from raysweep.trial import Trial, TrialStatus

__all__ = [
    "Callback", "Checkpoint", "Results", "Trainable", "Trial", "TrialStatus", "__version__",
    "choice", "fixed", "get_checkpoint", "get_trial_id", "grid", "load", "loguniform",
    "lograndint", "normal", "qloguniform", "qrandint", "quniform", "randint", "report",
    "restore", "run", "schedulers", "search", "uniform",
]
