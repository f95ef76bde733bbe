"""Gaussian-process Bayesian optimisation on the unit-cube encoding.

The model is scikit-learn's ``GaussianProcessRegressor`` with a Matern 5/2 kernel with one
length scale per input (ARD), a fitted amplitude and a fitted noise level (``WhiteKernel``).
Numeric dims enter as their unit coordinates, categorical dims one-hot; the dims of branches
not taken are held at a constant. Losses are warped by a Yeo-Johnson power transform
(fitted by maximum likelihood; it compresses the large losses far from the optimum so the
GP spends its flexibility near it) and standardised. The prior mean is a bowl around the
best trial fitted to the losses (``_Bowl``), not a constant, so that expected improvement
does not pile up in the corners of the cube.

The acquisition (log expected improvement by default, or a lower confidence bound) is
maximised by scoring a few thousand random and local candidates, then refining the best
ones with L-BFGS-B on the numeric dims (analytic gradients, all starts in one batched
call). Trials still running enter the model as fantasies at the posterior mean (kriging
believer), which lowers the acquisition around them so parallel proposals spread out.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.linalg.lapack import dpotri
from scipy.optimize import minimize, minimize_scalar
from scipy.special import erfcx, ndtr
from scipy.stats import qmc

from raysweep.search._common import HistorySearcher, bounded_history
from raysweep.search.base import is_real

if TYPE_CHECKING:
    from raysweep.space import Space

_SQRT5 = math.sqrt(5.0)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_ACQUISITIONS = ("ei", "ucb")
_WARPS = ("power", "none")
_FIT_MAXITER = 100     # L-BFGS-B iterations per start of the hyperparameter fit
_FIT_GTOL = 1e-3       # projected-gradient tolerance of the fit (a looser fit barely moves EI)
_FRESH_FIT_EVERY = 10  # past _FRESH_FIT_MIN trials, the fit starts from the defaults as well as
_FRESH_FIT_MIN = 30    # from the previous fit only every so many suggestions
_REFINE_MAXITER = 100  # L-BFGS-B iterations of the acquisition refinement
_JITTER = 1e-10


class GP(HistorySearcher):
    """Gaussian-process Bayesian optimisation.

    Args:
        n_startup_trials: Quasi-random (scrambled Sobol) configs before the model takes
            over (>= 1).
        acquisition: ``"ei"`` (expected improvement, maximised in log space) or ``"ucb"``
            (the lower confidence bound ``mean - ucb_beta * sd`` of the loss, minimised).
        ucb_beta: Exploration weight of ``"ucb"`` (>= 0).
        n_candidates: Random candidates scored before the gradient refinement (>= 16).
        n_restarts: Best candidates refined with L-BFGS-B (>= 1).
        warp: ``"power"`` (Yeo-Johnson transform of the losses, then standardised) or
            ``"none"`` (standardised only). The power warp converges faster on objectives
            whose losses span orders of magnitude; ``"none"`` can refine better late on
            long, curved valleys (Rosenbrock at 100 trials).
        max_history: Most finished trials the GP is fitted on (>= 2, or None: all). Past it
            the model keeps the best half and the most recent others (and as many of the
            running trials, the ones started last, as fantasies). The default (500) changes
            nothing for smaller experiments.
        points_to_evaluate: Configs evaluated first (and learnt from).
        max_concurrent: Most trials pending at once (None: no limit).

    The cost of a suggestion grows as the cube of the number of trials it is fitted on;
    measured on 3-4 numeric dims it is 25-50 ms of CPU time at a hundred trials, 50-75 ms at
    two hundred, ~120 ms at three hundred and over a second at a thousand (the kernel fit
    starts from the previous suggestion's, and from the defaults too only every tenth
    suggestion past thirty trials): hence ``max_history``.

    Example:
        >>> import raysweep as rs
        >>> searcher = rs.search.GP(acquisition="ucb", ucb_beta=2.0)
        >>> # rs.run(objective, space, metric="loss", mode="min", search=searcher)
    """

    name = "gp"

    def __init__(self, *, n_startup_trials: int = 10, acquisition: str = "ei",
                 ucb_beta: float = 2.0, n_candidates: int = 1000, n_restarts: int = 5,
                 warp: str = "power", max_history: int | None = 500,
                 points_to_evaluate: list[dict[str, Any]] | None = None,
                 max_concurrent: int | None = None) -> None:
        super().__init__(points_to_evaluate=points_to_evaluate, max_concurrent=max_concurrent)
        for arg, value, minimum in (("n_startup_trials", n_startup_trials, 1),
                                    ("n_candidates", n_candidates, 16),
                                    ("n_restarts", n_restarts, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"GP: {arg} must be an int >= {minimum}, got {value!r}")
        if acquisition not in _ACQUISITIONS:
            raise ValueError(f"GP: acquisition must be one of {list(_ACQUISITIONS)}, "
                             f"got {acquisition!r}")
        if not is_real(ucb_beta) or not ucb_beta >= 0:
            raise ValueError(f"GP: ucb_beta must be a float >= 0, got {ucb_beta!r}")
        if warp not in _WARPS:
            raise ValueError(f"GP: warp must be one of {list(_WARPS)}, got {warp!r}")
        if max_history is not None and (isinstance(max_history, bool) or not isinstance(
                max_history, int) or max_history < 2):
            raise ValueError(f"GP: max_history must be None or an int >= 2, got "
                             f"{max_history!r}")
        self.max_history = max_history
        self.n_startup_trials = n_startup_trials
        self.acquisition = acquisition
        self.ucb_beta = float(ucb_beta)
        self.n_candidates = n_candidates
        self.n_restarts = n_restarts
        self.warp = warp

    def setup(self, space: Space, metric: str, mode: str, seed: int | np.random.SeedSequence,
              num_samples: int | None = None) -> None:
        super().setup(space, metric, mode, seed, num_samples)
        layout = self.layout
        # feature columns: one per numeric dim, one per category of a categorical dim
        self._columns: list[np.ndarray] = []
        width = 0
        for j in range(layout.d):
            size = layout.n_choices[j] if layout.kinds[j] == "categorical" else 1
            self._columns.append(np.arange(width, width + size))
            width += size
        self._width = width
        self._num_cols = np.array([self._columns[j][0] for j in layout.cont], dtype=int)
        self._theta: np.ndarray | None = None  # last fitted kernel hyperparameters (log)
        self._n_fits = 0
        n_design = 1 << max(self.n_startup_trials - 1, 0).bit_length()
        sobol = qmc.Sobol(max(layout.d, 1), scramble=True, rng=int(self.rng.integers(2**32)))
        self._design = sobol.random(n_design)[:, : layout.d]
        self._n_design_used = 0

    # -- proposal -------------------------------------------------------------------------
    def _propose(self) -> dict[str, Any]:
        # the matrices are small: BLAS threads only add overhead (and stall badly on a
        # loaded machine), so the model runs single-threaded
        with _single_threaded_blas():
            return self._propose_config()

    def _propose_config(self) -> dict[str, Any]:
        U, active, loss = self._history()
        if len(loss) < self.n_startup_trials or np.isfinite(loss).sum() < 2:
            return self._startup_config()
        if self.max_history is not None and len(loss) > self.max_history:
            keep = bounded_history(loss, self.max_history, self.max_history // 2)
            U, active, loss = U[keep], active[keep], loss[keep]
        finite = np.isfinite(loss)
        raw = np.where(finite, loss, loss[finite].max())
        X = self._features(U, active)
        y = _standardise(raw, self.warp)
        # from the defaults as well as from the last fit while the history is small (cheap
        # then, and the hyperparameters still move a lot), then only every few suggestions
        fresh = len(raw) < _FRESH_FIT_MIN or self._n_fits % _FRESH_FIT_EVERY == 0
        self._n_fits += 1
        bowl = _Bowl.fit(X, y)
        model = _Posterior.fit(X, y, self._theta, self._fit_seed(), fresh, bowl)
        self._theta = model.theta
        Up, active_p = self._pending_arrays(self.max_history)
        best = float(y.min())
        if len(Up):  # kriging believer: pending trials at their predicted mean
            Xp = self._features(Up, active_p)
            believed = model.mean(Xp)
            model = model.with_fantasies(Xp, believed)
            best = min(best, float(believed.min()))  # a believed result may be the best
        cands = self._optimise(model, best, U[np.argsort(y)[:5]])
        return self._first_new(cands) or self._random_config()

    def _startup_config(self) -> dict[str, Any]:
        while self._n_design_used < len(self._design):
            u = self._design[self._n_design_used]
            self._n_design_used += 1
            config = self._first_new(u[None])
            if config is not None:
                return config
        return self._random_config()

    def _fit_seed(self) -> int:
        return int(self.rng.integers(2**31))

    def _features(self, U: np.ndarray, active: np.ndarray) -> np.ndarray:
        layout = self.layout
        X = np.zeros((len(U), self._width))
        for j in range(layout.d):
            cols = self._columns[j]
            if layout.kinds[j] == "categorical":
                idx = layout.cat_index(U[:, j], j)
                X[np.arange(len(U)), cols[0] + idx] = active[:, j]
            else:
                X[:, cols[0]] = np.where(active[:, j], U[:, j], 0.5)
        return X

    def _optimise(self, model: _Posterior, best: float, incumbents: np.ndarray) -> np.ndarray:
        """Candidate unit vectors, best acquisition first."""
        layout = self.layout
        n_local = self.n_candidates // 4
        pool = self.rng.random((self.n_candidates - n_local, layout.d))
        if len(layout.cont):  # local perturbations of the best trials' numeric dims
            local = incumbents[self.rng.integers(len(incumbents), size=n_local)]
            scale = self.rng.choice([0.01, 0.05, 0.2], size=(n_local, 1))
            noise = self.rng.normal(size=(n_local, len(layout.cont))) * scale
            # reflected at the faces: clipping would put a share of them exactly on a bound
            moved = 1.0 - np.abs(1.0 - np.abs(local[:, layout.cont] + noise))
            local[:, layout.cont] = np.clip(moved, 0.0, 1.0)
            pool = np.vstack([pool, local])
        act = layout.active(pool)
        score = self._acq(model, self._features(pool, act), best)[0]
        top = np.argsort(-score, kind="stable")[: self.n_restarts]
        starts, act = pool[top], act[top]
        if len(layout.cont):
            starts, score_top = self._refine(model, best, starts, act)
            order = np.argsort(-score_top, kind="stable")
            starts = starts[order]
        rest = pool[np.argsort(-score, kind="stable")[self.n_restarts: self.n_restarts + 20]]
        return np.vstack([starts, rest])

    def _refine(self, model: _Posterior, best: float, starts: np.ndarray,
                act: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Batched L-BFGS-B over the numeric dims of every start (categoricals held)."""
        cont = self.layout.cont
        base = self._features(starts, act)
        mask = act[:, cont].astype(float)  # inactive numeric dims do not move
        m, c = len(starts), len(cont)

        def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
            X = base.copy()
            X[:, self._num_cols] = np.where(mask > 0, z.reshape(m, c), 0.5)
            value, grad = self._acq(model, X, best, gradient=True)
            assert grad is not None   # gradient=True always returns one
            g = grad[:, self._num_cols] * mask
            return -float(value.sum()), -g.ravel()

        z0 = starts[:, cont].ravel()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = minimize(objective, z0, jac=True, method="L-BFGS-B",
                           bounds=[(0.0, 1.0)] * len(z0),
                           options={"maxiter": _REFINE_MAXITER})
        out = starts.copy()
        out[:, cont] = np.clip(res.x.reshape(m, c), 0.0, 1.0)
        X = base.copy()
        X[:, self._num_cols] = np.where(mask > 0, out[:, cont], 0.5)
        return out, self._acq(model, X, best)[0]

    def _acq(self, model: _Posterior, X: np.ndarray, best: float,
             gradient: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Acquisition to maximise (and its gradient in feature space)."""
        mean, sd, d_mean, d_sd = model.predict(X, gradient)
        if self.acquisition == "ucb":
            value = -(mean - self.ucb_beta * sd)
            grad = -(d_mean - self.ucb_beta * d_sd) if gradient else None
            return value, grad
        z = (best - mean) / sd
        log_h, ratio = _log_h(z)
        value = np.log(sd) + log_h
        if not gradient:
            return value, None
        # d log EI = d sd / sd + (Phi(z) / h(z)) dz, with dz = -(d mean + z d sd) / sd
        dz = -(d_mean + z[:, None] * d_sd) / sd[:, None]
        grad = d_sd / sd[:, None] + ratio[:, None] * dz
        return value, grad


class _Posterior:
    """A fitted GP posterior with gradients (kernel from scikit-learn's fit)."""

    def __init__(self, X: np.ndarray, y: np.ndarray, amplitude: float, length: np.ndarray,
                 noise: float, theta: np.ndarray, bowl: _Bowl) -> None:
        self.X, self.y, self.bowl = X, y, bowl
        self.amplitude, self.length, self.noise, self.theta = amplitude, length, noise, theta
        K = amplitude * _matern(X / length, X / length) + (noise + 1e-8) * np.eye(len(X))
        chol = cho_factor(K, lower=True)
        self.alpha = cho_solve(chol, y - bowl(X))
        self.k_inv = cho_solve(chol, np.eye(len(X)))

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, theta: np.ndarray | None, seed: int,
            fresh: bool = True, bowl: _Bowl | None = None) -> _Posterior:
        """Fit the kernel hyperparameters by maximum marginal likelihood.

        The model is scikit-learn's ``GaussianProcessRegressor``. Its default optimiser
        calls ``log_marginal_likelihood``, which costs milliseconds of Python overhead per
        call; the optimiser given here maximises the same likelihood (``_neg_lml``, checked
        against scikit-learn's in the tests) in vectorised numpy, from the previous fit's
        hyperparameters and, when ``fresh`` (or there is no previous fit), from the defaults
        too.
        """
        from sklearn.gaussian_process import GaussianProcessRegressor

        bowl = bowl if bowl is not None else _Bowl(X[0], 0.0, 0.0)
        y_obs, y = y, y - bowl(X)   # the GP models what the prior mean leaves
        kernel = _kernel(X.shape[1])
        starts = [kernel.theta]
        if theta is not None and len(theta) == len(kernel.theta):
            warm = np.clip(theta, kernel.bounds[:, 0], kernel.bounds[:, 1])
            starts = [warm, kernel.theta] if fresh else [warm]
        sq = (X[:, None, :] - X[None, :, :]) ** 2               # (n, n, D)

        def optimizer(obj_func, initial_theta, bounds):  # scikit-learn's signature
            best = None
            for start in starts:
                res = minimize(_neg_lml, start, args=(sq, y), jac=True,
                               method="L-BFGS-B", bounds=bounds,
                               options={"maxiter": _FIT_MAXITER, "gtol": _FIT_GTOL})
                if best is None or res.fun < best.fun:
                    best = res
            assert best is not None  # starts is never empty
            return best.x, best.fun

        gpr = GaussianProcessRegressor(kernel, optimizer=optimizer, normalize_y=False,
                                       random_state=seed, alpha=_JITTER)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gpr.fit(X, y)
        fitted = gpr.kernel_
        return cls(X, y_obs, float(fitted.k1.k1.constant_value),
                   np.asarray(fitted.k1.k2.length_scale, dtype=float).reshape(-1),
                   float(fitted.k2.noise_level), fitted.theta, bowl)

    def with_fantasies(self, Xp: np.ndarray, yp: np.ndarray) -> _Posterior:
        return _Posterior(np.vstack([self.X, Xp]), np.concatenate([self.y, yp]),
                          self.amplitude, self.length, self.noise, self.theta, self.bowl)

    def mean(self, X: np.ndarray) -> np.ndarray:
        return self.bowl(X) + self.amplitude * _matern(
            X / self.length, self.X / self.length) @ self.alpha

    def predict(self, X: np.ndarray, gradient: bool):
        """Mean and sd of the latent function at ``X`` (and their gradients)."""
        A, B = X / self.length, self.X / self.length
        if not gradient:
            k = self.amplitude * _matern(A, B)
        else:
            diff = A[:, None, :] - B[None, :, :]               # (m, n, D), scaled
            r = np.sqrt(np.maximum((diff * diff).sum(axis=2), 1e-30))
            e = np.exp(-_SQRT5 * r)
            k = self.amplitude * (1 + _SQRT5 * r + 5.0 / 3.0 * r * r) * e
        mean = k @ self.alpha + self.bowl(X)
        w = k @ self.k_inv                                      # K^-1 k*, (m, n)
        var = np.maximum(self.amplitude - (w * k).sum(axis=1), 1e-12)
        sd = np.sqrt(var)
        if not gradient:
            return mean, sd, None, None
        # dk/dx = -a 5/3 (1 + sqrt5 r) exp(-sqrt5 r) (x - x_i) / l^2
        dk = (-self.amplitude * 5.0 / 3.0 * (1 + _SQRT5 * r) * e)[:, :, None] * (
            diff / self.length[None, None, :])
        d_mean = np.einsum("mnd,n->md", dk, self.alpha) + self.bowl.gradient(X)
        d_var = -2.0 * np.einsum("mnd,mn->md", dk, w)
        return mean, sd, d_mean, d_var / (2.0 * sd[:, None])


class _Bowl:
    """The GP's prior mean: ``c + a * |x - centre|^2``, a bowl around the best trial.

    With a constant prior mean, far from the data the posterior mean returns to the average
    loss while its sd is largest, so expected improvement is highest in the corners of the
    cube, the points farthest from every trial: on BBOB most model-based points of the GP
    had a coordinate on a bound. A quadratic prior mean (a remedy used before, e.g. by
    Snoek et al. 2015) is fitted to the standardised losses by least squares (``a >= 0``):
    where the data say the loss rises away from the best trial, the prediction keeps rising
    beyond the data, and the GP still fits every observation. When the losses do not rise
    away from the best (``a = 0``), the prior mean is the losses' mean (zero), as before.
    """

    def __init__(self, centre: np.ndarray, a: float, c: float) -> None:
        self.centre, self.a, self.c = centre, a, c

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray) -> _Bowl:
        centre = X[int(np.argmin(y))]
        r2 = ((X - centre) ** 2).sum(axis=1)
        design = np.column_stack([np.ones_like(r2), r2])
        (c, a), *_ = np.linalg.lstsq(design, y, rcond=None)
        if a <= 0:
            return cls(centre, 0.0, 0.0)
        return cls(centre, float(a), float(c))

    def __call__(self, X: np.ndarray) -> np.ndarray:
        if self.a == 0.0:
            return np.full(len(X), self.c)
        return self.c + self.a * ((X - self.centre) ** 2).sum(axis=1)

    def gradient(self, X: np.ndarray) -> np.ndarray:
        return 2.0 * self.a * (X - self.centre)


