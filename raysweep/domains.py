"""Domains: what one search-space parameter is drawn from.

Users build them with the constructors (``uniform``, ``randint``, ``choice``, ...), re-exported
from ``raysweep.space`` and ``raysweep``. Every domain maps its values to and from the unit
interval, which is how model-based searchers (TPE, GP, PSO, Sobol) see it:

* ``sample(rng)`` is distributed as ``from_unit(U)`` with ``U ~ Uniform[0, 1)``, so a searcher
  that proposes uniform unit coordinates reproduces the prior exactly.
* ``from_unit(to_unit(v)) == v`` for every value ``v`` the domain produces. Discrete values
  (integers, multiples of ``q``, categories) own an interval of the unit line and ``to_unit``
  returns its midpoint; continuous values are inverted exactly by a short bisection.
* Values are plain Python objects (``float``, ``int``, ``str``, ...), never numpy scalars.
"""

from __future__ import annotations

import copy
import json
import math
import numbers
import struct
import warnings
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from raysweep.errors import InvalidSpace

__all__ = [
    "Categorical",
    "Domain",
    "Fixed",
    "Float",
    "Grid",
    "Int",
    "Normal",
    "ScipyDist",
    "choice",
    "fixed",
    "grid",
    "is_scipy_dist",
    "lograndint",
    "loguniform",
    "normal",
    "qloguniform",
    "qrandint",
    "quniform",
    "randint",
    "uniform",
]

#: Unit coordinates are clipped to [_TAIL, 1 - _TAIL] before an inverse CDF with infinite tails.
_TAIL = 2.0 ** -53


# -- small helpers ---------------------------------------------------------------------------
def _clip_unit(u: Any) -> float:
    u = float(u)
    if math.isnan(u):
        return 0.5
    return 0.0 if u < 0.0 else min(u, 1.0)


def _plain(value: Any) -> Any:
    """numpy scalars -> the equivalent Python object; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def _fresh(value: Any) -> Any:
    """A copy of mutable containers, so that configs never share lists or dicts."""
    return copy.deepcopy(value) if isinstance(value, (list, dict, set)) else value


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps ``True`` apart from ``1`` and never raises."""
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. numpy arrays: ambiguous truth value
        return False


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _real(fn: str, name: str, value: Any) -> float:
    if not _is_number(value):
        raise InvalidSpace(f"{fn}: {name} must be a number, got {name}={value!r}")
    try:
        x = float(value)
    except OverflowError:
        x = math.inf
    if not math.isfinite(x):
        raise InvalidSpace(f"{fn}: {name} must be finite, got {name}={value!r}")
    return x


def _integer(fn: str, name: str, value: Any) -> int:
    x = _real(fn, name, value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if not x.is_integer():
        raise InvalidSpace(f"{fn}: {name} must be an integer, got {name}={value!r}")
    return int(x)


def _decimal(x: float) -> Fraction:
    """The decimal a float prints as (0.1 -> 1/10), so that multiples of q look as typed."""
    return Fraction(repr(float(x)))


def _jsonable(value: Any) -> Any:
    """A stable, plain-JSON description of any spec value."""
    value = _plain(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"type": "float", "value": repr(value)}
    if isinstance(value, Domain):
        return value.to_json()
    if is_scipy_dist(value):
        return ScipyDist(value).to_json()
    if isinstance(value, Mapping):
        return {"type": "dict", "items": [[str(k), _jsonable(v)] for k, v in value.items()]}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, tuple):
        return {"type": "tuple", "items": [_jsonable(v) for v in value]}
    if isinstance(value, np.ndarray):
        return {"type": "array", "items": _jsonable(value.tolist())}
    if isinstance(value, (set, frozenset)):
        return {"type": "set", "items": sorted(json.dumps(_jsonable(v)) for v in value)}
    qualname = getattr(value, "__qualname__", None)
    if qualname is not None:  # classes and functions: stable across processes
        return {"type": "object", "name": f"{getattr(value, '__module__', '?')}.{qualname}"}
    return {"type": "object", "repr": repr(value)}


