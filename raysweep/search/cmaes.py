"""CMA-ES (covariance matrix adaptation evolution strategy) on the unit-cube encoding.

The algorithm itself comes from the maintained ``cmaes`` package (the small numpy-only
library Optuna's ``CmaEsSampler`` is built on; ``pip install 'raysweep[cmaes]'``); this
module only drives it as a raysweep searcher:

* **What CMA-ES sees.** The always-active numeric parameters (floats, integers, quantized
  and log-scaled values, ``normal`` and ``scipy.stats`` distributions), as their
  coordinates in ``[0, 1]`` of raysweep's unit-cube encoding: log scales are already linear
  there, an integer owns an interval of the line, a distribution is searched on its
  quantile scale. CMA-ES samples inside the box (``cmaes`` resamples, then clips).
* **What it does not.** Categorical parameters and everything inside a branch of a
  conditional ``choice`` are drawn independently from their prior (random search), with one
  warning naming them, as Optuna does.
* **Generations in parallel.** A generation's ``population_size`` points are handed out as
  fast as the controller asks, so they run at once; then ``suggest`` returns None until the
  whole generation has ended, and the last result tells CMA-ES. A trial stopped early by a
  scheduler counts with its last result; a trial that failed (no finite metric) ranks
  behind every trial of its generation that did not.
* **Restarts.** When ``cmaes`` says the run has converged or stalled (``should_stop``), a
  new run starts from a random point: IPOP doubles the population each time, BIPOP
  alternates that with runs of small populations and step sizes (Hansen, 2009), whichever
  regime has spent fewer evaluations going next.
* **Determinism.** Every random draw (the ``cmaes`` sampler is reseeded from the searcher's
  generator before each point) comes from the experiment seed, in call order, so a restore
  that replays the journal reaches exactly the same state.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from raysweep.search._common import HistorySearcher, warn_once
from raysweep.search.base import is_real

if TYPE_CHECKING:
    from raysweep.space import Space

__all__ = ["CMAES"]

_RESTARTS = (None, "ipop", "bipop")


def _import_cmaes() -> Any:
    try:
        import cmaes
    except ImportError:
        raise ImportError("rs.search.CMAES (search='cmaes') needs the cmaes package: "
                          "pip install 'raysweep[cmaes]'") from None
    return cmaes


class CMAES(HistorySearcher):
    """CMA-ES search with restarts, on the ``cmaes`` package.

    Args:
        population_size: Points per generation (>= 4), also the most trials it runs at
            once. None: CMA-ES's default, ``4 + floor(3 ln d)`` for ``d`` numeric dims.
        sigma0: Initial step size in unit-cube lengths, in (0, 1]. None: 1/6 (a sixth of
            every range, as Optuna's default).
        x0: A (partial) config where the first run's mean starts; missing numeric values
            start at the middle of their range. None: the middle of the space, or the best
            result given to ``add_evaluated`` (``rs.run(..., warm_start=...)``) if any.
        restart: ``"ipop"`` (default), ``"bipop"`` or None (one run, however it ends).
        inc_popsize: Factor by which IPOP (and BIPOP's large regime) grows the population
            at each restart (>= 2).
        lr_adapt: Use ``cmaes``' learning-rate adaptation (better on multimodal and noisy
            problems, slower on easy ones).
        points_to_evaluate: Configs evaluated first (they do not join a generation).
        max_concurrent: Most trials pending at once (None: a whole generation).

    Example:
        >>> import raysweep as rs
        >>> searcher = rs.search.CMAES(population_size=8, restart="bipop")
        >>> # rs.run(objective, space, metric="loss", mode="min", search=searcher)
    """

    name = "cmaes"

    def __init__(self, *, population_size: int | None = None, sigma0: float | None = None,
                 x0: dict[str, Any] | None = None, restart: str | None = "ipop",
                 inc_popsize: int = 2, lr_adapt: bool = False,
                 points_to_evaluate: list[dict[str, Any]] | None = None,
                 max_concurrent: int | None = None) -> None:
        super().__init__(points_to_evaluate=points_to_evaluate, max_concurrent=max_concurrent)
        if population_size is not None and (isinstance(population_size, bool)
                                            or not isinstance(population_size, int)
                                            or population_size < 4):
            raise ValueError(f"CMAES: population_size must be None or an int >= 4, got "
                             f"{population_size!r}")
        if sigma0 is not None and (not is_real(sigma0) or not 0.0 < sigma0 <= 1.0):
            raise ValueError(f"CMAES: sigma0 must be None or a float in (0, 1] (unit-cube "
                             f"lengths), got {sigma0!r}")
        if x0 is not None and not isinstance(x0, dict):
            raise TypeError(f"CMAES: x0 must be None or a config dict, got "
                            f"{type(x0).__name__}")
        if restart not in _RESTARTS:
            raise ValueError(f"CMAES: restart must be one of 'ipop', 'bipop' or None, got "
                             f"{restart!r}")
        if isinstance(inc_popsize, bool) or not isinstance(inc_popsize, int) or inc_popsize < 2:
            raise ValueError(f"CMAES: inc_popsize must be an int >= 2, got {inc_popsize!r}")
        if not isinstance(lr_adapt, bool):
            raise TypeError(f"CMAES: lr_adapt must be a bool, got {lr_adapt!r}")
        _import_cmaes()  # fail now, not at the first trial
        self.population_size = population_size
        self.sigma0 = None if sigma0 is None else float(sigma0)
        self.x0 = x0
        self.restart = restart
        self.inc_popsize = inc_popsize
        self.lr_adapt = lr_adapt

    def setup(self, space: Space, metric: str, mode: str, seed: int | np.random.SeedSequence,
              num_samples: int | None = None) -> None:
        super().setup(space, metric, mode, seed, num_samples)
        self._cmaes = _import_cmaes()
        layout = self.layout
        # the dims CMA-ES models: numeric and always active
        self._cma_dims = np.array([j for j in range(layout.d) if layout.kinds[j] != "categorical"
                                   and layout.parent[j] is None], dtype=int)
        modelled = set(self._cma_dims.tolist())
        independent = [dim.name for j, dim in enumerate(space.dims) if j not in modelled]
        if independent:
            warn_once(self, f"CMAES: {sorted(set(independent))} are categorical or conditional "
                            "parameters, which CMA-ES does not model: they are sampled "
                            "independently at random")
        self._x0_unit = None
        if self.x0 is not None:
            config = space.complete(self.x0, self.rng)
            u, _ = space.encode(config)
            given = set(_flat_names(self.x0))
            self._x0_unit = np.array([u[j] if space.dims[j].name in given else 0.5
                                      for j in self._cma_dims], dtype=float)
        self._optimizer: Any = None
        self._generation: list[np.ndarray] = []  # points handed out, in order
        self._slot: dict[str, int] = {}           # trial_id -> its point in the generation
        self._losses: dict[int, float] = {}      # slot -> loss, of the ended trials
        self._default_popsize = 4 + math.floor(3 * math.log(max(len(self._cma_dims), 1)))
        self._runs = 0                           # CMA-ES runs started (1 + restarts)
        self._large_runs = 0                     # BIPOP: large-population restarts so far
        # BIPOP: evaluations spent per regime (the first run counts for neither)
        self._budget = {"first": 0, "large": 0, "small": 0}
        self._regime = "first"
        self._popsize = self.population_size or self._default_popsize

    # -- proposal -------------------------------------------------------------------------
    def _suggest(self, trial_id: str) -> dict[str, Any] | None:
        if len(self._cma_dims) == 0:
            return self.space.sample(self.rng)  # nothing for CMA-ES: random search
        if self._optimizer is None:
            self._start_run(self._first_mean(), self.sigma0 or 1.0 / 6.0, self._popsize)
        if len(self._generation) >= self._optimizer.population_size:
            return None  # the whole generation is out: wait for its results
        self._optimizer.reseed_rng(int(self.rng.integers(2**31 - 1)))
        x = np.asarray(self._optimizer.ask(), dtype=float)
        u = self.rng.random(self.layout.d)  # the other dims: independent prior draws
        u[self._cma_dims] = np.clip(x, 0.0, 1.0)
        self._slot[trial_id] = len(self._generation)
        self._generation.append(x)
        return self.space.decode(u)

    def _first_mean(self) -> np.ndarray:
        if self._x0_unit is not None:
            return self._x0_unit
        finite = [p for p in self._priors if np.isfinite(self._loss.get(p, np.inf))]
        if finite:  # warm start: the best known result
            best = min(finite, key=lambda p: self._loss[p])
            return self._u[best][self._cma_dims].copy()
        return np.full(len(self._cma_dims), 0.5)

    def _start_run(self, mean: np.ndarray, sigma: float, popsize: int) -> None:
        d = len(self._cma_dims)
        bounds = np.tile([0.0, 1.0], (d, 1))
        self._optimizer = self._cmaes.CMA(
            mean=np.clip(mean, 0.0, 1.0), sigma=sigma, bounds=bounds,
            seed=int(self.rng.integers(2**31 - 1)), population_size=max(popsize, 4),
            lr_adapt=self.lr_adapt)
        self._runs += 1
        self._generation, self._slot, self._losses = [], {}, {}

    # -- learning -------------------------------------------------------------------------
    def _on_final(self, trial_id: str) -> None:
        slot = self._slot.pop(trial_id, None)
        if slot is None:
            return  # a warm-start point, or a trial of an earlier run
        self._losses[slot] = self._loss[trial_id]
        if len(self._losses) < self._optimizer.population_size:
            return
        self._tell()

    def _tell(self) -> None:
        optimizer = self._optimizer
        losses = np.array([self._losses[i] for i in range(len(self._generation))])
        finite = np.isfinite(losses)
        if finite.any():  # failed trials rank behind every trial that gave a number
            worst, best = losses[finite].max(), losses[finite].min()
            penalty = worst + max(worst - best, 1.0)
        else:
            penalty = 0.0
        losses = np.where(finite, losses, penalty)
        optimizer.tell([(x, float(value)) for x, value in zip(self._generation, losses)])
        self._budget[self._regime] += len(self._generation)
        self._generation, self._slot, self._losses = [], {}, {}
        if self.restart is not None and optimizer.should_stop():
            self._restart_run()

    def _restart_run(self) -> None:
        mean = self.rng.random(len(self._cma_dims))
        sigma = self.sigma0 or 1.0 / 6.0
        base = self.population_size or self._default_popsize
        if self.restart == "ipop" or self._budget["large"] <= self._budget["small"]:
            self._large_runs += 1
            self._regime = "large"
            self._popsize = base * self.inc_popsize ** self._large_runs
            self._start_run(mean, sigma, self._popsize)
            return
        # BIPOP's small regime: a population between the default and half the last large
        # one, and a step size down to 1/100 of sigma0, both drawn at random
        self._regime = "small"
        draw = self.rng.random()
        largest = base * self.inc_popsize ** self._large_runs
        popsize = math.floor(base * (0.5 * largest / base) ** (draw ** 2))
        self._start_run(mean, sigma * 10.0 ** (-2.0 * self.rng.random()), max(popsize, 4))

    @property
    def restarts(self) -> int:
        """How many times CMA-ES has restarted so far."""
        return max(self._runs - 1, 0)


def _flat_names(config: dict[str, Any], prefix: str = "") -> list[str]:
    names = []
    for key, value in config.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        names.extend(_flat_names(value, name) if isinstance(value, dict) else [name])
    return names
