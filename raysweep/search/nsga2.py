"""NSGA-II (Deb et al. 2002), asynchronous and steady-state, on the unit-cube encoding.

There are no generations to wait for: every suggestion breeds one child from the current
population, and every trial that ends joins the population at once, which then drops its
worst member (Durillo et al. 2009's steady-state NSGA-II). "Worst" and "better parent" use
NSGA-II's crowded comparison under constraint-dominance (Deb 2000): a lower rank wins (a
feasible trial beats an infeasible one; infeasible ones rank by total violation), then the
larger crowding distance (sparser part of the front).

Variation works in the unit cube: simulated binary crossover (SBX, bounded) and polynomial
mutation for numeric genes (snapped to the domain's grid when the config is decoded),
uniform crossover and a switch to another category for categorical ones; genes of branches
not taken are carried along. A child already proposed is bred again (a few tries), else a
random config is proposed.

Several metrics come in as ``setup(space, ["acc", "latency"], ["max", "min"], ...)``;
constraint values come in each result under ``raysweep._goal.CONSTRAINTS`` (feasible when
every value is <= 0, NaN infeasible). With one metric it is a steady-state genetic
algorithm with the same operators.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from raysweep._goal import Goal
from raysweep._pareto import constrained_ranks, crowding_distance
from raysweep.search._common import HistorySearcher
from raysweep.search.base import is_real

if TYPE_CHECKING:
    from raysweep.space import Space

__all__ = ["NSGA2"]


class NSGA2(HistorySearcher):
    """Asynchronous steady-state NSGA-II for one or several metrics, with constraints.

    Args:
        population_size: Trials kept in the population (>= 2); the first
            ``population_size`` configs are random.
        crossover_prob: Probability that a child mixes two parents (else it mutates a copy
            of one), in [0, 1].
        mutation_prob: Probability that each gene mutates, in (0, 1]; None means
            ``1 / number of dims``.
        eta_crossover: SBX distribution index (> 0; larger keeps children nearer their
            parents).
        eta_mutation: Polynomial mutation distribution index (> 0).
        points_to_evaluate: Configs evaluated first; they join the population.
        max_concurrent: Most trials pending at once (None: no limit).

    Example:
        >>> import raysweep as rs
        >>> searcher = rs.search.NSGA2(population_size=20)
        >>> # rs.run(objective, space, metric=["acc", "latency"], mode=["max", "min"],
        >>> #        search=searcher)
    """

    name = "nsga2"

    def __init__(self, *, population_size: int = 20, crossover_prob: float = 0.9,
                 mutation_prob: float | None = None, eta_crossover: float = 5.0,
                 eta_mutation: float = 20.0,
                 points_to_evaluate: list[dict[str, Any]] | None = None,
                 max_concurrent: int | None = None) -> None:
        super().__init__(points_to_evaluate=points_to_evaluate, max_concurrent=max_concurrent)
        if isinstance(population_size, bool) or not isinstance(population_size, int) \
                or population_size < 2:
            raise ValueError(f"NSGA2: population_size must be an int >= 2, got "
                             f"{population_size!r}")
        if not is_real(crossover_prob) or not 0.0 <= crossover_prob <= 1.0:
            raise ValueError(
                f"NSGA2: crossover_prob must be a float in [0, 1], got {crossover_prob!r}")
        if mutation_prob is not None and (not is_real(mutation_prob)
                                          or not 0.0 < mutation_prob <= 1.0):
            raise ValueError(f"NSGA2: mutation_prob must be None or a float in (0, 1], "
                             f"got {mutation_prob!r}")
        for arg, value in (("eta_crossover", eta_crossover), ("eta_mutation", eta_mutation)):
            if not is_real(value) or not value > 0:
                raise ValueError(f"NSGA2: {arg} must be a float > 0, got {value!r}")
        self.population_size = population_size
        self.crossover_prob = float(crossover_prob)
        self.mutation_prob = mutation_prob
        self.eta_crossover = float(eta_crossover)
        self.eta_mutation = float(eta_mutation)

    def setup(self, space: Space, metric: str | Sequence[str],
              mode: str | Sequence[str], seed: int | np.random.SeedSequence,
              num_samples: int | None = None) -> None:
        goal = Goal.of(metric, mode)
        # the base class binds one metric; keep the whole goal (every metric) here
        super().setup(space, goal.metrics[0], goal.modes[0], seed, num_samples)
        self.goal = goal
        if goal.is_multi:
            self.metric, self.mode = list(goal.metrics), list(goal.modes)  # type: ignore
            del self.sign  # no single sign: every comparison goes through the goal
        self._result: dict[str, dict[str, Any]] = {}  # last non-empty result per trial
        self._judged: dict[str, tuple[tuple[float, ...], float]] = {}  # (losses, violation)
        self._population: list[str] = []            # finished trials kept, in arrival order
        self._fitness: tuple[np.ndarray, np.ndarray] | None = None  # (rank, crowding) cache

    def loss(self, result: dict[str, Any]) -> float:
        """The loss of the first metric (the history's scalar; selection uses them all)."""
        return self.goal.losses(result)[0]

    # -- population ------------------------------------------------------------------------
    def _observe(self, trial_id: str, result: dict[str, Any], *, final: bool) -> None:
        if trial_id in self._u and (result or trial_id not in self._result):
            self._result[trial_id] = result
        super()._observe(trial_id, result, final=final)

    def _on_final(self, trial_id: str) -> None:
        result = self._result.get(trial_id, {})
        self._judged[trial_id] = (self.goal.losses(result), self.goal.violation(result))
        self._population.append(trial_id)
        self._fitness = None
        if len(self._population) > self.population_size:
            rank, crowding = self._evaluate()
            worst = rank.max()
            members = np.flatnonzero(rank == worst)
            # the most crowded of the worst rank; ties: the latest arrival leaves
            loser = members[np.lexsort((-members, crowding[members]))[0]]
            del self._population[int(loser)]
            self._fitness = None

    def _evaluate(self) -> tuple[np.ndarray, np.ndarray]:
        """(rank, crowding distance within its rank) of every population member."""
        if self._fitness is None:
            judged = [self._judged[t] for t in self._population]
            losses = np.array([j[0] for j in judged], dtype=float)
            violation = np.array([j[1] for j in judged])
            rank = constrained_ranks(losses, violation)
            crowding = np.zeros(len(rank))
            for r in np.unique(rank):
                members = np.flatnonzero(rank == r)
                front = losses[members]
                if np.all(np.isfinite(front)) and violation[members[0]] == 0:
                    crowding[members] = crowding_distance(front)
                else:  # infeasible ranks: members are equals
                    crowding[members] = 0.0
            self._fitness = (rank, crowding)
        return self._fitness

    # -- proposal ----------------------------------------------------------------------------
    def _propose(self) -> dict[str, Any]:
        if len(self._u) < self.population_size or len(self._population) < 2:
            return self._random_config()
        U = np.array([self._u[t] for t in self._population])
        rank, crowding = self._evaluate()
        for _ in range(10):  # a few tries at a child not proposed before
            config = self._first_new(self._child(U, rank, crowding)[None])
            if config is not None:
                return config
        return self._random_config()

    def _tournament(self, rank: np.ndarray, crowding: np.ndarray) -> int:
        a, b = (int(i) for i in self.rng.choice(len(rank), size=2, replace=False))
        if (rank[a], -crowding[a], a) <= (rank[b], -crowding[b], b):
            return a
        return b

    def _child(self, U: np.ndarray, rank: np.ndarray, crowding: np.ndarray) -> np.ndarray:
        layout = self.layout
        d = layout.d
        first, second = U[self._tournament(rank, crowding)], U[self._tournament(rank, crowding)]
        # every draw is made whatever the branch, so the sequence depends on calls only
        cross, swap, pick = self.rng.random(), self.rng.random(d), self.rng.random(d)
        spread = self.rng.random(d)
        child = first.copy()
        if cross < self.crossover_prob:
            numeric = np.zeros(d, dtype=bool)
            numeric[layout.cont] = True
            child = _sbx(first, second, spread, self.eta_crossover, pick < 0.5)
            # per-gene crossover: genes that do not cross come from the first parent
            child = np.where(numeric & (swap < 0.5), child, first)
            cat = ~numeric & (swap < 0.5)
            child[cat] = second[cat]
        prob = self.mutation_prob if self.mutation_prob is not None else 1.0 / max(d, 1)
        genes = self.rng.random(d) < prob
        steps, others = self.rng.random(d), self.rng.integers(0, 2**31, d)
        active = np.flatnonzero(layout.active(child)[0])
        if not genes[active].any() and cross >= self.crossover_prob:
            genes[active[int(others[0]) % len(active)]] = True  # a copy always changes
        for j in np.flatnonzero(genes).tolist():
            if layout.kinds[j] == "categorical":
                n = int(layout.n_choices[j])
                if n >= 2:
                    current = int(layout.cat_index(child[j], j))
                    other = int(others[j]) % (n - 1)
                    child[j] = float(layout.cat_unit(other + (other >= current), j))
            else:
                child[j] = _polynomial(child[j], steps[j], self.eta_mutation)
        return np.clip(child, 0.0, 1.0)


def _sbx(x1: np.ndarray, x2: np.ndarray, u: np.ndarray, eta: float,
         take_low: np.ndarray) -> np.ndarray:
    """Bounded simulated binary crossover in [0, 1] (Deb and Agrawal 1995): one child per
    gene, the one nearer the lower parent where ``take_low``."""
    low, high = np.minimum(x1, x2), np.maximum(x1, x2)
    gap = np.maximum(high - low, 1e-14)
    power = 1.0 / (eta + 1.0)

    def betaq(beta: np.ndarray) -> np.ndarray:
        alpha = 2.0 - beta ** -(eta + 1.0)
        return np.where(u <= 1.0 / alpha, (u * alpha) ** power,
                        (1.0 / np.maximum(2.0 - u * alpha, 1e-14)) ** power)

    c_low = 0.5 * (low + high - betaq(1.0 + 2.0 * low / gap) * gap)
    c_high = 0.5 * (low + high + betaq(1.0 + 2.0 * (1.0 - high) / gap) * gap)
    child = np.where(take_low, c_low, c_high)
    return np.where(high - low > 1e-14, np.clip(child, 0.0, 1.0), x1)


def _polynomial(y: float, r: float, eta: float) -> float:
    """Bounded polynomial mutation of ``y`` in [0, 1] (Deb and Goyal 1996)."""
    power = 1.0 / (eta + 1.0)
    if r < 0.5:
        value = 2.0 * r + (1.0 - 2.0 * r) * (1.0 - y) ** (eta + 1.0)
        delta = value ** power - 1.0
    else:
        value = 2.0 * (1.0 - r) + 2.0 * (r - 0.5) * y ** (eta + 1.0)
        delta = 1.0 - value ** power
    return float(min(max(y + delta, 0.0), 1.0))
