"""A frozen ``scipy.stats`` distribution as a domain (``ScipyDist``)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from raysweep.domains._base import Domain
from raysweep.domains._preimage import _ORDINAL_ONE, _ordinal, _unit_preimage
from raysweep.domains._util import _TAIL, _clip_unit, _is_number, _plain, _short
from raysweep.errors import InvalidSpace


def is_scipy_dist(value: Any) -> bool:
    """Whether ``value`` looks like a (frozen) ``scipy.stats`` distribution: has ``.rvs``."""
    return not isinstance(value, type) and callable(getattr(value, "rvs", None))


class ScipyDist(Domain):
    """Any ``scipy.stats`` distribution (anything with ``.rvs(random_state=)``).

    Continuous distributions give floats, discrete ones Python ints. When the distribution
    has ``cdf`` and ``ppf`` (every scipy one does), samples are drawn by inverse transform,
    ``ppf(U)``, so the unit-cube map is exact; otherwise ``rvs`` is used and model-based
    searchers cannot use the parameter.
    """

    def __init__(self, dist: Any) -> None:
        if not is_scipy_dist(dist):
            raise InvalidSpace(
                f"scipy distribution: expected an object with .rvs(random_state=), got {dist!r}")
        from scipy import stats

        self.dist = dist
        generator = getattr(dist, "dist", dist)
        if isinstance(generator, stats.rv_discrete):
            self.discrete = True
        elif isinstance(generator, stats.rv_continuous):
            self.discrete = False
        else:
            self.discrete = callable(getattr(dist, "pmf", None))
        self.kind = "int" if self.discrete else "float"
        self.name = str(getattr(generator, "name", None) or type(dist).__name__)
        self.args = tuple(_plain(a) for a in getattr(dist, "args", ()))
        self.kwds = {str(k): _plain(v) for k, v in dict(getattr(dist, "kwds", {})).items()}
        self.invertible = (callable(getattr(dist, "ppf", None))
                           and callable(getattr(dist, "cdf", None)))
        self._unit_cache: dict[Any, float] = {}
        if type(dist).__module__.startswith("scipy.stats"):
            self._check_draw()  # other objects with .rvs may draw anything (scikit-learn's
            #                     RandomizedSearchCV samples them itself)

    def _check_draw(self) -> None:
        """Draw one value now, so that an unusable scipy distribution fails when the space
        is built (e.g. ``scipy.stats.randint`` not frozen: its bounds are missing, or invalid
        parameters such as ``norm(0, -1)``) rather than inside the first trial."""
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)
                if self.invertible:
                    x = self.dist.ppf(0.5)
                else:
                    x = self.dist.rvs(random_state=np.random.default_rng(0))
        except Exception as exc:  # noqa: BLE001 - whatever the distribution raises
            hint = ("" if hasattr(self.dist, "dist")  # frozen: its parameters are bad
                    else " (pass a frozen distribution, e.g. scipy.stats.randint(1, 40))")
            raise InvalidSpace(f"scipy distribution {self.name!r}: cannot draw from it: "
                               f"{exc}{hint}") from None
        if np.size(x) != 1:
            raise InvalidSpace(f"scipy distribution {self.name!r}: draws arrays of shape "
                               f"{np.shape(x)}; a parameter needs a distribution of single "
                               "numbers")
        x = _plain(np.reshape(x, ())[()])
        if not _is_number(x):
            raise InvalidSpace(f"scipy distribution {self.name!r}: draws {_short(x)}, not a "
                               "number")
        if math.isnan(float(x)):
            raise InvalidSpace(f"scipy distribution {self.name!r}: invalid parameters "
                               f"(args={self.args!r}, kwds={self.kwds!r}): it draws nan")

    def _cast(self, x: Any) -> Any:
        return round(float(x)) if self.discrete else float(x)

    def _need_inverse(self) -> None:
        if not self.invertible:
            raise InvalidSpace(
                f"scipy distribution {self.name!r} has no cdf/ppf, so it cannot be mapped "
                "to the unit cube (use it with the random or grid searcher)")

    def sample(self, rng: np.random.Generator) -> Any:
        if self.invertible:
            return self.from_unit(float(rng.random()))
        return self._cast(self.dist.rvs(random_state=rng))

    def _ppf(self, u: float) -> float:
        return float(self.dist.ppf(min(max(_clip_unit(u), _TAIL), 1.0 - _TAIL)))

    def from_unit(self, u: float) -> Any:
        self._need_inverse()
        return self._cast(self._ppf(u))

    def to_unit(self, value: Any) -> float:
        self._need_inverse()
        try:
            cached = self._unit_cache.get(value)
        except TypeError:  # unhashable: certainly not a value of this distribution
            return 0.5
        if cached is not None:
            return cached
        try:
            v = float(value)
        except (TypeError, ValueError):
            return 0.5
        if self.discrete:
            k = round(v)
            guess = 0.5 * (float(self.dist.cdf(k - 1)) + float(self.dist.cdf(k)))
            u = _unit_preimage(self.from_unit, k, min(max(guess, _TAIL), 1.0 - _TAIL))
            if self.from_unit(u) != k:
                u = self._scan(k, guess, u)
        else:
            guess = float(self.dist.cdf(v))
            u = _unit_preimage(self._ppf, v, guess)
            if self._ppf(u) != v:
                u = self._scan(v, guess, u)
        if len(self._unit_cache) > 50_000:
            self._unit_cache.clear()
        self._unit_cache[value] = u
        return u

    def _scan(self, value: Any, *centres: float) -> float:
        """A wider, vectorised search for a ``u`` with ``from_unit(u) == value`` near
        ``centres``: some ``ppf`` are not monotone in the last bits (e.g. ``truncnorm``), so
        bisection can miss the run of unit values that map to ``value``. Windows of 64, 512
        and 4096 float steps on each side; returns the last centre when all miss."""
        done = 0
        for reach in (64, 512, 4096):
            offsets = np.arange(done + 1, reach + 1, dtype=np.int64)
            offsets = np.concatenate([-offsets[::-1], offsets] if done else
                                     [-offsets[::-1], [0], offsets])
            done = reach
            for centre in centres:
                ords = np.clip(_ordinal(_clip_unit(centre) + 0.0) + offsets, 0, _ORDINAL_ONE)
                us = ords.view(np.float64)
                with np.errstate(all="ignore"):
                    xs = np.asarray(self.dist.ppf(np.clip(us, _TAIL, 1.0 - _TAIL)), dtype=float)
                hits = np.flatnonzero((np.round(xs) if self.discrete else xs) == value)
                if len(hits):
                    return float(us[hits[np.argmin(np.abs(offsets[hits]))]])
        return centres[-1]

    def contains(self, value: Any) -> bool:
        if not _is_number(value) or not math.isfinite(float(value)):
            return False
        v = float(value)
        if self.discrete and not v.is_integer():
            return False
        support = getattr(self.dist, "support", None)
        if callable(support):
            lo, hi = support()
            return bool(lo <= v <= hi)
        return True

    def to_json(self) -> dict[str, Any]:
        from raysweep.domains._json import _jsonable  # noqa: PLC0415 (it imports this module)

        return {"type": "scipy", "dist": self.name, "args": [_jsonable(a) for a in self.args],
                "kwds": {k: _jsonable(v) for k, v in self.kwds.items()}}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_unit_cache"] = {}
        return state
