"""Any Optuna sampler as a raysweep searcher: ``rs.search.Optuna(TPESampler(seed=0))``.

The searcher keeps a private in-memory Optuna study and drives it by ask-and-tell: every
``suggest`` is a ``study.ask()`` whose parameters are suggested define-by-run from
raysweep's space, every final result a ``study.tell``. So the sampler sees exactly what it
sees under ``study.optimize``: trials still running are RUNNING trials of the study (what a
sampler does about them, e.g. TPE's ``constant_liar``, is its own business), a trial that
failed (no finite metric) is FAIL, and a trial a scheduler stopped early is COMPLETE with
its last result, as for every raysweep searcher.

How the space translates (parameter names are raysweep's flattened names; inside a
conditional branch the unique key, e.g. ``model[1]/C``):

* ``uniform``/``loguniform``/``quniform``: ``FloatDistribution(low, high, log=, step=)``;
  ``randint``/``lograndint``/``qrandint``: ``IntDistribution``. Optuna has no log scale
  with a step: ``qloguniform`` (and a log integer with ``q > 1``) is suggested on the log
  scale and rounded to its multiple of ``q``.
* ``normal`` and ``scipy.stats`` distributions: a ``FloatDistribution(0, 1)``, the
  distribution's quantile (raysweep's unit-cube coordinate), so the sampler's uniform
  prior is the distribution itself. Distributions without ``cdf``/``ppf`` cannot
  translate: an error names the parameter.
* lists and ``choice``/``grid``: ``CategoricalDistribution`` of the values when they are
  distinct numbers, strings, booleans or None, else of their positions.
* a ``choice`` of dict branches (a conditional space): its selector is a categorical of
  branch positions and only the chosen branch's parameters are suggested, define-by-run,
  which every Optuna sampler supports (relative samplers such as CMA-ES and GP sample
  conditional parameters independently, as they do in Optuna).

Reproducible: the sampler is copied at ``setup``, and random generators it has not seeded
itself (a sampler made with ``seed=None``) are seeded from the experiment seed, so a
restore that replays the journal gets the same configs as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import copy
import math
import numbers
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from raysweep.domains import Categorical
from raysweep.search.base import FINISHED, Searcher, _Finished

if TYPE_CHECKING:
    from raysweep.space import Space

__all__ = ["Optuna"]


def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ImportError("rs.search.Optuna needs Optuna: pip install 'raysweep[optuna]'") \
            from None
    return optuna


@dataclass
class _Param:
    """How one dim of the space is suggested to the Optuna trial."""

    key: str       # the Optuna parameter name
    how: str       # "float" | "int" | "unit" (quantile in [0, 1]) | "cat" | "index"
    low: Any = None
    high: Any = None
    step: Any = None
    log: bool = False
    choices: list[Any] | None = None  # "cat": the categories; "index": their positions


class Optuna(Searcher):
    """An Optuna sampler driven as a raysweep searcher.

    Args:
        sampler: An Optuna sampler instance (``TPESampler``, ``CmaEsSampler``,
            ``GPSampler``, ``NSGAIISampler``, ``QMCSampler``, ``GridSampler``, an OptunaHub
            sampler, ...). It is copied: the instance you pass is never used itself. Give it
            a ``seed`` or let raysweep seed it from the experiment's ``seed``.
        points_to_evaluate: Configs evaluated first; they are enqueued in the study, so the
            sampler learns from them.
        max_concurrent: Most trials pending at once (None: no limit).

    Results given to ``add_evaluated`` (``rs.run(..., warm_start=...)``) are added to the
    study as finished trials. When the sampler stops the study (``GridSampler`` once its
    grid is done), the searcher is ``FINISHED``. Single objective only.

    Example:
        >>> import optuna
        >>> import raysweep as rs
        >>> searcher = rs.search.Optuna(optuna.samplers.TPESampler(multivariate=True, seed=0))
        >>> # rs.run(objective, space, metric="loss", mode="min", search=searcher)
    """

    name = "optuna"

    def __init__(self, sampler: Any, *, points_to_evaluate: list[dict[str, Any]] | None = None,
                 max_concurrent: int | None = None) -> None:
        super().__init__(points_to_evaluate=points_to_evaluate, max_concurrent=max_concurrent)
        optuna = _import_optuna()
        if isinstance(sampler, type):
            raise TypeError(f"Optuna: sampler must be a sampler instance such as "
                            f"{sampler.__name__}(), got the class {sampler.__name__}")
        if not isinstance(sampler, optuna.samplers.BaseSampler):
            raise TypeError(f"Optuna: sampler must be an optuna.samplers.BaseSampler, got "
                            f"{type(sampler).__name__}")
        self.sampler = sampler
        self.name = f"optuna-{type(sampler).__name__}"

    # -- lifecycle -------------------------------------------------------------------------
    def setup(self, space: Space, metric: str, mode: str, seed: int | np.random.SeedSequence,
              num_samples: int | None = None) -> None:
        super().setup(space, metric, mode, seed, num_samples)
        optuna = _import_optuna()
        self._params = [_translate(dim) for dim in space.dims]
        sampler = _copy(self.sampler)
        _seed_unseeded(sampler, self.rng)
        with _quiet(optuna):
            self._study = optuna.create_study(sampler=sampler, direction="minimize")
        self._study.stop = _StopRequest()  # GridSampler stops the study when it is done
        self._trials: dict[str, Any] = {}  # trial_id -> the running optuna Trial

    # -- protocol -------------------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict[str, Any] | None | _Finished:
        if self._study.stop.requested:
            return FINISHED
        config = super().suggest(trial_id)
        if isinstance(config, dict) and trial_id not in self._trials:
            # a points_to_evaluate config: the study runs it as an enqueued trial
            self._study.enqueue_trial(self._optuna_params(config), skip_if_exists=False)
            self._trials[trial_id] = self._ask()[0]
        return config

    def _suggest(self, trial_id: str) -> dict[str, Any]:
        trial, u = self._ask()
        self._trials[trial_id] = trial
        return self.space.decode(u)

    def _observe(self, trial_id: str, result: dict[str, Any], *, final: bool) -> None:
        if not final:
            return
        trial = self._trials.pop(trial_id, None)
        if trial is None:
            return  # not proposed by this searcher
        optuna = _import_optuna()
        loss = self.loss(result)
        with _quiet(optuna):
            if math.isfinite(loss):
                self._study.tell(trial, loss)
            else:
                self._study.tell(trial, state=optuna.trial.TrialState.FAIL)

    def _add_evaluated(self, config: dict[str, Any], result: dict[str, Any]) -> None:
        optuna = _import_optuna()
        params = self._optuna_params(config)
        distributions = {p.key: _distribution(optuna, p) for p in self._params
                         if p.key in params}
        loss = self.loss(result)
        finite = math.isfinite(loss)
        state = optuna.trial.TrialState.COMPLETE if finite else optuna.trial.TrialState.FAIL
        self._study.add_trial(optuna.trial.create_trial(
            params=params, distributions=distributions, value=loss if finite else None,
            state=state))

    # -- translation ----------------------------------------------------------------------
    def _ask(self) -> tuple[Any, np.ndarray]:
        """A new study trial, its parameters suggested define-by-run: ``(trial, u)``."""
        trial = self._study.ask()
        dims = self.space.dims
        u = np.full(len(dims), 0.5)
        chosen: dict[int, int] = {}  # selector dim -> branch index
        active = np.zeros(len(dims), dtype=bool)
        for j, (dim, param) in enumerate(zip(dims, self._params)):
            if dim.parent is not None:
                selector, branch = dim.parent
                if not active[selector] or chosen.get(selector) != branch:
                    continue
            active[j] = True
            value = _suggest_one(trial, param)
            u[j] = _to_unit(dim.domain, param, value)
            if param.how in ("cat", "index"):
                chosen[j] = (cast(Categorical, dim.domain).index(value) if param.how == "cat"
                             else int(value))
        return trial, u

    def _optuna_params(self, config: dict[str, Any]) -> dict[str, Any]:
        """A config as the study's parameters (for enqueued and added trials)."""
        u, active = self.space.encode(config)
        return {param.key: _from_unit(dim.domain, param, float(u[j]))
                for j, (dim, param) in enumerate(zip(self.space.dims, self._params))
                if active[j]}

    # -- copies: some samplers (the genetic ones) hold a threading lock ------------------
    def __deepcopy__(self, memo: dict[int, Any]) -> Optuna:
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.__dict__.update(_copy(self.__dict__, memo=memo))
        return new

    def __getstate__(self) -> dict[str, Any]:
        return _copy(self.__dict__, for_pickle=True)  # locks pickle as fresh locks

    @property
    def study(self) -> Any:
        """The Optuna study behind the searcher (read it; raysweep drives it)."""
        return self._study


