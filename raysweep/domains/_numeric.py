"""The numeric domains: ``Float`` (uniform, log, multiples of q), ``Int``, ``Normal``."""

from __future__ import annotations

import math
import numbers
from typing import Any, cast

from raysweep.domains._base import Domain, _Lattice
from raysweep.domains._preimage import _unit_preimage
from raysweep.domains._util import _TAIL, _clip_unit, _decimal, _integer, _is_number, _real
from raysweep.errors import InvalidSpace


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
        return round(float(value) / cast(float, self.q))  # the lattice exists only with q

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
        return round(float(value) / cast(float, self.q))  # the lattice exists only with q

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
