"""Shared plumbing of the model-based and population searchers (private).

Every searcher here works on the unit-cube encoding of ``raysweep.space``: a config is a
vector ``u`` in ``[0, 1]^d`` (one entry per non-fixed leaf, conditional selectors included)
plus a boolean ``active`` mask. ``Layout`` holds what the algorithms need to know about the
dims as arrays; ``HistorySearcher`` remembers the encoded config and the loss of every trial
it handed out (warm-start points included) so the algorithms can be written over arrays.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from raysweep.domains import Categorical
from raysweep.search.base import FINISHED, Searcher, _Finished

if TYPE_CHECKING:
    from raysweep.space import Space

_CONTINUOUS = ("float", "int")


class Layout:
    """The dims of a space as arrays.

    Attributes:
        d: number of dims.
        kinds: ``"float"``, ``"int"`` or ``"categorical"`` per dim.
        n_choices: number of categories per dim (0 for numeric dims).
        n_values: number of distinct values of an int dim (0 for other dims); used as a
            floor on kernel widths and to snap proposals.
        parent: ``(selector dim, branch)`` per dim, or None for always-active dims.
        cont, cat: index arrays of the numeric and the categorical dims.
    """

    def __init__(self, space: Space, owner: str) -> None:
        dims = list(space.dims)
        self.d = len(dims)
        self.kinds: list[str] = []
        self.n_choices = np.zeros(self.d, dtype=int)
        self.n_values = np.zeros(self.d, dtype=int)
        self.parent: list[tuple[int, int] | None] = []
        for j, dim in enumerate(dims):
            kind = getattr(dim.domain, "kind", None)
            if getattr(dim.domain, "invertible", True) is False:
                raise ValueError(
                    f"{owner}: parameter {dim.name!r} is a distribution without cdf/ppf, "
                    f"which cannot be mapped to the unit cube this searcher models; use "
                    f"search='random', or a distribution with cdf and ppf")
            if kind not in ("float", "int", "categorical"):
                raise ValueError(
                    f"{owner}: dim {dim.name!r} has a domain of kind {kind!r} that this "
                    f"searcher cannot model (expected float, int or categorical)")
            self.kinds.append(kind)
            if kind == "categorical":
                self.n_choices[j] = len(cast(Categorical, dim.domain).categories)
            elif kind == "int":
                self.n_values[j] = _int_size(dim.domain)
            parent = dim.parent
            self.parent.append(None if parent is None else (int(parent[0]), int(parent[1])))
        kinds = np.array(self.kinds, dtype=object)
        self.cont = np.flatnonzero(kinds != "categorical")
        self.cat = np.flatnonzero(kinds == "categorical")
        self.order = _topological(self.parent)

    def cat_index(self, u: np.ndarray | float, j: int) -> np.ndarray:
        """Category index of dim ``j`` for unit values ``u`` (any shape)."""
        n = self.n_choices[j]
        return np.minimum((np.asarray(u) * n).astype(int), n - 1)

    def cat_unit(self, index: np.ndarray | int, j: int) -> np.ndarray:
        """Unit value at the centre of category ``index`` of dim ``j``."""
        return (np.asarray(index) + 0.5) / self.n_choices[j]

    def active(self, u: np.ndarray) -> np.ndarray:
        """Active mask of every row of ``u`` (shape ``(n, d)`` or ``(d,)``)."""
        u = np.atleast_2d(u)
        act = np.zeros(u.shape, dtype=bool)
        for j in self.order:
            parent = self.parent[j]
            if parent is None:
                act[:, j] = True
            else:
                sel, branch = parent
                act[:, j] = act[:, sel] & (self.cat_index(u[:, sel], sel) == branch)
        return act


def _int_size(domain: Any) -> int:
    """How many values an int domain takes (0 when unknown or huge)."""
    try:
        size = int(domain.size)
    except (AttributeError, TypeError, ValueError, OverflowError):
        return 0
    return size if 0 < size < 10**6 else 0


def _topological(parent: list[tuple[int, int] | None]) -> list[int]:
    """Dims ordered so that every selector comes before the dims it switches on."""
    order: list[int] = []
    placed: set[int] = set()

    def place(j: int) -> None:
        if j in placed:
            return
        selector = parent[j]
        if selector is not None:
            place(selector[0])
        placed.add(j)
        order.append(j)

    for j in range(len(parent)):
        place(j)
    return order


class HistorySearcher(Searcher):
    """A searcher that remembers every trial it handed out, as unit-cube arrays.

    Subclasses implement ``_propose() -> config | None | FINISHED`` and read
    ``self._history()`` and ``self._pending_arrays()``; the bookkeeping (warm starts,
    intermediate versus final results, pending trials) lives here. Grid domains are refused
    (a grid asks for every value to be tried, which none of these searchers promises), and
    so are distributions that cannot be mapped to the unit cube.

    The base ``Searcher`` hands out ``points_to_evaluate`` without calling ``_suggest``, so
    ``suggest`` is wrapped here to record every config handed out, whoever chose it.
    """

    def setup(self, space: Space, metric: str, mode: str, seed: int | np.random.SeedSequence,
              num_samples: int | None = None) -> None:
        super().setup(space, metric, mode, seed, num_samples)
        name = type(self).__name__
        if getattr(space, "has_grid", False) and not self.supports_grid:
            raise ValueError(
                f"{name}: grid domains (rs.grid) cannot be modelled by this searcher; use "
                f"search='grid', or replace the grid with rs.choice to let {name} choose")
        self.layout = Layout(space, name)
        self._u: dict[str, np.ndarray] = {}        # trial_id -> unit vector (inactive = 0.5)
        self._act: dict[str, np.ndarray] = {}
        self._loss: dict[str, float] = {}          # last loss seen (intermediate or final)
        self._done: list[str] = []                  # finished trials, in the order they ended
        d = self.layout.d
        self._arrays = (np.zeros((0, d)), np.zeros((0, d), dtype=bool), np.zeros(0))
        self._seen_keys: set[tuple] = set()
        self._ended: set[str] = set()
        self._priors: list[str] = []               # ids given to add_evaluated results

    # -- protocol -------------------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict[str, Any] | None | _Finished:
        config = super().suggest(trial_id)
        if isinstance(config, dict):
            self._record(trial_id, config)
        return config

    def _suggest(self, trial_id: str) -> dict[str, Any] | None | _Finished:
        if self.layout.d == 0:  # only constants: nothing to model
            return self._no_free_parameters()
        return self._propose()

    def _no_free_parameters(self) -> dict[str, Any] | _Finished:
        return self.space.sample(self.rng)

    def _propose(self) -> dict[str, Any] | None | _Finished:  # pragma: no cover - abstract
        raise NotImplementedError

    def _observe(self, trial_id: str, result: dict[str, Any], *, final: bool) -> None:
        if trial_id not in self._u:
            return  # a trial this searcher never proposed (nothing to learn about it)
        if result or trial_id not in self._loss:
            self._loss[trial_id] = self.loss(result)
        if final and trial_id not in self._ended:
            self._ended.add(trial_id)
            self._done.append(trial_id)
            self._on_final(trial_id)

    def _on_final(self, trial_id: str) -> None:
        """Hook: ``trial_id`` ended; its loss is ``self._loss[trial_id]``."""

    def _add_evaluated(self, config: dict[str, Any], result: dict[str, Any]) -> None:
        # a prior result is a trial that ended before the experiment began: same history
        prior_id = f"prior:{len(self._priors)}"
        self._priors.append(prior_id)
        self._record(prior_id, config)
        self._observe(prior_id, result, final=True)

    # -- helpers --------------------------------------------------------------------------
    def _record(self, trial_id: str, config: dict[str, Any]) -> None:
        u, active = self.space.encode(config)
        u = np.where(active, np.clip(np.asarray(u, dtype=float), 0.0, 1.0), 0.5)
        self._u[trial_id] = u
        self._act[trial_id] = np.asarray(active, dtype=bool)
        self._seen_keys.add(self._key(u, active))

    def _history(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(U, active, loss)`` of the finished trials, in the order they ended."""
        U, active, loss = self._arrays
        if len(loss) < len(self._done):  # extend the cached arrays by the newly finished
            new = self._done[len(loss):]
            U = np.vstack([U, np.array([self._u[t] for t in new])])
            active = np.vstack([active, np.array([self._act[t] for t in new])])
            loss = np.concatenate([loss, [self._loss[t] for t in new]])
            self._arrays = (U, active, loss)
        return U, active, loss

    def _pending_arrays(self, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(U, active)`` of the trials handed out and not finished yet (sorted by id);
        with ``limit``, of the ``limit`` handed out last."""
        pending: Collection[str] = self._pending
        if limit is not None and len(pending) > limit:
            pending = list(pending)[-limit:]
        ids = sorted(t for t in pending if t in self._u)
        d = self.layout.d
        if not ids:
            return np.zeros((0, d)), np.zeros((0, d), dtype=bool)
        return np.array([self._u[t] for t in ids]), np.array([self._act[t] for t in ids])

    def _key(self, u: np.ndarray, active: np.ndarray) -> tuple:
        return tuple(np.round(np.where(active, u, -1.0), 9))

    def _canonical(self, u: np.ndarray) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
        """Decode ``u`` and re-encode it: the config, its snapped unit vector and mask."""
        config = self.space.decode(np.clip(u, 0.0, 1.0))
        snapped, active = self.space.encode(config)
        return config, np.asarray(snapped, dtype=float), np.asarray(active, dtype=bool)

    def _first_new(self, candidates: np.ndarray) -> dict[str, Any] | None:
        """The config of the first candidate (rows in preference order) not proposed before."""
        for u in candidates:
            config, snapped, active = self._canonical(u)
            if self._key(snapped, active) not in self._seen_keys:
                return config
        return None

    def _random_config(self, tries: int = 20) -> dict[str, Any]:
        """A random config, avoiding configs already proposed when the space allows."""
        config = self.space.sample(self.rng)
        for _ in range(tries - 1):
            u, active = self.space.encode(config)
            if self._key(np.where(active, u, 0.5), active) not in self._seen_keys:
                break
            config = self.space.sample(self.rng)
        return config


def warn_once(owner: Any, message: str) -> None:
    """Emit ``message`` as a UserWarning once per searcher instance."""
    said = owner.__dict__.setdefault("_warned", set())
    if message not in said:
        said.add(message)
        warnings.warn(message, UserWarning, stacklevel=3)


__all__ = ["FINISHED", "HistorySearcher", "Layout", "warn_once"]


def bounded_history(loss: np.ndarray, limit: int, n_best: int) -> np.ndarray:
    """Indexes (in observation order) of at most ``limit`` observations: the ``n_best``
    lowest losses (ties to the earlier) and the most recent others."""
    n = len(loss)
    k = min(n_best, limit)
    kth = np.partition(loss, k - 1)[k - 1]
    better = np.flatnonzero(loss < kth)
    ties = np.flatnonzero(loss == kth)[: k - len(better)]
    recent = np.arange(n - (limit - k), n)
    return np.union1d(np.concatenate([better, ties]), recent)