class _StopRequest:
    """Stands for ``Study.stop`` (which works only inside ``optimize``): remembers that the
    sampler asked for it."""

    requested = False

    def __call__(self) -> None:
        self.requested = True


def _translate(dim: Any) -> _Param:
    domain = dim.domain
    kind = getattr(domain, "kind", None)
    if getattr(domain, "invertible", True) is False:
        raise ValueError(
            f"Optuna: parameter {dim.name!r} is a distribution without cdf/ppf, which has no "
            f"Optuna distribution; use a scipy.stats distribution, a raysweep domain, or "
            f"search='random'")
    if kind == "categorical":
        categories = domain.categories
        if _plain_choices(categories):
            return _Param(dim.key, "cat", choices=list(categories))
        return _Param(dim.key, "index", choices=list(range(len(categories))))
    from raysweep.domains import Float, Int

    if isinstance(domain, Float):
        if domain.q is None:
            return _Param(dim.key, "float", domain.low, domain.high, log=domain.log)
        if domain.log:  # no log scale with a step in Optuna: round the suggestion
            return _Param(dim.key, "float", domain.low, domain.high, log=True)
        low, high = domain.from_unit(0.0), domain.from_unit(1.0)
        return _Param(dim.key, "float", low, high, step=domain.q)
    if isinstance(domain, Int):
        low, high = domain.from_unit(0.0), domain.from_unit(1.0)
        if low == high:
            return _Param(dim.key, "int", low, high)
        if domain.log:
            return _Param(dim.key, "int", low, high, log=True)  # q > 1 is rounded
        return _Param(dim.key, "int", low, high, step=domain.q)
    if kind in ("float", "int"):  # normal, scipy.stats: its quantile
        return _Param(dim.key, "unit", 0.0, 1.0)
    raise ValueError(f"Optuna: parameter {dim.name!r} has a domain of kind {kind!r} with no "
                     f"Optuna distribution")