_CONTROLLER: list[Any] = []


def _single_threaded_blas():
    """A context limiting BLAS to one thread (threadpoolctl ships with scikit-learn)."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


def _standardise(loss: np.ndarray, warp: str) -> np.ndarray:
    """Standardised losses, first Yeo-Johnson-warped when ``warp == "power"``."""
    y = (loss - loss.mean()) / (loss.std() or 1.0)
    if warp == "power":
        lam = minimize_scalar(lambda lam: -_yeo_johnson_llf(y, lam), bounds=(-3.0, 3.0),
                              method="bounded", options={"xatol": 1e-3}).x
        y = _yeo_johnson(y, lam)
        y = (y - y.mean()) / (y.std() or 1.0)
    return y


def _yeo_johnson(y: np.ndarray, lam: float) -> np.ndarray:
    pos = y >= 0
    out = np.empty_like(y)
    a, b = np.log1p(y[pos]), np.log1p(-y[~pos])
    out[pos] = a if abs(lam) < 1e-8 else np.expm1(lam * a) / lam
    out[~pos] = -b if abs(lam - 2) < 1e-8 else -np.expm1((2 - lam) * b) / (2 - lam)
    return out


def _yeo_johnson_llf(y: np.ndarray, lam: float) -> float:
    """Profile log-likelihood of ``lam`` under normality (as scipy.stats.yeojohnson_llf)."""
    var = _yeo_johnson(y, lam).var()
    if not var > 0:
        return -np.inf
    jacobian = np.sum(np.sign(y) * np.log1p(np.abs(y)))
    return float(-0.5 * len(y) * math.log(var) + (lam - 1) * jacobian)


def _kernel(width: int):
    """amplitude * Matern 5/2 (one length scale per input) + white noise."""
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    return (ConstantKernel(1.0, (1e-2, 1e2))
            * Matern(np.full(width, 0.5), (5e-3, 2e1), nu=2.5)
            + WhiteKernel(1e-3, (1e-6, 1.0)))


def _neg_lml(theta: np.ndarray, sq: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Negative log marginal likelihood of ``_kernel`` at log-hyperparameters ``theta``
    (scikit-learn's order: amplitude, length scales, noise) and its gradient.
    ``sq[i, j, d]`` is the squared distance between inputs i and j along d."""
    amplitude, noise = math.exp(theta[0]), math.exp(theta[-1])
    inv_l2 = np.exp(-2.0 * theta[1:-1])
    n = len(y)
    flat_sq = sq.reshape(n * n, -1)
    r = np.sqrt(np.maximum(flat_sq @ inv_l2, 0.0)).reshape(n, n)
    e = np.exp(-_SQRT5 * r)
    M = (1 + _SQRT5 * r + 5.0 / 3.0 * r * r) * e
    K = amplitude * M + (noise + _JITTER) * np.eye(n)
    try:
        L = np.linalg.cholesky(K)
    except np.linalg.LinAlgError:
        return 1e25, np.zeros_like(theta)
    alpha = cho_solve((L, True), y, check_finite=False)
    value = 0.5 * y @ alpha + np.log(np.diag(L)).sum() + 0.5 * n * math.log(2 * math.pi)
    K_inv, info = dpotri(L, lower=1)  # from the factor: half the work of two solves
    if info != 0:
        return 1e25, np.zeros_like(theta)
    K_inv = np.tril(K_inv) + np.tril(K_inv, -1).T
    W = np.outer(alpha, alpha) - K_inv
    grad = np.empty_like(theta)
    grad[0] = 0.5 * (W * (amplitude * M)).sum()
    G = W * (amplitude * 5.0 / 3.0 * (1 + _SQRT5 * r) * e)
    grad[1:-1] = 0.5 * (G.reshape(-1) @ flat_sq) * inv_l2
    grad[-1] = 0.5 * noise * np.trace(W)
    return float(value), -grad


