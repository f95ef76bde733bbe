"""Warm start: results known before a run, checked against its space and stored with it.

``rs.run(warm_start=...)`` takes a previous experiment (its directory or its ``Results``) or
``(config, result)`` pairs; ``warm_start_pairs`` keeps those that fit the space (completed to
full configs). They are pickled in the experiment (``WARM_START_FILE``) so that a resume
feeds the searcher the same results without being given them again.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import cloudpickle
import numpy as np

from raysweep.results import Results, last_metric_result, load
from raysweep.space import Space, flatten

logger = logging.getLogger("raysweep")

WARM_START_FILE = "warm_start.pkl"
Pair = tuple[dict[str, Any], dict[str, Any]]


def warm_start_pairs(warm_start: Any, space: Space, metric: str) -> list[Pair]:
    """``run(warm_start=...)`` as a list of ``(config, result)`` pairs that fit ``space``."""
    if warm_start is None:
        return []
    if isinstance(warm_start, (str, os.PathLike)):
        try:
            warm_start = load(warm_start)
        except (FileNotFoundError, ValueError) as exc:
            raise ValueError(f"warm_start: cannot read the experiment {os.fspath(warm_start)!r}: "
                             f"{exc}") from exc
    if isinstance(warm_start, Results):
        pairs = [(t.config, last_metric_result(t, metric)) for t in warm_start.trials
                 if t.status.is_finished and t.last_result]
        source = f"the experiment {warm_start.path!r}" if warm_start.path else "the results"
    elif isinstance(warm_start, (list, tuple)):
        pairs = []
        for i, item in enumerate(warm_start):
            if not (isinstance(item, (list, tuple)) and len(item) == 2
                    and isinstance(item[0], Mapping)):
                raise TypeError(f"warm_start[{i}]: expected a (config dict, result) pair, got "
                                f"{_short_repr(item)}")
            config, result = item
            if isinstance(result, Mapping):
                result = dict(result)
            elif isinstance(result, (int, float, np.number)) and not isinstance(result, bool):
                result = {metric: float(result)}
            else:
                raise TypeError(f"warm_start[{i}]: the result must be a dict of metrics or a "
                                f"number, got {_short_repr(result)}")
            pairs.append((dict(config), result))
        source = "warm_start"
    else:
        raise TypeError(f"warm_start must be an experiment directory, a raysweep Results or a "
                        f"list of (config, result) pairs, got {type(warm_start).__name__}")
    fitted: list[Pair] = []
    reasons: list[str] = []
    scratch = np.random.default_rng(0)  # complete() needs one; nothing is left to sample
    for config, result in pairs:
        value = result.get(metric)
        if not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
            reasons.append(f"no finite {metric!r} in its result")
            continue
        try:
            full = space.complete(config, scratch)
        except ValueError as exc:  # InvalidSpace: a key or a category the space lacks
            reasons.append(str(exc))
            continue
        missing = sorted(set(flatten(full)) - set(flatten(config)))
        if missing:
            reasons.append(f"no value for {missing[0]!r}")
            continue
        fitted.append((full, dict(result)))
    if pairs and not fitted:
        raise ValueError(f"warm_start: none of the {len(pairs)} results of {source} can seed "
                         f"this run; the first: {reasons[0]}")
    if reasons:
        logger.warning("raysweep: warm_start: %d of %d results of %s skipped (the first: %s)",
                       len(reasons), len(pairs), source, reasons[0])
    return fitted


def read_warm_start(path: str) -> list[Pair]:
    """The warm-start results stored in the experiment at ``path`` (none: ``[]``)."""
    try:
        with open(os.path.join(path, WARM_START_FILE), "rb") as handle:
            return cloudpickle.load(handle)
    except FileNotFoundError:
        return []


def prior_key(pairs: Sequence[Pair]) -> str:
    """What makes two warm starts the same (compared on resume)."""
    return repr(list(pairs))


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
