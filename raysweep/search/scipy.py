"""SciPy optimisers as searchers: ``Scipy("differential_evolution", popsize=10)``.

The SciPy optimiser runs in a background (daemon) thread on the unit cube ``[0, 1]^d``,
minimising a function whose every call is a trial. Optimisers that evaluate populations
through a ``workers=`` map (``differential_evolution``, ``brute``, ``shgo``) get a map
that posts the whole batch of points at once, so raysweep runs them in parallel; the
others (``minimize`` with Nelder-Mead or Powell, ``dual_annealing``, ``direct``) post one
point at a time. ``suggest`` hands the posted points out in order and returns None while
the batch's results are outstanding; when the last result of a batch arrives, the next
``suggest`` waits for the thread to post the next batch (or finish, then ``FINISHED``), so
the sequence of configs depends only on the results, never on thread timing, and a replay
reproduces it exactly. Integers, quantized floats and categoricals are whatever the point
decodes to (the optimisers see a piecewise-constant function along those dims); a point that
decodes to a config evaluated before gets that config's loss back without a new trial, and
an optimiser that only revisits known configs for a while (a small discrete space) ends.

A trial that fails (no metric, or NaN) counts as the worst loss seen so far plus the spread
of the losses, so that every optimiser sees finite values.
"""

from __future__ import annotations

import functools
import inspect
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from raysweep.search._common import HistorySearcher
from raysweep.search.base import FINISHED, _Finished

if TYPE_CHECKING:
    from raysweep.space import Space

__all__ = ["Scipy"]

# method -> (scipy.optimize function name, evaluates batches through ``workers=``)
_METHODS: dict[str, tuple[str, bool]] = {
    "differential_evolution": ("differential_evolution", True),
    "brute": ("brute", True),
    "shgo": ("shgo", True),
    "dual_annealing": ("dual_annealing", False),
    "direct": ("direct", False),
    "nelder-mead": ("minimize", False),
    "powell": ("minimize", False),
}
# options raysweep sets itself
_RESERVED = {"func", "fun", "bounds", "ranges", "x0", "workers", "args", "method", "seed",
             "rng", "full_output", "disp", "callback"}
_WAIT_S = 120.0  # longest a suggest waits for the optimiser thread's next batch
_MAX_REPEATS = 2000  # evaluations in a row of known configs after which an optimiser ends
_MAX_BRUTE_POINTS = 10**5  # brute builds its whole grid (Ns ** d points) in memory at once
_MAX_SHGO_DIMS = 10  # shgo's first batch alone has 2 ** d points and its triangulation
#                      takes ~1 s at 10 dims, ~30 s at 12 (and grows from there)