# Exact inversion of a monotone map from the unit interval: bisection over the float lattice.
_ORD = struct.Struct("<q")
_DBL = struct.Struct("<d")


def _ordinal(u: float) -> int:
    return _ORD.unpack(_DBL.pack(u))[0]


def _from_ordinal(i: int) -> float:
    return _DBL.unpack(_ORD.pack(i))[0]


_ORDINAL_ONE = _ordinal(1.0)


def _unit_preimage(forward: Callable[[float], Any], value: Any, guess: float) -> float:
    """A ``u`` in [0, 1] with ``forward(u) == value``, or ``guess`` clipped when there is none.

    ``forward`` must be non-decreasing; ``guess`` is a few float steps from the answer in
    practice, and the exponential search plus bisection costs O(log distance) calls.
    """
    g = _clip_unit(guess) + 0.0  # turns -0.0 into 0.0
    y = forward(g)
    if y == value:
        return g
    start = _ordinal(g)
    step = 1
    if y < value:  # search upwards for the first u with forward(u) >= value
        lo = start
        while True:
            hi = min(start + step, _ORDINAL_ONE)
            if forward(_from_ordinal(hi)) >= value:
                break
            if hi == _ORDINAL_ONE:
                return g
            lo, step = hi, step * 2
    else:  # search downwards for a u with forward(u) < value
        hi = start
        while True:
            lo = max(start - step, 0)
            below = forward(_from_ordinal(lo))
            if below < value:
                break
            if lo == 0:
                return 0.0 if below == value else g
            hi, step = lo, step * 2
    while hi - lo > 1:  # invariant: forward(lo) < value <= forward(hi)
        mid = (lo + hi) // 2
        if forward(_from_ordinal(mid)) >= value:
            hi = mid
        else:
            lo = mid
    u = _from_ordinal(hi)
    if forward(u) == value:
        return u
    # forward is only monotone up to rounding (e.g. a rational approximation of an inverse
    # CDF): look around the two candidates before giving up.
    for centre in (hi, start):
        for offset in range(1, 33):
            for i in (centre - offset, centre + offset):
                if 0 <= i <= _ORDINAL_ONE and forward(_from_ordinal(i)) == value:
                    return _from_ordinal(i)
    return g


