"""How ``SearchCV``'s arguments become ``raysweep.run`` arguments: scheduler, searcher,
space, budget, callbacks and seed."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from numbers import Integral
from typing import Any

from sklearn.utils import check_random_state

from raysweep._sklearn.space import GridSample, ParamCodec, build_space
from raysweep.callbacks import Callback
from raysweep.schedulers import Scheduler, make_scheduler
from raysweep.search import make_searcher
from raysweep.space import Space

#: Steps per candidate under an early-stopping scheduler without a ``max_t`` of its own.
DEFAULT_ITERATIONS = 10


def choose_scheduler(spec: Any, max_iterations: int | None) -> tuple[Scheduler | None, int]:
    """The raysweep scheduler (None: evaluate candidates fully) and the steps per candidate.

    Named schedulers with a budget (``"asha"``, ``"hyperband"``, ``"bohb"``) are built with
    ``max_t`` = the steps per candidate; a scheduler object keeps its own settings and, unless
    ``max_iterations`` is given, sets the steps from its ``max_t``.
    """
    if spec is None or (isinstance(spec, str) and spec.lower() == "fifo"):
        return None, 0
    from raysweep import schedulers

    if isinstance(spec, str):
        key = spec.lower()
        steps = max_iterations or DEFAULT_ITERATIONS
        if key == "asha":
            return schedulers.ASHA(max_t=steps, grace_period=1), steps
        if key in ("hyperband", "bohb"):
            cls = schedulers.Hyperband if key == "hyperband" else schedulers.BOHB
            return cls(max_t=steps), steps
    scheduler = make_scheduler(spec)  # unknown names and wrong types fail here
    if isinstance(scheduler, schedulers.FIFO):
        return None, 0
    if max_iterations is not None:
        return scheduler, max_iterations
    max_t = getattr(scheduler, "max_t", None)
    by_iteration = getattr(scheduler, "time_attr", "training_iteration") == "training_iteration"
    return scheduler, (math.ceil(max_t) if max_t and by_iteration else DEFAULT_ITERATIONS)


@dataclass
class SearchPlan:
    """What to pass to ``raysweep.run``, and how many candidates to expect."""

    spec: dict[str, Any]
    codec: ParamCodec
    search: Any
    num_samples: int
    candidates: int


def plan_search(param_space: Any, search: Any, n_trials: int,
                scheduler: Scheduler | None) -> SearchPlan:
    """Pick the space encoding (grid or choice domains) and the searcher for ``search``."""
    key = search.lower() if isinstance(search, str) else None
    if key not in (None, "grid", "random"):
        make_searcher(key)  # an unknown name fails here, listing the known ones
    if key == "random" and scheduler is not None and scheduler.make_searcher() is not None:
        spec, codec, _ = build_space(param_space, grid=False)  # the scheduler's own (BOHB)
        return SearchPlan(spec, codec, None, n_trials, n_trials)
    if key == "grid" or (key is None and search.supports_grid):
        spec, codec, _ = build_space(param_space, grid=True)
        return SearchPlan(spec, codec, search, 1, Space(spec).grid_size)
    if key == "random":
        spec, codec, finite = build_space(param_space, grid=True)
        if finite:  # only lists: sample grid points without repeats, as RandomizedSearchCV
            size = Space(spec).grid_size
            if size > n_trials:
                return SearchPlan(spec, codec, GridSample(n_trials), 1, n_trials)
            if size < n_trials:
                warnings.warn(f"The total space of parameters {size} is smaller than "
                              f"n_trials={n_trials}. Running {size} candidates. For "
                              "exhaustive searches, use search='grid'.", UserWarning,
                              stacklevel=3)
            return SearchPlan(spec, codec, "grid", 1, size)
    spec, codec, _ = build_space(param_space, grid=False)
    return SearchPlan(spec, codec, search, n_trials, n_trials)


def split_callbacks(callbacks: Any) -> tuple[list[Any], list[Callback]]:
    """``(plain callables, raysweep.Callback objects)``; anything else is a TypeError."""
    callables, objects = [], []
    for index, callback in enumerate(callbacks or []):
        if isinstance(callback, Callback):
            objects.append(callback)
        elif callable(callback):
            callables.append(callback)
        else:
            raise TypeError(f"callbacks[{index}] must be a raysweep.Callback or a callable "
                            f"f(candidate), got {type(callback).__name__}")
    return callables, objects


def seed_from(random_state: Any) -> int | None:
    """A raysweep seed from a scikit-learn ``random_state`` (int, RandomState or None)."""
    if random_state is None:
        return None
    if isinstance(random_state, Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(2**31 - 1))
