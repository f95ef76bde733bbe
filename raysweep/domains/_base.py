"""``Domain``, the base class of every domain, and the shared logic of the discrete numeric
ones (a lattice of values, each owning an interval of the unit line)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from raysweep.domains._preimage import _unit_preimage
from raysweep.domains._util import _clip_unit


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
