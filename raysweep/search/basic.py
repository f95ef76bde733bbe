"""The model-free searchers: grid, random and Sobol (quasi-random) search."""

from __future__ import annotations

import inspect
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from raysweep.search.base import FINISHED, Searcher

if TYPE_CHECKING:
    from raysweep.search.base import _Finished
    from raysweep.space import Space

__all__ = ["Grid", "Random", "Sobol"]


class Grid(Searcher):
    """Every point of the space's grid, in order, ``num_samples`` times over.

    Suggestion ``k`` gets grid point ``k % space.grid_size`` (the last ``grid`` parameter
    varies fastest), with every non-grid domain sampled. After ``grid_size * num_samples``
    suggestions (one pass when ``num_samples`` is None) it returns ``FINISHED``. Its state is
    a counter: a grid of 10**8 points is never materialised. ``points_to_evaluate`` run
    first and do not count towards the passes.

    Example:
        >>> from raysweep.search import Grid
        >>> searcher = Grid()
    """

    supports_grid = True
    default_num_samples = 1
    name = "grid"

    def planned_trials(self, space: Space, num_samples: int | None) -> int:
        """``points_to_evaluate``, then the grid ``num_samples`` times (once for None)."""
        passes = 1 if num_samples is None else num_samples
        return len(self.points_to_evaluate) + space.grid_size * passes

    def setup(self, space: Space, metric: str, mode: str, seed: int | np.random.SeedSequence,
              num_samples: int | None = None) -> None:
        super().setup(space, metric, mode, seed, num_samples)
        self._suggested = 0
        self._total = space.grid_size * (1 if num_samples is None else num_samples)

    def _suggest(self, trial_id: str) -> dict[str, Any] | _Finished:
        if self._suggested >= self._total:
            return FINISHED
        point = self._suggested % self.space.grid_size
        self._suggested += 1
        return self.space.sample(self.rng, grid_point=point)


class Random(Searcher):
    """Independent draws from the space (grid domains sampled uniformly).

    Never returns ``FINISHED``: the controller stops after ``num_samples`` trials.

    Example:
        >>> from raysweep.search import Random
        >>> searcher = Random(points_to_evaluate=[{"lr": 0.01}])
    """

    name = "random"

    def _suggest(self, trial_id: str) -> dict[str, Any]:
        return self.space.sample(self.rng)


class Sobol(Searcher):
    """Scrambled Sobol' points of the unit cube, decoded into configs.

    Covers the space more evenly than random search for the same budget (best with a
    power-of-two ``num_samples``). Uses ``scipy.stats.qmc.Sobol`` with one dimension per
    space dim (coordinates of inactive conditional dims are ignored).

    Args:
        scramble: Randomise the sequence (seeded from the experiment seed). Without it the
            first point is the all-zeros corner.

    Example:
        >>> from raysweep.search import Sobol
        >>> searcher = Sobol(scramble=True)
    """

    name = "sobol"

    def __init__(self, *, scramble: bool = True,
                 points_to_evaluate: list[dict[str, Any]] | None = None,
                 max_concurrent: int | None = None) -> None:
        super().__init__(points_to_evaluate=points_to_evaluate, max_concurrent=max_concurrent)
        if not isinstance(scramble, bool):
            raise TypeError(f"Sobol: scramble must be a bool, got {scramble!r}")
        self.scramble = scramble

    def setup(self, space: Space, metric: str, mode: str, seed: int | np.random.SeedSequence,
              num_samples: int | None = None) -> None:
        super().setup(space, metric, mode, seed, num_samples)
        from scipy.stats import qmc

        engine_seed = int(self.rng.integers(2**63))
        self._engine = None
        if space.dims:
            # scipy >= 1.15 calls the seed ``rng``; older versions ``seed``.
            keyword = "rng" if "rng" in inspect.signature(qmc.Sobol).parameters else "seed"
            self._engine = qmc.Sobol(d=len(space.dims), scramble=self.scramble,
                                     **{keyword: engine_seed})

    def _suggest(self, trial_id: str) -> dict[str, Any]:
        if self._engine is None:  # nothing to search: every parameter is fixed
            return self.space.sample(self.rng)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*balance properties.*")
            point = self._engine.random(1)[0]
        return self.space.decode(point)
