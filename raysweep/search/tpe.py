"""Tree-structured Parzen Estimator (Bergstra et al., 2011).

The finished trials are split by loss into a good fraction (``gamma``) and the rest; a
Parzen estimator (one kernel per trial plus a broad prior kernel) is fitted to each part,
candidates are drawn from the good density ``l`` and the one maximising ``l(x) / g(x)``
(equivalently, expected improvement) is proposed.

With ``multivariate=True`` the kernels are joint over the dims of a sub-space, so
interactions between hyperparameters are modelled; with ``False`` every dim is modelled
and chosen on its own (the original TPE). Conditional spaces are handled per active
sub-space: the dims switched on by one branch of a ``choice`` form their own group, sampled
once its selector is decided and modelled only on the trials in which that branch was
active. Trials still running count as bad (constant liar), which spreads parallel proposals.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import ndtr, ndtri

from raysweep.search._common import HistorySearcher, Layout
from raysweep.search._common import bounded_history as _bounded_history
from raysweep.search.base import is_real

if TYPE_CHECKING:
    from raysweep.space import Space

__all__ = ["TPE"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def min_width(n_points: int, n_numeric: int) -> float:
    """Smallest kernel width (fraction of the unit interval) of an estimator fitted on
    ``n_points`` trials over ``n_numeric`` numeric dims modelled together.

    Optuna's "magic clip" is ``1 / min(100, n + 2)``: kernels sharpen as trials accumulate,
    never below a hundredth of the range. raysweep keeps that from four dims on, where the
    joint kernels' volume shrinks as the width to the power of the dims and a narrower
    floor over-exploits (on BBOB at 100 evaluations a quarter of it lost 14 of 24 functions
    to Optuna's TPE in 5-D and 10-D). In one and two dims, where the budget can resolve the
    optimum finely, the floor is a quarter of it (which won 17 of 24 in 2-D, against 10 with
    the full clip); three dims sit between.
    """
    factor = min(1.0, max(0.25, n_numeric * n_numeric / 16.0))
    return factor / min(100.0, n_points + 2.0)


class TPE(HistorySearcher):
    """Tree-structured Parzen Estimator search.

    Args:
        n_startup_trials: Random configs evaluated before the model takes over (>= 1).
        n_ei_candidates: Candidates drawn from the good density per proposal (>= 1); more
            is greedier.
        gamma: Fraction of the finished trials counted as good, in (0, 1).
        max_good: At most this many trials are counted as good (>= 1).
        prior_weight: Weight of the broad prior kernel in both densities (> 0); larger
            explores more.
        multivariate: Joint kernels over the dims of a sub-space (True), or one independent
            estimator per dim (False, the original TPE; better when the objective is close
            to a sum of one-dim effects).
        bandwidth: Factor on the kernel widths (> 0); each width is the larger gap to the
            neighbouring trials along that dim.
        max_history: Most finished trials the densities are fitted on (>= 1, or None: all).
            Past it the model keeps the best trials (as many as the good part can hold)
            and the most recent others, so a suggestion costs the same at 10^5 trials as
            at 10^3. It bounds the running trials that join the bad part (the constant
            liar) the same way: the ``max_history`` started last. The default (1,000)
            changes nothing for smaller experiments.
        points_to_evaluate: Configs evaluated first (and learnt from).
        max_concurrent: Most trials pending at once (None: no limit).

    Example:
        >>> import raysweep as rs
        >>> searcher = rs.search.TPE(n_startup_trials=10)
        >>> # rs.run(objective, space, metric="loss", mode="min", search=searcher)
    """

    name = "tpe"

    def __init__(self, *, n_startup_trials: int = 10, n_ei_candidates: int = 24,
                 gamma: float = 0.1, max_good: int = 25, prior_weight: float = 1.0,
                 multivariate: bool = True, bandwidth: float = 1.0,
                 max_history: int | None = 1000,
                 points_to_evaluate: list[dict[str, Any]] | None = None,
                 max_concurrent: int | None = None) -> None:
        super().__init__(points_to_evaluate=points_to_evaluate, max_concurrent=max_concurrent)
        _check_int("n_startup_trials", n_startup_trials, 1)
        _check_int("n_ei_candidates", n_ei_candidates, 1)
        _check_int("max_good", max_good, 1)
        if max_history is not None:
            _check_int("max_history", max_history, 1)
        if not is_real(gamma) or not 0.0 < gamma < 1.0:
            raise ValueError(f"TPE: gamma must be a float in (0, 1), got {gamma!r}")
        for arg, value in (("prior_weight", prior_weight), ("bandwidth", bandwidth)):
            if not is_real(value) or not value > 0:
                raise ValueError(f"TPE: {arg} must be a float > 0, got {value!r}")
        self.n_startup_trials = n_startup_trials
        self.n_ei_candidates = n_ei_candidates
        self.gamma = float(gamma)
        self.max_good = max_good
        self.prior_weight = float(prior_weight)
        self.multivariate = bool(multivariate)
        self.bandwidth = float(bandwidth)
        self.max_history = max_history

    def setup(self, space: Space, metric: str, mode: str, seed: int | np.random.SeedSequence,
              num_samples: int | None = None) -> None:
        super().setup(space, metric, mode, seed, num_samples)
        self._groups = _groups(self.layout)
        self._snap = [(j, dim.domain) for j, dim in enumerate(space.dims)
                      if self.layout.kinds[j] == "int" or getattr(dim.domain, "q", None)]

    def _propose(self) -> dict[str, Any]:
        U, active, loss = self._history()
        if len(loss) < self.n_startup_trials:
            return self._random_config()
        if self.max_history is not None and len(loss) > self.max_history:
            keep = _bounded_history(loss, self.max_history, self.max_good)
            U, active, loss = U[keep], active[keep], loss[keep]
        # constant liar: pending trials join the bad part, with an infinite loss (the most
        # recent max_history of them: at 10^4 workers the liar would cost more than the rest)
        Up, active_p = self._pending_arrays(self.max_history)
        done = np.arange(len(loss) + len(Up)) < len(loss)
        U, active = np.vstack([U, Up]), np.vstack([active, active_p])
        loss = np.concatenate([loss, np.full(len(Up), np.inf)])
        order = np.lexsort((~done, loss))  # best first; ties keep observation order
        U, active, loss, done = U[order], active[order], loss[order], done[order]

        layout = self.layout
        n_cand = self.n_ei_candidates
        cands = np.full((n_cand, layout.d), 0.5)
        decided = np.zeros((n_cand, layout.d), dtype=bool)
        score = np.zeros(n_cand)
        for parent, cols in self._groups:
            if parent is None:
                on = np.ones(n_cand, dtype=bool)
            else:
                sel, branch = parent
                on = decided[:, sel] & (layout.cat_index(cands[:, sel], sel) == branch)
            if not on.any():
                continue
            rows = active[:, cols[0]]
            values, gain = self._sample_group(cols, U[rows][:, cols], loss[rows], done[rows],
                                              int(on.sum()))
            cands[np.ix_(on, np.asarray(cols))] = values
            decided[np.ix_(on, np.asarray(cols))] = True
            score[on] += gain
        best_first = np.argsort(-score, kind="stable")
        return self._first_new(cands[best_first]) or self._random_config()

    # -- internals ----------------------------------------------------------------------
    def _sample_group(self, cols: list[int], U: np.ndarray, loss: np.ndarray, done: np.ndarray,
                      n_cand: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n_cand`` values of the dims ``cols`` from ``l``; return them and log l/g.

        ``U`` and ``loss`` are sorted best first; ``done`` marks finished trials (the others
        are pending). With too little data the values are uniform and the gains zero.
        """
        n_good = min(math.ceil(self.gamma * int(done.sum())), self.max_good,
                     int(np.isfinite(loss).sum()))
        if n_good < 1 or len(loss) - n_good < 1:
            return self._snap_values(self.rng.random((n_cand, len(cols))), cols), np.zeros(n_cand)
        good = _Parzen(U[:n_good], cols, self.layout, self.prior_weight, self.bandwidth)
        bad = _Parzen(U[n_good:], cols, self.layout, self.prior_weight, self.bandwidth)
        joint = self.multivariate
        values = self._snap_values(good.sample(self.rng, n_cand, joint), cols)
        gain = good.log_pdf(values, joint) - bad.log_pdf(values, joint)
        if joint:
            return values, gain
        # independent dims: rank each dim's values by its own gain, so that row 0 holds the
        # best value of every dim, row 1 the second best, and so on
        rank = np.argsort(-gain, axis=0, kind="stable")
        values = np.take_along_axis(values, rank, axis=0)
        return values, np.take_along_axis(gain, rank, axis=0).sum(axis=1)

    def _snap_values(self, values: np.ndarray, cols: list[int]) -> np.ndarray:
        """Move int and quantized dims to the unit value of the value they decode to."""
        where = {j: k for k, j in enumerate(cols)}
        for j, domain in self._snap:
            k = where.get(j)
            if k is not None:
                values[:, k] = [domain.to_unit(domain.from_unit(float(v))) for v in values[:, k]]
        return np.clip(values, 0.0, 1.0)


class _Parzen:
    """A mixture of product kernels over some dims: one component per point plus a prior.

    Numeric dims get truncated Gaussians on [0, 1] whose width, per point and dim, is the
    larger gap to the point's neighbours along that dim (clipped below by ``min_width`` so
    that the density sharpens as trials accumulate, and never below half an integer step);
    the prior is centred and as wide as the cube. Categorical dims put most of a point's mass on the
    point's category.
    """

    def __init__(self, U: np.ndarray, cols: list[int], layout: Layout, prior_weight: float,
                 bandwidth: float) -> None:
        n = len(U)
        kinds = [layout.kinds[j] for j in cols]
        self.cont = np.array([k for k, kind in enumerate(kinds) if kind != "categorical"], int)
        self.cat = np.array([k for k, kind in enumerate(kinds) if kind == "categorical"], int)
        self.log_w = np.log(np.append(np.ones(n), prior_weight) / (n + prior_weight))
        c = len(self.cont)
        X = U[:, self.cont]
        steps = np.array([layout.n_values[cols[k]] for k in self.cont], dtype=float)
        floor = np.maximum(np.where(steps > 0, 0.5 / np.maximum(steps, 1), 0.0),
                           min_width(n, c))
        sigma = np.clip(_neighbour_gaps(X) * bandwidth, floor, 1.0)
        self.mu = np.vstack([X, np.full((1, c), 0.5)])
        self.sigma = np.vstack([sigma, np.ones((1, c))])
        self.lo = ndtr(-self.mu / self.sigma)
        self.hi = ndtr((1.0 - self.mu) / self.sigma)
        self.inv_sigma = 1.0 / self.sigma
        self.log_norm = (np.log(np.maximum(self.hi - self.lo, 1e-300)) + np.log(self.sigma)
                         + _LOG_SQRT_2PI)
        self.probs = []
        for k in self.cat:
            j = cols[k]
            p = np.full((n + 1, layout.n_choices[j]), prior_weight / (n + prior_weight))
            p[np.arange(n), layout.cat_index(U[:, k], j)] += 1.0
            p[n] = 1.0
            self.probs.append(p / p.sum(axis=1, keepdims=True))
        self.cat_cols = [cols[k] for k in self.cat]
        self.layout = layout
        self.width = len(cols)

    def sample(self, rng: np.random.Generator, size: int, joint: bool) -> np.ndarray:
        """``size`` draws; ``joint=False`` picks each dim's component independently (draws
        from the product of the marginals)."""
        weights = np.exp(self.log_w)
        comp = rng.choice(len(weights), size=(size, 1 if joint else self.width),
                          p=weights / weights.sum())
        comp = np.broadcast_to(comp, (size, self.width))
        out = np.empty((size, self.width))
        if len(self.cont):
            idx = comp[:, self.cont]
            col = np.arange(len(self.cont))[None, :]
            lo, hi = self.lo[idx, col], self.hi[idx, col]
            q = np.clip(lo + rng.random(lo.shape) * (hi - lo), 1e-12, 1 - 1e-12)
            out[:, self.cont] = np.clip(self.mu[idx, col] + self.sigma[idx, col] * ndtri(q),
                                        0.0, 1.0)
        for k, j, p in zip(self.cat, self.cat_cols, self.probs):
            cum = np.cumsum(p[comp[:, k]], axis=1)
            pick = (rng.random((size, 1)) * cum[:, -1:] > cum).sum(axis=1)
            out[:, k] = self.layout.cat_unit(np.minimum(pick, p.shape[1] - 1), j)
        return out

    def log_pdf(self, X: np.ndarray, joint: bool) -> np.ndarray:
        """Log density of each row (``joint``), else of each entry under its dim's marginal."""
        log_w = self.log_w[None, :]
        cont = None
        if len(self.cont):
            z = (X[:, None, self.cont] - self.mu[None]) * self.inv_sigma[None]
            cont = -0.5 * z * z - self.log_norm[None]            # (m, n + 1, numeric dims)
        cats = [np.log(p[:, self.layout.cat_index(X[:, k], j)]).T
                for k, j, p in zip(self.cat, self.cat_cols, self.probs)]
        if joint:
            total = log_w + (cont.sum(axis=2) if cont is not None else 0.0)
            for term in cats:
                total = total + term
            return _logsumexp(total)
        out = np.empty((len(X), self.width))
        if cont is not None:
            out[:, self.cont] = _logsumexp(cont + log_w[:, :, None])
        for k, term in zip(self.cat, cats):
            out[:, k] = _logsumexp(term + log_w)
        return out


def _logsumexp(a: np.ndarray) -> np.ndarray:
    """log(sum(exp(a))) over axis 1."""
    top = a.max(axis=1, keepdims=True)
    return np.log(np.exp(a - top).sum(axis=1)) + top[:, 0]


def _neighbour_gaps(X: np.ndarray) -> np.ndarray:
    """Per point and dim: the larger gap to its two neighbours along that dim."""
    n, c = X.shape
    if n < 2:
        return np.full((n, c), 0.5)
    order = np.argsort(X, axis=0, kind="stable")
    gaps = np.diff(np.take_along_axis(X, order, axis=0), axis=0)
    widest = np.maximum(np.vstack([gaps[:1], gaps]), np.vstack([gaps, gaps[-1:]]))
    out = np.empty_like(X)
    np.put_along_axis(out, order, widest, axis=0)
    return out


def _groups(layout: Layout) -> list[tuple[tuple[int, int] | None, list[int]]]:
    """Dims grouped by the branch that switches them on, selectors' groups first."""
    groups: dict[Any, list[int]] = {}
    for j in layout.order:
        groups.setdefault(layout.parent[j], []).append(j)
    return list(groups.items())


def _check_int(arg: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"TPE: {arg} must be an int >= {minimum}, got {value!r}")