class Scipy(HistorySearcher):
    """A ``scipy.optimize`` optimiser driven as a searcher.

    Args:
        method: One of ``"differential_evolution"``, ``"brute"``, ``"shgo"`` (batched,
            evaluated in parallel), ``"dual_annealing"``, ``"direct"``, ``"nelder-mead"``,
            ``"powell"`` (one point at a time; the last two through ``scipy.optimize.minimize``).
        **options: Keyword arguments for the SciPy function (for ``minimize`` methods, its
            ``options=`` dict entries, e.g. ``xatol``). Defaults differ from SciPy's in
            two places: ``differential_evolution`` runs with ``polish=False`` (a gradient
            polish wastes trials on a noisy objective) and ``updating="deferred"``, and
            ``brute`` with ``Ns=5`` and ``finish=None``.
        points_to_evaluate: Configs evaluated first (the optimiser does not see them).
            Results given to ``add_evaluated`` (``rs.run(..., warm_start=...)``) do not
            reach the optimiser either, except that the best of them is its start point
            (``x0``) for differential evolution, dual annealing and the ``minimize`` methods.
        max_concurrent: Most trials pending at once (None: a whole batch).

    The optimisers stop by their own criteria (``FINISHED``), when they revisit only configs
    already evaluated (2,000 evaluations in a row), or when the experiment's budget is
    spent. A population optimiser's batch is ``popsize * d`` trials (differential
    evolution), ``Ns ** d`` (brute, in one batch; at most 100,000 points) or ``n`` (shgo,
    which takes at most 10 dims); a config repeated within a batch runs once.

    Example:
        >>> import raysweep as rs
        >>> searcher = rs.search.Scipy("differential_evolution", popsize=10)
        >>> # rs.run(objective, space, metric="loss", mode="min", search=searcher)
    """

    name = "scipy"

    def __init__(self, method: str, *, points_to_evaluate: list[dict[str, Any]] | None = None,
                 max_concurrent: int | None = None, **options: Any) -> None:
        super().__init__(points_to_evaluate=points_to_evaluate, max_concurrent=max_concurrent)
        key = method.lower() if isinstance(method, str) else None
        if key not in _METHODS:
            raise ValueError(f"Scipy: method must be one of {sorted(_METHODS)}, got {method!r}")
        function, _ = _METHODS[key]
        reserved = sorted(_RESERVED & set(options))
        if reserved:
            raise ValueError(f"Scipy: options {reserved} are set by raysweep and cannot be given")
        if function != "minimize":
            import scipy.optimize

            accepted = inspect.signature(getattr(scipy.optimize, function)).parameters
            unknown = sorted(set(options) - set(accepted))
            if unknown:
                raise ValueError(
                    f"Scipy: {unknown} are not options of scipy.optimize.{function} (it takes "
                    f"{sorted(set(accepted) - _RESERVED)})")
        self.method = key
        self.options = dict(options)

    def setup(self, space: Space, metric: str, mode: str, seed: int | np.random.SeedSequence,
              num_samples: int | None = None) -> None:
        super().setup(space, metric, mode, seed, num_samples)
        old = getattr(self, "_channel", None)
        if old is not None:
            old.close()
        self._channel = _Channel(functools.partial(_config_key, space))
        self._thread: threading.Thread | None = None
        self._index: dict[str, int] = {}  # trial_id -> position in the current batch
        self._handing: int | None = None  # the position the suggest in progress hands out
        self._opt_seed = int(self.rng.integers(2**63))
        weakref.finalize(self, self._channel.close)
        self._check_size(self.layout.d)

    def _check_size(self, d: int) -> None:
        """Refuse, before any trial, a space too large for the method's own machinery."""
        if self.method == "brute":
            ns = self.options.get("Ns", 5)
            if isinstance(ns, int) and ns ** d > _MAX_BRUTE_POINTS:
                raise ValueError(
                    f"Scipy('brute'): the grid has Ns ** d = {ns} ** {d} points (more than "
                    f"{_MAX_BRUTE_POINTS:,}, built in memory at once); lower Ns or use "
                    f"Scipy('differential_evolution') or search='grid'")
        elif self.method == "shgo" and d > _MAX_SHGO_DIMS:
            raise ValueError(
                f"Scipy('shgo'): the space has {d} dims, shgo handles at most "
                f"{_MAX_SHGO_DIMS} (its sampling grows as 2 ** d); use "
                f"Scipy('differential_evolution') or another searcher")

    # -- protocol -------------------------------------------------------------------------
    def _propose(self) -> dict[str, Any] | None | _Finished:
        channel = self._channel
        if self._thread is None:
            self._thread = threading.Thread(
                target=_run, args=(channel, self.method, self.options, self.layout.d,
                                   self._opt_seed, self._best_prior()),
                name=f"raysweep-scipy-{self.method}", daemon=True)
            self._thread.start()
        with channel.cond:
            if not channel.cond.wait_for(lambda: channel.phase != "computing", _WAIT_S):
                raise RuntimeError(f"Scipy({self.method!r}): the optimiser thread posted no "
                                   f"points for {_WAIT_S:.0f} s")
            if channel.phase == "error":
                raise RuntimeError(f"Scipy({self.method!r}): the SciPy optimiser failed: "
                                   f"{channel.error!r}") from channel.error
            if channel.phase == "done":
                return FINISHED
            if channel.handed >= len(channel.batch):
                return None  # the whole batch is out; waiting for its results
            position = channel.handed
            channel.handed += 1
            u = np.clip(channel.batch[position], 0.0, 1.0)
        self._handing = position
        return self.space.decode(u)

    def _best_prior(self) -> np.ndarray | None:
        """Unit vector of the best ``add_evaluated`` result: the optimiser's start point."""
        finite = [p for p in self._priors if np.isfinite(self._loss.get(p, np.inf))]
        if not finite:
            return None
        return self._u[min(finite, key=lambda p: self._loss[p])].copy()

    def _no_free_parameters(self) -> dict[str, Any] | _Finished:
        # nothing to optimise: the space has a single config
        return FINISHED if self._u else self.space.sample(self.rng)

    def suggest(self, trial_id: str) -> dict[str, Any] | None | _Finished:
        self._handing = None
        config = super().suggest(trial_id)
        if isinstance(config, dict) and self._handing is not None:
            self._index[trial_id] = self._handing
        return config

    def _observe(self, trial_id: str, result: dict[str, Any], *, final: bool) -> None:
        super()._observe(trial_id, result, final=final)
        if not final or trial_id not in self._index:
            return
        position = self._index.pop(trial_id)
        self._channel.deliver(position, self._loss[trial_id])


def _config_key(space: Space, u: np.ndarray) -> tuple:
    """What identifies the config a unit vector decodes to (equal iff the configs are)."""
    snapped, active = space.encode(space.decode(np.clip(u, 0.0, 1.0)))
    return tuple(np.where(active, snapped, -1.0).tolist())