def _matern(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Matern 5/2 correlation between rows of already length-scaled inputs."""
    sq = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T
    r = np.sqrt(np.maximum(sq, 0.0))
    return (1 + _SQRT5 * r + 5.0 / 3.0 * r * r) * np.exp(-_SQRT5 * r)


def _log_h(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log h(z)`` with ``h(z) = phi(z) + z Phi(z)`` (EI = sd * h(z)), computed stably,
    and ``Phi(z) / h(z)`` (the derivative of ``log h``)."""
    z = np.asarray(z, dtype=float)
    log_h = np.empty_like(z)
    ratio = np.empty_like(z)
    pos = z > 0
    zp = z[pos]  # no cancellation for z > 0
    h = np.exp(-0.5 * zp * zp - _LOG_SQRT_2PI) + zp * ndtr(zp)
    log_h[pos], ratio[pos] = np.log(h), ndtr(zp) / h
    zn = z[~pos]  # h = phi(z) (1 + z Phi(z) / phi(z)); Phi / phi = sqrt(pi/2) erfcx(-z/sqrt2)
    mills = math.sqrt(math.pi / 2) * erfcx(-zn / math.sqrt(2))
    inner = 1.0 + zn * mills
    tiny = inner < 1e-12  # far below: h ~ phi(z) / z^2
    inner = np.where(tiny, 1.0 / np.maximum(zn * zn, 1.0), inner)
    log_h[~pos] = -0.5 * zn * zn - _LOG_SQRT_2PI + np.log(inner)
    ratio[~pos] = np.where(tiny, np.abs(zn), mills / inner)
    return log_h, ratio


__all__ = ["GP"]
