"""Particle swarm optimisation on the unit-cube encoding (asynchronous).

Each particle has a position and a velocity in ``[0, 1]^d``. When its last position has
been evaluated it moves::

    v = inertia * v + cognitive * r1 * (own best - x) + social * r2 * (swarm best - x)
    x = x + v                  (reflected at the walls, |v| capped at max_velocity)

with ``r1``, ``r2`` uniform per dim. Particles move as soon as their own result is in (no
waiting for the rest of the swarm), in the order their results arrived; integers,
quantized floats and categoricals are whatever the position decodes to. With every
particle waiting for a result, ``suggest`` returns None, so at most ``n_particles`` trials
run at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import qmc

from raysweep.search._common import HistorySearcher
from raysweep.search.base import _Finished, is_real

if TYPE_CHECKING:
    from raysweep.space import Space

__all__ = ["PSO"]


class PSO(HistorySearcher):
    """Particle swarm search.

    Args:
        n_particles: Size of the swarm (>= 2), also the most trials it runs at once.
        inertia: Weight of the previous velocity, in [0, 1).
        cognitive: Pull towards the particle's own best position (>= 0).
        social: Pull towards the swarm's best position (>= 0).
        max_velocity: Cap on each velocity component, in unit-cube lengths (> 0).
        points_to_evaluate: Configs evaluated first; they inform the swarm's best.
        max_concurrent: Most trials pending at once (None: ``n_particles``).

    The defaults are the constriction coefficients of Clerc and Kennedy (2002).

    Example:
        >>> import raysweep as rs
        >>> searcher = rs.search.PSO(n_particles=16)
        >>> # rs.run(objective, space, metric="loss", mode="min", search=searcher)
    """

    name = "pso"

    def __init__(self, *, n_particles: int = 10, inertia: float = 0.7298,
                 cognitive: float = 1.49618, social: float = 1.49618,
                 max_velocity: float = 0.25,
                 points_to_evaluate: list[dict[str, Any]] | None = None,
                 max_concurrent: int | None = None) -> None:
        super().__init__(points_to_evaluate=points_to_evaluate, max_concurrent=max_concurrent)
        if isinstance(n_particles, bool) or not isinstance(n_particles, int) or n_particles < 2:
            raise ValueError(f"PSO: n_particles must be an int >= 2, got {n_particles!r}")
        if not is_real(inertia) or not 0.0 <= inertia < 1.0:
            raise ValueError(f"PSO: inertia must be a float in [0, 1), got {inertia!r}")
        for arg, value in (("cognitive", cognitive), ("social", social)):
            if not is_real(value) or not value >= 0:
                raise ValueError(f"PSO: {arg} must be a float >= 0, got {value!r}")
        if not is_real(max_velocity) or not max_velocity > 0:
            raise ValueError(f"PSO: max_velocity must be a float > 0, got {max_velocity!r}")
        self.n_particles = n_particles
        self.inertia = float(inertia)
        self.cognitive = float(cognitive)
        self.social = float(social)
        self.max_velocity = float(max_velocity)

    def setup(self, space: Space, metric: str, mode: str, seed: int | np.random.SeedSequence,
              num_samples: int | None = None) -> None:
        super().setup(space, metric, mode, seed, num_samples)
        d, n = self.layout.d, self.n_particles
        if d:
            lhs = qmc.LatinHypercube(d, rng=int(self.rng.integers(2**32)))
            self._x = lhs.random(n)
        else:
            self._x = np.zeros((n, 0))
        self._v = self.rng.uniform(-0.1, 0.1, size=(n, d))
        self._best_x = self._x.copy()
        self._best_loss = np.full(n, np.inf)
        self._ready: list[int] = list(range(n))      # particles free to move, in order
        self._moved = np.zeros(n, dtype=bool)         # at its initial position yet?
        self._owner: dict[str, int] = {}              # trial_id -> particle
        self._next_owner: int | None = None          # the particle the suggest in progress moves
        self._swarm_x: np.ndarray | None = None
        self._swarm_loss = np.inf

    # -- proposal -------------------------------------------------------------------------
    def _propose(self) -> dict[str, Any] | None:
        if not self._ready:
            return None  # every particle waits for its result
        p = self._ready.pop(0)
        if self._moved[p]:
            self._move(p)
        self._moved[p] = True
        config = self._first_new(self._x[p][None])
        for tries in range(1, 11):  # the position decodes to a config seen before: nudge it
            if config is not None:
                break
            nudged = np.clip(self._x[p] + self.rng.normal(scale=0.05 * tries,
                                                          size=self.layout.d), 0.0, 1.0)
            config = self._first_new(nudged[None])
            if config is not None:
                self._x[p] = nudged
        self._next_owner = p
        return config if config is not None else self.space.decode(self._x[p])

    def suggest(self, trial_id: str) -> dict[str, Any] | None | _Finished:
        self._next_owner = None
        config = super().suggest(trial_id)
        if isinstance(config, dict) and self._next_owner is not None:
            self._owner[trial_id] = self._next_owner
        return config

    def _move(self, p: int) -> None:
        d = self.layout.d
        r1, r2 = self.rng.random(d), self.rng.random(d)
        x = self._x[p]
        target = self._swarm_x if self._swarm_x is not None else self._best_x[p]
        v = (self.inertia * self._v[p] + self.cognitive * r1 * (self._best_x[p] - x)
             + self.social * r2 * (target - x))
        v = np.clip(v, -self.max_velocity, self.max_velocity)
        x = x + v
        low, high = x < 0.0, x > 1.0  # reflect at the walls and turn the velocity round
        x = np.where(low, -x, np.where(high, 2.0 - x, x))
        v = np.where(low | high, -v, v)
        self._x[p], self._v[p] = np.clip(x, 0.0, 1.0), v

    def _add_evaluated(self, config: dict[str, Any], result: dict[str, Any]) -> None:
        # a seeded result becomes the personal best (and position) of the particle with the
        # worst best so far, so the swarm starts moving from the best known points
        super()._add_evaluated(config, result)
        prior = self._priors[-1]
        loss = self._loss[prior]
        worst = int(np.argmax(self._best_loss))
        if self.layout.d and np.isfinite(loss) and loss < self._best_loss[worst]:
            self._x[worst] = self._u[prior].copy()
            self._best_x[worst] = self._u[prior].copy()
            self._best_loss[worst] = loss
            self._moved[worst] = True

    def _on_final(self, trial_id: str) -> None:
        loss = self._loss[trial_id]
        p = self._owner.pop(trial_id, None)
        if loss < self._swarm_loss:  # any trial (warm starts too) can lead the swarm
            where = self._u[trial_id] if p is None else self._x[p]
            self._swarm_loss, self._swarm_x = loss, where.copy()
        if p is None:
            return
        if loss < self._best_loss[p]:
            self._best_loss[p], self._best_x[p] = loss, self._x[p].copy()
        self._ready.append(p)
