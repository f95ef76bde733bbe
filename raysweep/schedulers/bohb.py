"""BOHB (Falkner et al., 2018, "BOHB: Robust and Efficient Hyperparameter Optimization at
Scale"): Hyperband's brackets with configs from a model instead of at random.

The scheduler is ``Hyperband`` unchanged; the model lives in ``BOHBSearcher``, which the
controller uses when the user picks no searcher. It buckets every result by budget (the rung
milestones), and on the largest budget with enough observations splits them into the best
``top_n_percent`` and the rest, fits a product-kernel density to each on the unit-cube
encoding of the space, and proposes the candidate (of ``num_samples`` drawn from the widened
good density) that maximises good/bad. A ``random_fraction`` of proposals stay random.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
from scipy.special import logsumexp, ndtr, ndtri

from raysweep.schedulers._common import check_time_attr, fail, is_int, is_number
from raysweep.schedulers.hyperband import Hyperband
from raysweep.search.base import Searcher

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class BOHB(Hyperband):
    """Hyperband whose configs come from a kernel density model (BOHB's searcher).

    ``scheduler="bohb"`` sets up both halves; an explicit ``search=`` other than the grid
    searcher is allowed too (then this is plain Hyperband with that searcher).

    Args:
        time_attr, max_t, reduction_factor: As for ``Hyperband``.
        min_points_in_model: Observations a budget needs in the good set before it is
            modelled (default: the number of dims + 1).
        top_n_percent: The share of a budget's observations that make the "good" density.
        num_samples: Candidates drawn from the good density per proposal.
        random_fraction: The share of proposals drawn at random, model or not.
        bandwidth_factor: Candidates are drawn with bandwidths this many times wider.
        min_bandwidth: Floor on every bandwidth (unit-cube scale). Bandwidths are also
            kept above ``1 / (1 + n)`` for ``n`` points in the density, as TPE does, so the
            model keeps exploring once its good configs agree.

    Example:
        >>> import raysweep as rs
        >>> sched = rs.schedulers.BOHB(max_t=27, reduction_factor=3)
        >>> type(sched.make_searcher()).__name__
        'BOHBSearcher'
    """

    name = "bohb"
    _owner = "BOHB"

    def __init__(self, time_attr: str = "training_iteration", max_t: float = 81,
                 reduction_factor: float = 3, min_points_in_model: int | None = None,
                 top_n_percent: float = 15, num_samples: int = 64,
                 random_fraction: float = 1 / 3, bandwidth_factor: float = 3,
                 min_bandwidth: float = 1e-3) -> None:
        super().__init__(time_attr, max_t, reduction_factor)
        _check_model_args("BOHB", min_points_in_model, top_n_percent, num_samples,
                          random_fraction, bandwidth_factor, min_bandwidth)
        self.min_points_in_model = min_points_in_model
        self.top_n_percent = top_n_percent
        self.num_samples = num_samples
        self.random_fraction = random_fraction
        self.bandwidth_factor = bandwidth_factor
        self.min_bandwidth = min_bandwidth

    def make_searcher(self) -> BOHBSearcher:
        return BOHBSearcher(
            time_attr=self.time_attr, budgets=self.all_milestones(),
            min_points_in_model=self.min_points_in_model, top_n_percent=self.top_n_percent,
            num_candidates=self.num_samples, random_fraction=self.random_fraction,
            bandwidth_factor=self.bandwidth_factor, min_bandwidth=self.min_bandwidth)

    def validate_searcher(self, searcher: Searcher) -> None:
        if getattr(searcher, "supports_grid", False) or type(searcher).__name__ == "Grid":
            raise ValueError(
                f"BOHB: the {type(searcher).__name__} searcher cannot feed BOHB: grid search "
                f"fixes the configs, so there is nothing for BOHB's model to choose. Leave "
                f"search unset (BOHB's own model), or use search='random' or 'tpe' for "
                f"plain Hyperband, or scheduler='hyperband' with the grid")
        if isinstance(searcher, BOHBSearcher):
            if searcher.time_attr != self.time_attr:
                raise ValueError(
                    f"BOHB: the BOHBSearcher measures budgets in time_attr="
                    f"{searcher.time_attr!r} but the scheduler in time_attr={self.time_attr!r};"
                    f" pass the same time_attr to both (or leave search unset)")

    def configure_searcher(self, searcher: Searcher) -> Searcher:
        """A ``BOHBSearcher`` without budgets gets a copy bucketing at this scheduler's rungs."""
        if isinstance(searcher, BOHBSearcher) and searcher.budgets is None:
            searcher = copy.copy(searcher)
            searcher.budgets = self.all_milestones()
        return searcher


class BOHBSearcher(Searcher):
    """BOHB's model: kernel densities of good and bad configs on the best-observed budget.

    Kernels per dim kind on the unit-cube encoding: a Gaussian truncated to [0, 1] for
    floats, the same with a bandwidth of at least one value for ints, and an
    Aitchison-Aitken kernel (keep the category with probability ``1 - bw``) for
    categoricals. Dims a config does not use (other branches of a conditional) are left
    out of its kernel.

    Args:
        time_attr: The result key that measures the budget.
        budgets: The budgets to bucket results at (a result counts for the largest budget
            it has reached); None buckets at every distinct value of ``time_attr``.
        num_candidates: Candidates drawn per proposal (``BOHB(num_samples=...)``).
        min_points_in_model, top_n_percent, random_fraction, bandwidth_factor,
        min_bandwidth: As for ``BOHB``.
        points_to_evaluate, max_concurrent: As for every searcher.
    """

    name = "bohb"

    def __init__(self, *, time_attr: str = "training_iteration",
                 budgets: list[float] | None = None, min_points_in_model: int | None = None,
                 top_n_percent: float = 15, num_candidates: int = 64,
                 random_fraction: float = 1 / 3, bandwidth_factor: float = 3,
                 min_bandwidth: float = 1e-3, points_to_evaluate: list[dict] | None = None,
                 max_concurrent: int | None = None) -> None:
        super().__init__(points_to_evaluate=points_to_evaluate, max_concurrent=max_concurrent)
        _check_model_args("BOHBSearcher", min_points_in_model, top_n_percent, num_candidates,
                          random_fraction, bandwidth_factor, min_bandwidth)
        self.time_attr = check_time_attr("BOHBSearcher", time_attr)
        self.budgets = None if budgets is None else sorted(float(b) for b in budgets)
        self.min_points_in_model = min_points_in_model
        self.top_n_percent = top_n_percent
        self.num_candidates = num_candidates
        self.random_fraction = random_fraction
        self.bandwidth_factor = bandwidth_factor
        self.min_bandwidth = min_bandwidth

    def setup(self, space: Any, metric: str, mode: str, seed: Any,
              num_samples: int | None = None) -> None:
        super().setup(space, metric, mode, seed, num_samples)
        if getattr(space, "has_grid", False):
            raise ValueError(
                "BOHBSearcher: grid domains (rs.grid) cannot be modelled; replace them with "
                "rs.choice, or use search='grid' with scheduler='hyperband'")
        self.kinds_: list[str] = []
        self.n_choices_ = np.zeros(len(space.dims), dtype=int)
        self.floor_bw_ = np.full(len(space.dims), self.min_bandwidth)
        for j, dim in enumerate(space.dims):
            kind = getattr(dim.domain, "kind", None)
            if kind not in ("float", "int", "categorical") or not getattr(
                    dim.domain, "invertible", True):
                raise ValueError(
                    f"BOHBSearcher: dim {dim.name!r} ({dim.domain!r}) cannot be mapped to "
                    f"the unit cube, so BOHB cannot model it")
            self.kinds_.append(kind)
            if kind == "categorical":
                self.n_choices_[j] = len(dim.domain.categories)
            elif kind == "int" and getattr(dim.domain, "size", 0):
                self.floor_bw_[j] = max(self.min_bandwidth, 1.0 / dim.domain.size)
        d = len(space.dims)
        self.min_points_ = self.min_points_in_model or d + 1
        self.encoded_: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # trial_id -> (u, active)
        self.observations_: dict[float, dict[str, float]] = {}  # budget -> trial_id -> loss
        self._proposed: set[tuple] = set()
        self._n_priors = 0

    # -- protocol --------------------------------------------------------------------------
    def suggest(self, trial_id: str) -> Any:
        config = super().suggest(trial_id)
        if isinstance(config, dict):
            u, active = self.space.encode(config)
            self.encoded_[trial_id] = (np.asarray(u, dtype=float), np.asarray(active, bool))
            self._proposed.add(_key(u, active))
        return config

    def _suggest(self, trial_id: str) -> dict[str, Any]:
        if self.rng.random() < self.random_fraction:
            return self.space.sample(self.rng)
        budget = self.model_budget()
        if budget is None:
            return self.space.sample(self.rng)
        good, bad = self._split(budget)
        return self._propose(good, bad)

    def _add_evaluated(self, config: dict[str, Any], result: dict[str, Any]) -> None:
        # learnt at the budget its result reached (a result without ``time_attr`` is skipped)
        prior_id = f"prior:{self._n_priors}"
        self._n_priors += 1
        u, active = self.space.encode(config)
        self.encoded_[prior_id] = (np.asarray(u, dtype=float), np.asarray(active, bool))
        self._proposed.add(_key(u, active))
        self._observe(prior_id, result, final=True)

    def _observe(self, trial_id: str, result: dict[str, Any], *, final: bool) -> None:
        if trial_id not in self.encoded_ or not result:
            return
        t: Any = result.get(self.time_attr)
        if not is_number(t):
            return
        if self.budgets is None:
            budget = float(t)
        else:
            reached = [b for b in self.budgets if t >= b * (1 - 1e-9)]
            if not reached:
                return
            budget = reached[-1]
        bucket = self.observations_.setdefault(budget, {})
        if trial_id not in bucket:
            bucket[trial_id] = self.loss(result)

    # -- the model -------------------------------------------------------------------------
    def model_budget(self) -> float | None:
        """The largest budget with enough observations to fit both densities, or None."""
        usable = [b for b, obs in self.observations_.items()
                  if len(obs) >= self.min_points_ + 2]
        return max(usable) if usable else None

    def _split(self, budget: float) -> tuple[_KDE, _KDE]:
        observations = self.observations_[budget]
        ids = sorted(observations, key=lambda tid: (observations[tid], tid))
        n_good = max(self.min_points_, math.floor(self.top_n_percent * len(ids) / 100))
        n_good = min(n_good, len(ids) - 2)

        def kde(members: list[str]) -> _KDE:
            U = np.array([self.encoded_[tid][0] for tid in members])
            A = np.array([self.encoded_[tid][1] for tid in members])
            return _KDE(U, A, self.kinds_, self.n_choices_, self.floor_bw_)

        return kde(ids[:n_good]), kde(ids[n_good:])

    def _propose(self, good: _KDE, bad: _KDE) -> dict[str, Any]:
        candidates = good.sample(self.rng, self.num_candidates, self.bandwidth_factor)
        active = np.array([self.space.active(u) for u in candidates])
        score = good.log_pdf(candidates, active) - bad.log_pdf(candidates, active)
        for i in np.argsort(-score, kind="stable"):
            config = self.space.decode(candidates[i])
            u, act = self.space.encode(config)
            if _key(u, act) not in self._proposed:
                return config
        return self.space.decode(candidates[int(np.argmax(score))])


class _KDE:
    """A product-kernel density over unit-cube points with per-dim activity masks."""

    def __init__(self, U: np.ndarray, A: np.ndarray, kinds: list[str], n_choices: np.ndarray,
                 floor_bw: np.ndarray) -> None:
        self.U, self.A, self.kinds, self.n_choices = U, A, kinds, n_choices
        d = U.shape[1]
        self.bw = np.empty(d)
        for j in range(d):
            values = U[A[:, j], j]
            m = max(len(values), 1)
            # Scott's rule, floored at min_bandwidth and at 1 / (1 + m) of the range (TPE's
            # "magic clip"): without the second floor the good density collapses onto one
            # point after a few dozen trials and the model stops exploring.
            clip = 1.0 / min(100, 1 + m)
            if kinds[j] == "categorical":
                k = n_choices[j]
                index = np.minimum((values * k).astype(int), k - 1)
                share = np.bincount(index, minlength=k) / m
                spread = math.sqrt(max(0.0, 1.0 - float(np.sum(share ** 2))))
                top = (k - 1) / k
                self.bw[j] = min(max(1.06 * spread * m ** (-1 / (d + 4)), floor_bw[j],
                                     top * clip), top)
            else:
                spread = float(np.std(values)) if len(values) > 1 else 0.0
                self.bw[j] = max(1.06 * spread * m ** (-1 / (d + 4)), floor_bw[j], clip)

    def sample(self, rng: np.random.Generator, size: int, widen: float) -> np.ndarray:
        """Draw ``size`` points: around a random member, each dim from its widened kernel."""
        n, d = self.U.shape
        rows = rng.integers(n, size=size)
        out = np.empty((size, d))
        for j in range(d):
            centre = self.U[rows, j]
            draw = rng.random(size)
            if self.kinds[j] == "categorical":
                k = self.n_choices[j]
                bw = min(self.bw[j] * widen, (k - 1) / k)
                index = np.minimum((centre * k).astype(int), k - 1)
                other = (index + 1 + rng.integers(max(k - 1, 1), size=size)) % k
                index = np.where(draw < 1 - bw, index, other)
                out[:, j] = (index + 0.5) / k
            else:
                sd = self.bw[j] * widen
                lo, hi = ndtr((0.0 - centre) / sd), ndtr((1.0 - centre) / sd)
                p = np.clip(lo + draw * (hi - lo), 1e-12, 1 - 1e-12)
                out[:, j] = np.clip(centre + sd * ndtri(p), 0.0, 1.0)
            inactive = ~self.A[rows, j]
            if inactive.any():  # the member does not use this dim: anything goes
                out[inactive, j] = rng.random(int(inactive.sum()))
        return out

    def log_pdf(self, X: np.ndarray, active: np.ndarray) -> np.ndarray:
        """log density of each row of ``X`` (dims inactive in either point are skipped)."""
        n, d = self.U.shape
        total = np.zeros((len(X), n))
        for j in range(d):
            both = active[:, j][:, None] & self.A[:, j][None, :]
            if self.kinds[j] == "categorical":
                k = self.n_choices[j]
                if k < 2:
                    continue  # a single category says nothing
                same = (np.minimum((X[:, j] * k).astype(int), k - 1)[:, None]
                        == np.minimum((self.U[:, j] * k).astype(int), k - 1)[None, :])
                bw = self.bw[j]
                log_k = np.where(same, math.log(1 - bw), math.log(bw / max(k - 1, 1)))
            else:
                h = self.bw[j]
                centre = self.U[:, j][None, :]
                z = (X[:, j][:, None] - centre) / h
                mass = ndtr((1.0 - centre) / h) - ndtr((0.0 - centre) / h)
                log_k = -0.5 * z * z - _HALF_LOG_2PI - math.log(h) - np.log(mass)
            total += np.where(both, log_k, 0.0)
        return logsumexp(total, axis=1) - math.log(n)


def _key(u: Any, active: Any) -> tuple:
    return tuple(np.round(np.where(active, u, -1.0), 9))


def _check_model_args(owner: str, min_points_in_model: Any, top_n_percent: Any,
                      num_samples: Any, random_fraction: Any, bandwidth_factor: Any,
                      min_bandwidth: Any) -> None:
    arg = "num_samples" if owner == "BOHB" else "num_candidates"
    if min_points_in_model is not None and (
            not is_int(min_points_in_model) or min_points_in_model < 1):
        raise fail(owner, "min_points_in_model", "None (dims + 1) or an int >= 1",
                   min_points_in_model)
    if not is_number(top_n_percent) or not 0 < top_n_percent < 100:
        raise fail(owner, "top_n_percent", "a number in (0, 100)", top_n_percent)
    if not is_int(num_samples) or num_samples < 1:
        raise fail(owner, arg, "an int >= 1", num_samples)
    if not is_number(random_fraction) or not 0 <= random_fraction <= 1:
        raise fail(owner, "random_fraction", "a number in [0, 1]", random_fraction)
    if not is_number(bandwidth_factor) or bandwidth_factor <= 0:
        raise fail(owner, "bandwidth_factor", "a number > 0", bandwidth_factor)
    if not is_number(min_bandwidth) or not 0 < min_bandwidth < 1:
        raise fail(owner, "min_bandwidth", "a number in (0, 1)", min_bandwidth)
