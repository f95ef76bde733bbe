"""The Searcher protocol: propose configs, learn from results.

A searcher never sees Ray, the disk or the controller. It is deterministic given its seed
and the order of calls it receives: restore rebuilds it by replaying the journal, calling
``suggest`` for every trial created (in creation order) and ``observe`` for every result.
Rules that make that work:

* ``suggest`` returning ``None`` ("nothing now") must not change the searcher's state.
* ``suggest`` returning ``FINISHED`` must keep returning it.
* All randomness comes from ``self.rng`` (a ``numpy.random.Generator`` built in ``setup``).
* ``add_evaluated`` (results known before the experiment, e.g. from a previous one) is
  called right after ``setup`` and before any ``suggest``, in the same order on a restore.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

from raysweep._goal import Goal

if TYPE_CHECKING:
    from raysweep.space import Space


class _Finished:
    """Sentinel: the searcher has nothing more to propose, ever."""

    _instance: _Finished | None = None

    def __new__(cls) -> _Finished:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "FINISHED"

    def __reduce__(self):
        return (_Finished, ())


FINISHED = _Finished()


def is_real(value: Any) -> bool:
    """Whether ``value`` is a finite real number (numpy's included, ``bool`` excluded): the
    check every searcher argument that is a float goes through."""
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


class Searcher:
    """Base class of every search algorithm.

    Subclasses validate their own arguments in ``__init__`` (store them only) and build
    their state in ``setup``. The controller calls, in order: ``setup`` once, then any
    interleaving of ``suggest`` and ``observe``. Results known beforehand (``rs.run(...,
    warm_start=...)``) arrive through ``add_evaluated`` between ``setup`` and the first
    ``suggest``.

    Attributes set by ``setup``: ``space``, ``metric``, ``mode``, ``sign`` (+1 for min,
    -1 for max: ``sign * result[metric]`` is a loss to minimise), ``rng`` and
    ``num_samples`` (the experiment's budget of trials, or None when unbounded).
    """

    #: True when the searcher samples grid domains itself (only the grid searcher).
    supports_grid: bool = False
    #: ``num_samples`` when the user gives none: 10 trials, or (grid) one pass of the grid.
    default_num_samples: int = 10
    name: str = "searcher"

    def __init__(self, *, points_to_evaluate: list[dict[str, Any]] | None = None,
                 max_concurrent: int | None = None) -> None:
        if points_to_evaluate is not None and not isinstance(points_to_evaluate, (list, tuple)):
            raise TypeError(
                f"{type(self).__name__}: points_to_evaluate must be a list of config dicts, "
                f"got {type(points_to_evaluate).__name__}")
        if max_concurrent is not None and (isinstance(max_concurrent, bool)
                                           or not isinstance(max_concurrent, int)
                                           or max_concurrent < 1):
            raise ValueError(f"{type(self).__name__}: max_concurrent must be an int >= 1, "
                             f"got {max_concurrent!r}")
        self.points_to_evaluate = list(points_to_evaluate or [])
        self.max_concurrent = max_concurrent

    def planned_trials(self, space: Space, num_samples: int | None) -> int | None:
        """How many trials this searcher proposes over ``space`` before ``FINISHED``.

        ``None`` (the default) means it proposes without end and the run stops after
        ``num_samples`` trials. A searcher that ends by itself (the grid: its points times
        ``num_samples`` passes) returns the count, and then the run does not count trials
        against ``num_samples``. Answered from the arguments alone: no ``setup`` needed.
        """
        return None

    # -- lifecycle -------------------------------------------------------------------------
    def setup(self, space: Space, metric: str, mode: str, seed: int | np.random.SeedSequence,
              num_samples: int | None = None) -> None:
        """Bind the searcher to an experiment. Subclasses call ``super().setup(...)`` first."""
        self.space = space
        self.metric = metric
        self.mode = mode
        self.goal = Goal.of(metric, mode)  # the one rule for "better"
        self.sign = self.goal.sign
        self.rng = np.random.default_rng(seed)
        self.num_samples = num_samples
        self._pending: dict[str, None] = {}  # handed out, not finished; in suggest order
        self._warm: list[dict[str, Any]] = [space.complete(p, self.rng)
                                            for p in self.points_to_evaluate]

    def suggest(self, trial_id: str) -> dict[str, Any] | None | _Finished:
        """Return a nested config for ``trial_id``, ``None`` (nothing now) or ``FINISHED``.

        The base implementation handles ``points_to_evaluate`` and ``max_concurrent``, then
        calls ``_suggest``; subclasses normally override only ``_suggest``.
        """
        if self.max_concurrent is not None and len(self._pending) >= self.max_concurrent:
            return None
        if self._warm:
            config = self._warm.pop(0)
        else:
            suggested = self._suggest(trial_id)
            if suggested is None or isinstance(suggested, _Finished):
                return suggested
            config = suggested
        self._pending[trial_id] = None
        return config

    def _suggest(self, trial_id: str) -> dict[str, Any] | None | _Finished:
        raise NotImplementedError

    def add_evaluated(self, config: dict[str, Any], result: dict[str, Any]) -> None:
        """Learn from a config evaluated outside this experiment (it is not run again).

        ``config`` must be a complete config of the space (nested, as ``suggest`` returns
        them) and ``result`` a dict holding the metric. Call after ``setup`` and before the
        first ``suggest``. Searchers without a model (grid, random, Sobol) ignore it; the
        model-based ones add the point to their history. Subclasses override
        ``_add_evaluated``.
        """
        if not isinstance(config, dict):
            raise TypeError(f"{type(self).__name__}.add_evaluated: config must be a dict, got "
                            f"{type(config).__name__}")
        if not isinstance(result, dict):
            raise TypeError(f"{type(self).__name__}.add_evaluated: result must be a dict of "
                            f"metrics, got {type(result).__name__}")
        self._add_evaluated(config, result)

    def _add_evaluated(self, config: dict[str, Any], result: dict[str, Any]) -> None:
        pass

    def observe(self, trial_id: str, result: dict[str, Any], *, final: bool) -> None:
        """Receive a result of ``trial_id``; ``final=True`` once, when the trial ends.

        On the final call ``result`` is the trial's last result (possibly ``{}`` for a trial
        that errored before reporting). Subclasses override ``_observe``.
        """
        if final:
            self._pending.pop(trial_id, None)
        self._observe(trial_id, result, final=final)

    def _observe(self, trial_id: str, result: dict[str, Any], *, final: bool) -> None:
        pass

    # -- helpers for subclasses -----------------------------------------------------------
    def loss(self, result: dict[str, Any]) -> float:
        """``result[metric]`` as a finite loss to minimise (``inf`` when it is missing, NaN,
        infinite, a bool or not a number: the ``Goal``'s rule)."""
        return self.goal.loss(result)