def _plain_choices(categories: list[Any]) -> bool:
    """Whether Optuna can hold the categories themselves: distinct None/bool/int/float/str."""
    if not all(c is None or isinstance(c, (bool, str))
               or (isinstance(c, numbers.Real) and math.isfinite(float(c))) for c in categories):
        return False
    if any(isinstance(c, bool) for c in categories) and any(
            isinstance(c, numbers.Real) and not isinstance(c, bool) for c in categories):
        return False  # True == 1: Optuna could not tell them apart
    return len(set(categories)) == len(categories)


def _suggest_one(trial: Any, param: _Param) -> Any:
    if param.how in ("float", "unit"):
        return trial.suggest_float(param.key, param.low, param.high, step=param.step,
                                   log=param.log)
    if param.how == "int":
        return trial.suggest_int(param.key, param.low, param.high, step=param.step or 1,
                                 log=param.log)
    return trial.suggest_categorical(param.key, param.choices)


def _distribution(optuna: Any, param: _Param) -> Any:
    dist = optuna.distributions
    if param.how in ("float", "unit"):
        return dist.FloatDistribution(param.low, param.high, log=param.log, step=param.step)
    if param.how == "int":
        return dist.IntDistribution(param.low, param.high, log=param.log, step=param.step or 1)
    return dist.CategoricalDistribution(param.choices)


def _to_unit(domain: Any, param: _Param, value: Any) -> float:
    if param.how == "unit":
        return float(value)
    if param.how == "index":
        return domain.index_to_unit(int(value))
    return float(domain.to_unit(value))


def _from_unit(domain: Any, param: _Param, u: float) -> Any:
    if param.how == "unit":
        return u
    if param.how == "index":
        return domain.unit_to_index(u)
    return domain.from_unit(u)


_LOCK, _RLOCK = type(threading.Lock()), type(threading.RLock())


class _NewLock:
    """Stands for a lock in a pickled sampler: unpickles as a new lock of the same kind."""

    def __init__(self, reentrant: bool) -> None:
        self.reentrant = reentrant

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (threading.RLock if self.reentrant else threading.Lock, ())


def _copy(obj: Any, *, for_pickle: bool = False, memo: dict[int, Any] | None = None) -> Any:
    """``copy.deepcopy(obj)`` with every lock inside replaced by a new one (locks cannot be
    copied or pickled); ``for_pickle``: by a stand-in that unpickles as a new lock."""
    memo = {} if memo is None else memo
    for lock in _find(obj, lambda item: isinstance(item, (_LOCK, _RLOCK))):
        reentrant = isinstance(lock, _RLOCK)
        fresh = _NewLock(reentrant) if for_pickle else (
            threading.RLock() if reentrant else threading.Lock())
        memo.setdefault(id(lock), fresh)
    return copy.deepcopy(obj, memo)


def _find(obj: Any, wanted: Any, depth: int = 0, seen: set[int] | None = None) -> list[Any]:
    """The objects inside ``obj`` (attributes, containers; a few levels deep) for which
    ``wanted`` holds."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 6:
        return []
    seen.add(id(obj))
    if wanted(obj):
        return [obj]
    if isinstance(obj, dict):
        children = list(obj.values())
    elif isinstance(obj, (list, tuple, set)):
        children = list(obj)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        children = list(vars(obj).values())
    else:
        return []
    return [hit for child in children for hit in _find(child, wanted, depth + 1, seen)]


def _seed_unseeded(sampler: Any, rng: np.random.Generator) -> None:
    """Seed, from ``rng``, every random generator of ``sampler`` (and of the samplers it
    holds) that its constructor left unseeded (Optuna's ``LazyRandomState`` with no state
    yet: a sampler made with ``seed=None``). Seeded ones are left as they are."""
    try:
        from optuna.samplers._lazy_random_state import LazyRandomState
    except ImportError:  # a future Optuna: the sampler's own seed is what reproduces it
        return
    for state in _find(sampler, lambda item: isinstance(item, LazyRandomState)):
        if state._rng is None:
            state._rng = np.random.RandomState(int(rng.integers(2**32 - 1)))


@contextlib.contextmanager
def _quiet(optuna: Any) -> Iterator[None]:
    """Optuna logs every created study and finished trial at INFO; raysweep reports its own
    progress, so those lines are held back (warnings still show)."""
    logging = optuna.logging
    before = logging.get_verbosity()
    if before < logging.WARNING:
        logging.set_verbosity(logging.WARNING)
    try:
        yield
    finally:
        logging.set_verbosity(before)