class _Channel:
    """What the searcher and the optimiser thread share (never the searcher itself, so
    that dropping the searcher stops the thread).

    A point that decodes to a config evaluated before (integers, categories and quantized
    values make the optimiser's function piecewise constant) gets that config's loss back
    without a new trial, and a batch's repeated configs are run once.
    """

    def __init__(self, key: Callable[[np.ndarray], Any] | None = None) -> None:
        self.key = key
        self.known: dict[Any, float] = {}  # config key -> loss, of every evaluated config
        self.repeats = 0                    # evaluations in a row answered from ``known``
        self.cond = threading.Condition()
        self.phase = "computing"   # computing | waiting | done | error | closed
        self.batch: list[np.ndarray] = []
        self.handed = 0
        self.results: dict[int, float] = {}
        self.worst = -np.inf
        self.best = np.inf
        self.error: BaseException | None = None

    def evaluate(self, points: list[np.ndarray]) -> list[float]:
        """Called by the optimiser thread: post the points whose configs are new and block
        until all are back. Ends the optimiser (``_Exhausted``) when it has only revisited
        known configs for ``_MAX_REPEATS`` evaluations in a row (a small discrete space)."""
        keys: list[Any] = ([self.key(p) for p in points] if self.key is not None
                           else [object() for _ in points])
        new: dict[Any, int] = {}  # key -> position in the posted batch
        posted: list[np.ndarray] = []
        for point, point_key in zip(points, keys):
            if point_key not in self.known and point_key not in new:
                new[point_key] = len(posted)
                posted.append(point)
        if not new:
            self.repeats += len(points)
            if self.repeats >= _MAX_REPEATS:
                raise _Exhausted
            return [self.known[k] for k in keys]
        self.repeats = 0
        with self.cond:
            if self.phase == "closed":
                raise _Closed
            self.batch, self.handed, self.results = posted, 0, {}
            self.phase = "waiting"
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.phase != "waiting")
            if self.phase == "closed":
                raise _Closed
            for point_key, i in new.items():
                self.known[point_key] = self.results[i]
        return [self.known[k] for k in keys]

    def deliver(self, position: int, loss: float) -> None:
        with self.cond:
            if self.phase != "waiting":
                return
            if np.isfinite(loss):
                self.worst, self.best = max(self.worst, loss), min(self.best, loss)
            else:  # a failed trial: worse than anything seen, but finite
                spread = self.worst - self.best if np.isfinite(self.best) else 0.0
                loss = (self.worst + max(spread, 1.0)) if np.isfinite(self.worst) else 1e10
            self.results[position] = float(loss)
            if len(self.results) == len(self.batch):
                self.phase = "computing"  # the next suggest waits for the next batch
                self.cond.notify_all()

    def finish(self, error: BaseException | None) -> None:
        with self.cond:
            if self.phase != "closed":
                self.phase, self.error = ("done", None) if error is None else ("error", error)
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.phase = "closed"
            self.cond.notify_all()


class _Closed(Exception):
    """Unwinds the optimiser thread when its searcher is gone."""


class _Exhausted(Exception):
    """Ends an optimiser that only revisits configs already evaluated."""


def _run(channel: _Channel, method: str, options: dict[str, Any], d: int, seed: int,
         x0: np.ndarray | None = None) -> None:
    """The optimiser thread's body; ``x0`` (the best prior result) seeds the optimisers that
    take a start point."""
    import scipy.optimize as so

    replay: list[float] = []

    def fun(x: Any, *args: Any) -> float:
        if replay:  # inside the workers map: results are already in, in call order
            return replay.pop(0)
        return channel.evaluate([np.array(x, dtype=float).reshape(-1)])[0]

    def workers(func: Any, iterable: Any) -> list[Any]:
        points = [np.array(x, dtype=float).reshape(-1) for x in iterable]
        replay[:] = channel.evaluate(points)
        return [func(x) for x in points]

    function = _METHODS[method][0]
    bounds = [(0.0, 1.0)] * d
    rng = np.random.default_rng(seed)
    opts = dict(options)
    try:
        if function == "differential_evolution":
            opts.setdefault("polish", False)
            opts.setdefault("updating", "deferred")
            so.differential_evolution(fun, bounds, workers=workers, rng=rng, x0=x0, **opts)
        elif function == "brute":
            opts.setdefault("Ns", 5)
            opts.setdefault("finish", None)
            so.brute(fun, bounds, workers=workers, **opts)
        elif function == "shgo":
            so.shgo(fun, bounds, workers=workers, **opts)
        elif function == "dual_annealing":
            so.dual_annealing(fun, bounds, rng=rng, x0=x0, **opts)
        elif function == "direct":
            so.direct(fun, bounds, **opts)
        else:
            start = rng.random(d) if x0 is None else x0
            so.minimize(fun, start, method=method, bounds=bounds, options=opts)
    except _Closed:
        return
    except _Exhausted:
        channel.finish(None)
        return
    except Exception as exc:  # noqa: BLE001 - re-raised by the searcher's next suggest
        channel.finish(exc)
        return
    channel.finish(None)
