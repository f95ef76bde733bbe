"""Steady-state genetic algorithm on the unit-cube encoding.

Asynchronous: there are no generations to wait for. Every suggestion breeds one child from
the trials finished so far: two parents picked by tournament, uniform crossover, then
per-gene mutation (a Gaussian step in the unit interval for numeric genes, snapped to the
domain's grid for integers and quantized floats; another category for categorical genes).
The parent pool holds the ``population_size`` most recently finished trials (ageing, which
forgives lucky noisy evaluations) plus the ``n_elites`` best trials ever (elitism).

Genes of branches not taken are carried along unchanged, so a conditional parameter keeps
its value while its branch is switched off and a later child can switch it back on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from raysweep.search._common import HistorySearcher
from raysweep.search.base import is_real

if TYPE_CHECKING:
    from raysweep.space import Space

__all__ = ["Evolution"]


class Evolution(HistorySearcher):
    """Asynchronous steady-state evolutionary search.

    Args:
        population_size: Trials in the parent pool (>= 2); the first ``population_size``
            configs are random.
        tournament_size: Contestants per parent selection (>= 1, at most
            ``population_size``); larger means stronger selection. None (the default)
            means 3, or ``population_size`` when that is smaller.
        crossover_prob: Probability that a child mixes two parents (else it copies one),
            in [0, 1].
        mutation_prob: Probability that each gene mutates, in (0, 1]; None means
            ``1 / number of dims``. At least one gene always mutates.
        mutation_scale: Standard deviation of numeric mutations in the unit interval (> 0).
        n_elites: Best trials ever that stay in the parent pool however old (>= 0).
        points_to_evaluate: Configs evaluated first; they join the population.
        max_concurrent: Most trials pending at once (None: no limit).

    Example:
        >>> import raysweep as rs
        >>> searcher = rs.search.Evolution(population_size=16, tournament_size=3)
        >>> # rs.run(objective, space, metric="loss", mode="min", search=searcher)
    """

    name = "evolution"

    def __init__(self, *, population_size: int = 20, tournament_size: int | None = None,
                 crossover_prob: float = 0.5, mutation_prob: float | None = None,
                 mutation_scale: float = 0.1, n_elites: int = 2,
                 points_to_evaluate: list[dict[str, Any]] | None = None,
                 max_concurrent: int | None = None) -> None:
        super().__init__(points_to_evaluate=points_to_evaluate, max_concurrent=max_concurrent)
        _check_int("population_size", population_size, 2)
        if tournament_size is None:  # 3, or the whole population when it is smaller
            tournament_size = min(3, population_size)
        _check_int("tournament_size", tournament_size, 1)
        _check_int("n_elites", n_elites, 0)
        if tournament_size > population_size:
            raise ValueError(f"Evolution: tournament_size must be <= population_size "
                             f"({population_size}), got {tournament_size!r}")
        if not is_real(crossover_prob) or not 0.0 <= crossover_prob <= 1.0:
            raise ValueError(
                f"Evolution: crossover_prob must be a float in [0, 1], got {crossover_prob!r}")
        if mutation_prob is not None and (not is_real(mutation_prob)
                                          or not 0.0 < mutation_prob <= 1.0):
            raise ValueError(f"Evolution: mutation_prob must be None or a float in (0, 1], "
                             f"got {mutation_prob!r}")
        if not is_real(mutation_scale) or not mutation_scale > 0:
            raise ValueError(
                f"Evolution: mutation_scale must be a float > 0, got {mutation_scale!r}")
        self.population_size = population_size
        self.tournament_size = tournament_size
        self.crossover_prob = float(crossover_prob)
        self.mutation_prob = mutation_prob
        self.mutation_scale = float(mutation_scale)
        self.n_elites = n_elites

    def setup(self, space: Space, metric: str, mode: str, seed: int | np.random.SeedSequence,
              num_samples: int | None = None) -> None:
        super().setup(space, metric, mode, seed, num_samples)
        self._snap = [(j, dim.domain) for j, dim in enumerate(space.dims)
                      if self.layout.kinds[j] == "int" or getattr(dim.domain, "q", None)]

    # -- proposal -------------------------------------------------------------------------
    def _propose(self) -> dict[str, Any]:
        U, _, loss = self._history()
        if len(self._u) < self.population_size or len(loss) < 2 or self.layout.d == 0:
            return self._random_config()
        pool = self._pool(loss)
        for _ in range(10):  # a few tries at a child not proposed before
            config = self._first_new(self._child(U, loss, pool)[None])
            if config is not None:
                return config
        return self._random_config()

    def _pool(self, loss: np.ndarray) -> np.ndarray:
        """Indices of the parent pool: the youngest trials plus the elites."""
        young = np.arange(max(len(loss) - self.population_size, 0), len(loss))
        elites = np.argsort(loss, kind="stable")[: self.n_elites]
        return np.union1d(young, elites)

    def _tournament(self, loss: np.ndarray, pool: np.ndarray) -> int:
        size = min(self.tournament_size, len(pool))
        contestants = self.rng.choice(pool, size=size, replace=False)
        return int(contestants[np.argmin(loss[contestants])])

    def _child(self, U: np.ndarray, loss: np.ndarray, pool: np.ndarray) -> np.ndarray:
        layout = self.layout
        child = U[self._tournament(loss, pool)].copy()
        if self.rng.random() < self.crossover_prob:
            other = U[self._tournament(loss, pool)]
            mix = self.rng.random(layout.d) < 0.5
            child[mix] = other[mix]
        prob = self.mutation_prob if self.mutation_prob is not None else 1.0 / layout.d
        genes = self.rng.random(layout.d) < prob
        # at least one active gene mutates, so that a child is never a plain copy
        active = np.flatnonzero(layout.active(child)[0])
        if not genes[active].any():
            genes[self.rng.choice(active)] = True
        for j in np.flatnonzero(genes):
            child[j] = self._mutate(int(j), float(child[j]))
        return child

    def _mutate(self, j: int, u: float) -> float:
        layout = self.layout
        if layout.kinds[j] == "categorical":
            n = layout.n_choices[j]
            if n < 2:
                return u
            current = int(layout.cat_index(u, j))
            other = int(self.rng.integers(n - 1))
            return float(layout.cat_unit(other + (other >= current), j))
        step = self.rng.normal() * self.mutation_scale
        steps = layout.n_values[j]
        if steps:  # an integer moves by at least one value
            step = np.sign(step or 1.0) * max(abs(step), 1.0 / steps)
        return _snap(self._snap, j, _reflect(u + step))


def _reflect(u: float) -> float:
    """Fold ``u`` back into [0, 1] at the walls."""
    u = abs(u) % 2.0
    return 2.0 - u if u > 1.0 else u


def _snap(snap: list[tuple[int, Any]], j: int, u: float) -> float:
    for k, domain in snap:
        if k == j:
            return float(domain.to_unit(domain.from_unit(u)))
    return u


def _check_int(arg: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"Evolution: {arg} must be an int >= {minimum}, got {value!r}")
