"""The categorical domains: ``Categorical`` (``choice``), ``Grid`` and ``Fixed``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from raysweep.domains._base import Domain
from raysweep.domains._json import _jsonable
from raysweep.domains._util import _clip_unit, _fresh, _plain, _same, _short
from raysweep.errors import InvalidSpace


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
