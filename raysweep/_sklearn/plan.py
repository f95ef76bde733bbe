"""How ``SearchCV``'s arguments become ``raysweep.run`` arguments: scheduler, searcher,
space, budget, callbacks and seed."""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from raysweep._sklearn.space import (
    GridSample,
    ParamCodec,
    ParameterSampling,
    build_space,
    sklearn_sampleable,
)
from raysweep.callbacks import Callback
from raysweep.domains import Categorical, Domain, Fixed, is_scipy_dist
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


def plan_search(param_space: Any, search: Any, n_trials: int, scheduler: Scheduler | None,
                random_state: Any = None, budget_name: str = "n_trials") -> SearchPlan:
    """Pick the space encoding (grid or choice domains) and the searcher for ``search``.

    ``search="random"`` over what ``RandomizedSearchCV`` takes (lists and ``scipy.stats``
    distributions) draws scikit-learn's own candidates for ``random_state``; ``budget_name``
    is how the caller calls ``n_trials`` (in the warning of a space smaller than it).
    """
    key = search.lower() if isinstance(search, str) else None
    if key not in (None, "grid", "random"):
        make_searcher(key)  # an unknown name fails here, listing the known ones
    if key == "random" and scheduler is not None and scheduler.make_searcher() is not None:
        spec, codec, _ = build_space(param_space, grid=False)  # the scheduler's own (BOHB)
        return SearchPlan(spec, codec, None, n_trials, n_trials)
    if key == "grid" or (key is None and search.supports_grid):
        spec, codec, finite = build_space(param_space, grid=True)
        if key == "grid" and not finite:
            _reject_sampled(param_space)
        walker = make_searcher("grid") if key == "grid" else search
        planned = walker.planned_trials(Space(spec), 1)  # one pass
        return SearchPlan(spec, codec, search, 1,
                          Space(spec).grid_size if planned is None else planned)
    if key == "random":
        spec, codec, finite = build_space(param_space, grid=True)
        size = Space(spec).grid_size if finite else None
        if size is not None and size < n_trials:
            advice = "search='grid'" if budget_name == "n_trials" else "GridSearchCV"
            warnings.warn(f"The total space of parameters {size} is smaller than "
                          f"{budget_name}={n_trials}. Running {size} candidates. For "
                          f"exhaustive searches, use {advice}.", UserWarning, stacklevel=3)
        if sklearn_sampleable(param_space) and (size is None or size < 2**62):
            spec, codec, _ = build_space(param_space, grid=False)
            count = n_trials if size is None else min(size, n_trials)
            if isinstance(random_state, np.random.RandomState):
                random_state = copy.deepcopy(random_state)  # before the seed is drawn from it
            sampler = ParameterSampling(param_space, codec, n_trials, random_state)
            return SearchPlan(spec, codec, sampler, count, count)
        if size is not None:  # only lists: sample grid points without repeats
            if size > n_trials:
                return SearchPlan(spec, codec, GridSample(n_trials), 1, n_trials)
            return SearchPlan(spec, codec, "grid", 1, size)
    spec, codec, _ = build_space(param_space, grid=False)
    return SearchPlan(spec, codec, search, n_trials, n_trials)


def _reject_sampled(param_space: Any) -> None:
    """``GridSearchCV``'s TypeError for a grid parameter that is a distribution."""
    for params in param_space if isinstance(param_space, (list, tuple)) else [param_space]:
        for name in sorted(params):
            value = params[name]
            if not isinstance(value, (Fixed, Categorical)) and \
                    (isinstance(value, Domain) or is_scipy_dist(value)):
                raise TypeError(
                    f"Parameter grid for parameter {name!r} needs to be a list or a numpy "
                    f"array, but got {value!r} (of type {type(value).__name__}) instead: "
                    "search='grid' evaluates every point of a grid of lists once; sample "
                    "distributions with search='random' or a model-based searcher")


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