# -- the base class --------------------------------------------------------------------------
class Domain:
    """Base class of every domain.

    Attributes:
        kind: ``"float"``, ``"int"``, ``"categorical"`` or ``"fixed"``.
    """

    kind: str = ""

    def sample(self, rng: np.random.Generator) -> Any:
        """Draw one value using ``rng`` (and nothing else)."""
        return self.from_unit(float(rng.random()))

    def to_unit(self, value: Any) -> float:
        """Map a value of the domain to [0, 1]."""
        raise NotImplementedError

    def from_unit(self, u: float) -> Any:
        """Map a unit coordinate (clipped to [0, 1]) to a value of the domain."""
        raise NotImplementedError

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a value this domain can produce."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        """A stable plain-JSON description; equal domains give equal descriptions."""
        raise NotImplementedError

    def _key(self) -> str:
        return json.dumps(self.to_json())

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Domain) and type(other) is type(self)
                and self._key() == other._key())

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        fields = {k: v for k, v in self.to_json().items() if k != "type"}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in fields.items())})"


class _Lattice(Domain):
    """Shared logic of discrete numeric domains: the values ``value(k)`` for kmin <= k <= kmax.

    Linear: ``k = kmin + floor(u * n)``. Log: ``k = floor(t)`` with ``t`` log-uniform on
    [kmin, kmax + 1). Value k owns an interval of the unit line; ``to_unit`` is its midpoint.
    """

    log: bool
    _kmin: int
    _kmax: int

    def _value(self, k: int) -> Any:
        raise NotImplementedError

    def _nearest_k(self, value: Any) -> int:
        raise NotImplementedError

    def _k_from_unit(self, u: float) -> int:
        u = _clip_unit(u)
        if self.log:
            a, b = math.log(self._kmin), math.log(self._kmax + 1)
            k = math.floor(math.exp(a + u * (b - a)))
        else:
            k = self._kmin + int(u * (self._kmax - self._kmin + 1))
        return min(max(k, self._kmin), self._kmax)

    def _unit_of_k(self, k: int) -> float:
        k = min(max(k, self._kmin), self._kmax)
        if self.log:
            a, b = math.log(self._kmin), math.log(self._kmax + 1)
            u = (0.5 * (math.log(k) + math.log(k + 1)) - a) / (b - a)
        else:
            u = (k - self._kmin + 0.5) / (self._kmax - self._kmin + 1)
        u = _clip_unit(u)
        if self._k_from_unit(u) != k:  # huge ranges: the midpoint rounds into a neighbour
            u = _unit_preimage(self._k_from_unit, k, u)
        return u

    def from_unit(self, u: float) -> Any:
        return self._value(self._k_from_unit(u))

    def to_unit(self, value: Any) -> float:
        try:
            k = self._nearest_k(value)
        except (TypeError, ValueError, OverflowError):
            return 0.5
        return self._unit_of_k(k)

    @property
    def size(self) -> int | None:
        """Number of distinct values (None for a continuous float)."""
        if not hasattr(self, "_kmin"):
            return None
        return self._kmax - self._kmin + 1


# -- numeric domains -------------------------------------------------------------------------
class Float(_Lattice):
    """A real number in [low, high], optionally on a log scale and/or a multiple of ``q``.

    With ``q`` the values are the multiples of ``q`` that lie in [low, high] (both included),
    computed as ``k * q`` in decimal and rounded once, so ``quniform(0, 1, 0.1)`` gives
    ``0.3``, not ``0.30000000000000004``.
    """

    kind = "float"

    def __init__(self, low: float, high: float, *, log: bool = False,
                 q: float | None = None) -> None:
        fn = ("q" if q is not None else "") + ("loguniform" if log else "uniform")
        self._fn = fn
        self.low = _real(fn, "low", low)
        self.high = _real(fn, "high", high)
        if not self.low < self.high:
            raise InvalidSpace(f"{fn}: low must be < high, got low={low!r}, high={high!r}")
        if log and self.low <= 0:
            raise InvalidSpace(f"{fn}: low must be > 0 on a log scale, got low={low!r}")
        self.log = bool(log)
        self.q = None if q is None else _real(fn, "q", q)
        if self.q is not None and self.q <= 0:
            raise InvalidSpace(f"{fn}: q must be > 0, got q={q!r}")
        if self.log:
            self._a = math.log(self.low)
            self._w = math.log(self.high) - self._a
        else:
            self._a, self._w = self.low, self.high - self.low
            if not math.isfinite(self._w):
                raise InvalidSpace(
                    f"{fn}: high - low must be finite, got low={low!r}, high={high!r}")
        if self.q is not None:
            step = _decimal(self.q)
            self._qnum, self._qden = step.numerator, step.denominator
            self._kmin = math.ceil(_decimal(self.low) / step)
            self._kmax = math.floor(_decimal(self.high) / step)
            if self._kmin > self._kmax:
                raise InvalidSpace(
                    f"{fn}: no multiple of q={q!r} lies in [low, high], "
                    f"got low={low!r}, high={high!r}")

    # continuous part
    def _continuous(self, u: float) -> float:
        x = self._a + _clip_unit(u) * self._w
        if self.log:
            x = math.exp(x)
        return min(max(x, self.low), self.high)

    # lattice part (only with q)
    def _value(self, k: int) -> float:
        return (k * self._qnum) / self._qden

    def _nearest_k(self, value: Any) -> int:
        return round(float(value) / self.q)

    def from_unit(self, u: float) -> float:
        if self.q is not None:
            return super().from_unit(u)
        return self._continuous(u)

    def to_unit(self, value: Any) -> float:
        if self.q is not None:
            return super().to_unit(value)
        try:
            v = float(value)
        except (TypeError, ValueError):
            return 0.5
        if self.log:
            guess = (math.log(v) - self._a) / self._w if v > 0 else 0.0
        else:
            guess = (v - self._a) / self._w
        if not self.low <= v <= self.high:
            return _clip_unit(guess)
        return _unit_preimage(self._continuous, v, guess)

    def contains(self, value: Any) -> bool:
        if not _is_number(value) or not math.isfinite(float(value)):
            return False
        v = float(value)
        if self.q is None:
            return self.low <= v <= self.high
        k = self._nearest_k(v)
        return (self._kmin <= k <= self._kmax
                and math.isclose(v, self._value(k), rel_tol=1e-9, abs_tol=1e-9 * self.q))

    def to_json(self) -> dict[str, Any]:
        return {"type": "float", "low": self.low, "high": self.high, "log": self.log,
                "q": self.q}


class Int(_Lattice):
    """An integer in [low, high) (or [low, high] with ``include_high``), a multiple of ``q``.

    With ``log`` the integers are drawn as ``floor(t)`` with ``t`` log-uniform, so small
    values are more likely.
    """

    kind = "int"

    def __init__(self, low: int, high: int, *, q: int = 1, log: bool = False,
                 include_high: bool = False) -> None:
        fn = ("q" if include_high else "") + ("lograndint" if log else "randint")
        self._fn = fn
        self.low = _integer(fn, "low", low)
        self.high = _integer(fn, "high", high)
        if not self.low < self.high:
            raise InvalidSpace(f"{fn}: low must be < high, got low={low!r}, high={high!r}")
        if log and self.low <= 0:
            raise InvalidSpace(f"{fn}: low must be > 0 on a log scale, got low={low!r}")
        if not _is_number(q) or not float(q).is_integer() or q < 1:
            raise InvalidSpace(f"{fn}: q must be an integer >= 1, got q={q!r}")
        self.q = int(q)
        self.log = bool(log)
        self.include_high = bool(include_high)
        top = self.high if self.include_high else self.high - 1
        self._kmin = -(-self.low // self.q)
        self._kmax = top // self.q
        if self._kmin > self._kmax:
            raise InvalidSpace(
                f"{fn}: no multiple of q={q!r} lies in [low, high], got low={low!r}, high={high!r}")

    def _value(self, k: int) -> int:
        return k * self.q

    def _nearest_k(self, value: Any) -> int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            k, rest = divmod(int(value), self.q)
            return k + (2 * rest >= self.q)
        return round(float(value) / self.q)

    def contains(self, value: Any) -> bool:
        if not _is_number(value):
            return False
        if not isinstance(value, numbers.Integral):
            if not (math.isfinite(float(value)) and float(value).is_integer()):
                return False
            value = int(value)
        k, rest = divmod(int(value), self.q)
        return rest == 0 and self._kmin <= k <= self._kmax

    def to_json(self) -> dict[str, Any]:
        return {"type": "int", "low": self.low, "high": self.high, "q": self.q,
                "log": self.log, "include_high": self.include_high}


class Normal(Domain):
    """A normally distributed real number (optionally rounded to a multiple of ``q``).

    Unit coordinates map through the normal CDF; draws are limited to about 8.2 standard
    deviations, the reach of a double-precision uniform draw.
    """

    kind = "float"

    def __init__(self, mean: float = 0.0, sd: float = 1.0, *, q: float | None = None) -> None:
        self.mean = _real("normal", "mean", mean)
        self.sd = _real("normal", "sd", sd)
        if self.sd <= 0:
            raise InvalidSpace(f"normal: sd must be > 0, got sd={sd!r}")
        self.q = None if q is None else _real("normal", "q", q)
        if self.q is not None:
            if self.q <= 0:
                raise InvalidSpace(f"normal: q must be > 0, got q={q!r}")
            step = _decimal(self.q)
            self._qnum, self._qden = step.numerator, step.denominator

    def _continuous(self, u: float) -> float:
        from scipy.special import ndtri

        u = min(max(_clip_unit(u), _TAIL), 1.0 - _TAIL)
        return self.mean + self.sd * float(ndtri(u))

    def _cdf(self, x: float) -> float:
        from scipy.special import ndtr

        return float(ndtr((x - self.mean) / self.sd))

    def from_unit(self, u: float) -> float:
        x = self._continuous(u)
        if self.q is None:
            return x
        return (round(x / self.q) * self._qnum) / self._qden

    def to_unit(self, value: Any) -> float:
        try:
            v = float(value)
        except (TypeError, ValueError):
            return 0.5
        if not math.isfinite(v):
            return 0.5 if math.isnan(v) else float(v > 0)
        if self.q is not None:
            k = round(v / self.q)
            lo, hi = self._cdf((k - 0.5) * self.q), self._cdf((k + 0.5) * self.q)
            guess = min(max(0.5 * (lo + hi), _TAIL), 1.0 - _TAIL)
            return _unit_preimage(self.from_unit, v, guess)  # far tails: bins collapse
        return _unit_preimage(self._continuous, v, self._cdf(v))

    def contains(self, value: Any) -> bool:
        if not _is_number(value) or not math.isfinite(float(value)):
            return False
        if self.q is None:
            return True
        v = float(value)
        k = round(v / self.q)
        return math.isclose(v, (k * self._qnum) / self._qden, rel_tol=1e-9,
                            abs_tol=1e-9 * self.q)

    def to_json(self) -> dict[str, Any]:
        return {"type": "normal", "mean": self.mean, "sd": self.sd, "q": self.q}


# -- scipy.stats adapter ---------------------------------------------------------------------
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
        return {"type": "scipy", "dist": self.name, "args": [_jsonable(a) for a in self.args],
                "kwds": {k: _jsonable(v) for k, v in self.kwds.items()}}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_unit_cache"] = {}
        return state


# -- categorical domains ---------------------------------------------------------------------
class Categorical(Domain):
    """One of a list of categories; category ``i`` of ``n`` owns the unit interval around
    ``(i + 0.5) / n``. Categories that are dicts with domains inside are conditional
    sub-spaces (``Space`` takes care of them)."""

    kind = "categorical"
    _fn = "choice"

    def __init__(self, categories: Sequence[Any]) -> None:
        if (isinstance(categories, (str, bytes, Mapping))
                or not isinstance(categories, (Sequence, np.ndarray))):
            raise InvalidSpace(
                f"{self._fn}: categories must be a list, got {type(categories).__name__}")
        self.categories = [_plain(c) for c in categories]
        if not self.categories:
            raise InvalidSpace(f"{self._fn}: categories must not be empty, got []")

    def index(self, value: Any) -> int:
        """Position of ``value`` among the categories (raises ``InvalidSpace`` if absent)."""
        for i, category in enumerate(self.categories):
            if type(category) is type(value) and _same(category, value):
                return i
        for i, category in enumerate(self.categories):
            if _same(category, value):
                return i
        raise InvalidSpace(
            f"{self._fn}: {_short(value)} is not one of the categories {_short(self.categories)}")

    def unit_to_index(self, u: float) -> int:
        n = len(self.categories)
        return min(int(_clip_unit(u) * n), n - 1)

    def index_to_unit(self, i: int) -> float:
        return (i + 0.5) / len(self.categories)

    def sample_index(self, rng: np.random.Generator) -> int:
        return self.unit_to_index(float(rng.random()))

    def sample(self, rng: np.random.Generator) -> Any:
        return _fresh(self.categories[self.sample_index(rng)])

    def from_unit(self, u: float) -> Any:
        return _fresh(self.categories[self.unit_to_index(u)])

    def to_unit(self, value: Any) -> float:
        return self.index_to_unit(self.index(value))

    def contains(self, value: Any) -> bool:
        try:
            self.index(value)
        except InvalidSpace:
            return False
        return True

    def to_json(self) -> dict[str, Any]:
        return {"type": "categorical", "categories": [_jsonable(c) for c in self.categories]}


class Grid(Categorical):
    """Like ``Categorical``, but the grid searcher enumerates every value (in order)."""

    _fn = "grid"

    @property
    def values(self) -> list[Any]:
        return self.categories

    def to_json(self) -> dict[str, Any]:
        return {"type": "grid", "values": [_jsonable(c) for c in self.categories]}


class Fixed(Domain):
    """A constant. Use it for a list or dict that must not be read as a choice or sub-space."""

    kind = "fixed"

    def __init__(self, value: Any) -> None:
        self.value = _plain(value)

    def sample(self, rng: np.random.Generator) -> Any:
        return _fresh(self.value)

    def from_unit(self, u: float) -> Any:
        return _fresh(self.value)

    def to_unit(self, value: Any) -> float:
        return 0.5

    def contains(self, value: Any) -> bool:
        return _same(self.value, value)

    def to_json(self) -> dict[str, Any]:
        return {"type": "fixed", "value": _jsonable(self.value)}


# -- public constructors ---------------------------------------------------------------------
def uniform(low: float, high: float) -> Float:
    """A float drawn uniformly from [low, high).

    Example:
        >>> import numpy as np
        >>> 0.0 <= uniform(0, 1).sample(np.random.default_rng(0)) < 1.0
        True
    """
    return Float(low, high)


def loguniform(low: float, high: float) -> Float:
    """A float whose logarithm is uniform on [log(low), log(high)); needs ``low > 0``."""
    return Float(low, high, log=True)


def quniform(low: float, high: float, q: float) -> Float:
    """A multiple of ``q`` in [low, high] (both ends included), each equally likely.

    Example:
        >>> quniform(0, 1, 0.1).from_unit(0.3)
        0.3
    """
    return Float(low, high, q=q)


def qloguniform(low: float, high: float, q: float) -> Float:
    """A multiple of ``q`` in [low, high], drawn on a log scale; needs ``low > 0``."""
    return Float(low, high, log=True, q=q)


def randint(low: int, high: int) -> Int:
    """An integer in [low, high): ``high`` is excluded, as in numpy and scipy.

    Example:
        >>> randint(0, 2).contains(2)
        False
    """
    return Int(low, high)


def lograndint(low: int, high: int) -> Int:
    """An integer in [low, high) drawn on a log scale (``high`` excluded); needs ``low > 0``."""
    return Int(low, high, log=True)


def qrandint(low: int, high: int, q: int = 1) -> Int:
    """A multiple of ``q`` in [low, high]: unlike ``randint``, ``high`` is INCLUDED (as in
    Ray Tune).

    Example:
        >>> qrandint(0, 10, 5).contains(10)
        True
    """
    return Int(low, high, q=q, include_high=True)


def choice(categories: Sequence[Any]) -> Categorical:
    """One of ``categories``, each equally likely. Dict categories containing domains are
    conditional sub-spaces: only the chosen branch's parameters are sampled.

    Example:
        >>> import numpy as np
        >>> choice(["rbf", "poly"]).sample(np.random.default_rng(0)) in ("rbf", "poly")
        True
    """
    return Categorical(categories)


def grid(values: Sequence[Any]) -> Grid:
    """Every one of ``values``, in order, under the grid searcher (sampled uniformly by the
    other searchers). Dict values with further ``grid`` domains inside are enumerated too."""
    return Grid(values)


def normal(mean: float = 0.0, sd: float = 1.0, q: float | None = None) -> Normal:
    """A normally distributed float, rounded to a multiple of ``q`` when ``q`` is given."""
    return Normal(mean, sd, q=q)


def fixed(value: Any) -> Fixed:
    """The constant ``value``, taken literally (a list or dict inside is not a choice)."""
    return Fixed(value)
