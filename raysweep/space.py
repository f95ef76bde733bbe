"""Search spaces: nested dicts of domains, sampled, enumerated and encoded to the unit cube.

A spec is a dict whose leaves are domains (``uniform(0, 1)``), frozen ``scipy.stats``
distributions, lists (a categorical choice, as in scikit-learn's ``param_distributions``) or
constants; nested dicts recurse. A ``choice`` (or ``grid``, or list) whose categories are
dicts is conditional: each dict is a sub-space of its own, read by the same rules, and only
the chosen branch's parameters appear in a config.

The domain classes live in ``raysweep.domains`` and are re-exported here.
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from raysweep.domains import (
    Categorical,
    Domain,
    Fixed,
    Float,
    Grid,
    Int,
    Normal,
    ScipyDist,
    _fresh,
    _jsonable,
    _plain,
    _same,
    _short,
    choice,
    fixed,
    grid,
    is_scipy_dist,
    lograndint,
    loguniform,
    normal,
    qloguniform,
    qrandint,
    quniform,
    randint,
    uniform,
)
from raysweep.errors import InvalidSpace

__all__ = [
    "Categorical",
    "Dim",
    "Domain",
    "Fixed",
    "Float",
    "Grid",
    "Int",
    "Normal",
    "ScipyDist",
    "Space",
    "choice",
    "fixed",
    "flatten",
    "grid",
    "lograndint",
    "loguniform",
    "normal",
    "qloguniform",
    "qrandint",
    "quniform",
    "randint",
    "to_domain",
    "unflatten",
    "uniform",
]


def flatten(config: Mapping[str, Any], sep: str = "/") -> dict[str, Any]:
    """``{"model": {"k": 3}} -> {"model/k": 3}``; an empty dict stays a value."""
    flat: dict[str, Any] = {}

    def walk(value: Mapping[str, Any], prefix: str) -> None:
        for key, item in value.items():
            name = f"{prefix}{sep}{key}" if prefix else str(key)
            if isinstance(item, Mapping) and item:
                walk(item, name)
            else:
                flat[name] = item

    walk(config, "")
    return flat


def unflatten(flat: Mapping[str, Any], sep: str = "/") -> dict[str, Any]:
    """``{"model/k": 3} -> {"model": {"k": 3}}`` (inverse of ``flatten``; dicts merge)."""
    nested: dict[str, Any] = {}
    for name, value in flat.items():
        *parents, last = str(name).split(sep)
        node = nested
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(  # noqa: TRY004 - a clash of names, not a wrong argument type
                    f"unflatten: {name!r} nests inside {part!r}, which is a value")
            node = child
        if isinstance(value, Mapping) and isinstance(node.get(last), dict):
            node[last].update(unflatten(value, sep))
        elif last in node:
            raise ValueError(f"unflatten: {name!r} is given twice")
        else:
            node[last] = unflatten(value, sep) if isinstance(value, Mapping) else value
    return nested


def to_domain(value: Any) -> Domain | None:
    """The domain a spec leaf stands for: a ``Domain``, a scipy distribution, or a list
    (categorical); ``None`` for a constant."""
    if isinstance(value, Domain):
        return value
    if isinstance(value, list):
        return Categorical(value)
    if is_scipy_dist(value):
        return ScipyDist(value)
    return None


@dataclass(frozen=True)
class Dim:
    """One non-fixed parameter of a space: a coordinate of the unit cube.

    Attributes:
        name: Flattened path (``"model/k"``); repeats across branches of a conditional.
        key: Unique id (``"model[1]/C"``: parameter ``C`` of branch 1 of ``model``).
        domain: What the parameter is drawn from.
        parent: ``(index of the selector dim, branch index)`` inside a conditional, else None.
    """

    name: str
    key: str
    domain: Domain
    parent: tuple[int, int] | None = None


# The parsed spec is a small tree of these four node types.
class _Const:
    __slots__ = ("grid_count", "value")

    def __init__(self, value: Any) -> None:
        self.value, self.grid_count = value, 1


class _Leaf:
    __slots__ = ("dim", "grid_count")

    def __init__(self, dim: int, grid_count: int) -> None:
        self.dim, self.grid_count = dim, grid_count


class _Dict:
    __slots__ = ("grid_count", "items")

    def __init__(self, items: list[tuple[str, Any]]) -> None:
        self.items = items
        self.grid_count = math.prod(child.grid_count for _, child in items)


class _Switch:
    """A categorical over sub-spaces: its own dim selects one of ``branches``."""

    __slots__ = ("branches", "dim", "grid_count", "is_grid", "offsets")

    def __init__(self, dim: int, branches: list[Any], is_grid: bool) -> None:
        self.dim, self.branches, self.is_grid = dim, branches, is_grid
        counts = [b.grid_count for b in branches] if is_grid else [1]
        self.offsets = [0]
        for count in counts[:-1]:
            self.offsets.append(self.offsets[-1] + count)
        self.grid_count = sum(counts)


def _user_number(domain: Domain, value: Any, name: str) -> Any:
    """A user-given value of a numeric parameter as a plain Python number: ``int`` for an
    integer domain (``3.0`` -> ``3``), ``float`` otherwise. Values out of the domain's range
    are kept (``encode`` clips them); anything that is not a finite number is refused."""
    plain = _plain(value)
    if isinstance(plain, bool) or not isinstance(plain, numbers.Real):
        raise InvalidSpace(f"space[{name!r}]: must be a number ({domain!r}), got {_short(value)}")
    x = float(plain)
    if not math.isfinite(x):
        raise InvalidSpace(f"space[{name!r}]: must be a finite number ({domain!r}), "
                           f"got {_short(value)}")
    if domain.kind == "int":
        if isinstance(plain, numbers.Integral):
            return int(plain)
        if not x.is_integer():
            raise InvalidSpace(f"space[{name!r}]: must be an integer ({domain!r}), "
                               f"got {_short(value)}")
        return int(x)
    return x


def _is_branch(category: Any) -> bool:
    return isinstance(category, (Mapping, Domain)) or is_scipy_dist(category)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}/{key}" if prefix else key


class Space:
    """A parsed search space.

    Example:
        >>> import numpy as np
        >>> space = Space({"lr": loguniform(1e-4, 1e-1), "layers": [1, 2, 3],
        ...                "model": choice([{"type": "knn", "k": randint(1, 30)},
        ...                                 {"type": "svm", "C": loguniform(1e-2, 1e2)}])})
        >>> [d.name for d in space.dims]
        ['lr', 'layers', 'model', 'model/k', 'model/C']
        >>> config = space.sample(np.random.default_rng(0))
        >>> space.decode(space.encode(config)[0]) == config
        True

    Attributes:
        dims: Every non-fixed parameter, depth first in dict order; a conditional's
            selector comes before the parameters of its branches.
        names: Flattened names of all leaves (fixed ones too), as in ``flatten(config)``.
        has_grid: Whether any ``grid`` domain is present.
        grid_size: Number of grid points (1 without grid domains), computed without
            enumerating them.
    """

    spec: Mapping[str, Any]

    def __init__(self, spec: Mapping[str, Any] | Space) -> None:
        if isinstance(spec, Space):
            spec = spec.spec
        if not isinstance(spec, Mapping):
            raise TypeError("space must be a dict of parameter names to domains or values, "
                            f"got {type(spec).__name__}")
        self.spec = spec
        self.dims: list[Dim] = []
        self.names: list[str] = []
        self._name_set: set[str] = set()
        self._root = self._parse_dict(spec, "", "", None, None)
        self.grid_size: int = self._root.grid_count
        self.has_grid = any(isinstance(d.domain, Grid) for d in self.dims)

    # -- parsing ---------------------------------------------------------------------------
    def _add_name(self, name: str) -> None:
        if name not in self._name_set:
            self._name_set.add(name)
            self.names.append(name)

    def _parse_dict(self, spec: Mapping[str, Any], name: str, key: str,
                    parent: tuple[int, int] | None, choice_name: str | None) -> _Dict:
        items = []
        for k, value in spec.items():
            if not isinstance(k, str) or not k or "/" in k:
                where = f"space[{name!r}]" if name else "space"
                raise InvalidSpace(
                    f"{where}: keys must be non-empty strings without '/', got {k!r}")
            items.append((k, self._parse(value, _join(name, k), _join(key, k), parent,
                                         choice_name)))
        if not items and name:
            self._add_name(name)
        return _Dict(items)

    def _parse(self, value: Any, name: str, key: str, parent: tuple[int, int] | None,
               choice_name: str | None) -> Any:
        if isinstance(value, Mapping):
            return self._parse_dict(value, name, key, parent, choice_name)
        try:
            domain = to_domain(value)
        except InvalidSpace as exc:
            raise InvalidSpace(f"space[{name!r}]: {exc}") from None
        if domain is None or isinstance(domain, Fixed):
            constant = _plain(value) if domain is None else domain.value
            if isinstance(constant, Mapping) and constant:
                for sub in flatten(constant):
                    self._add_name(_join(name, sub))
            else:
                self._add_name(name)
            return _Const(constant)
        is_grid = isinstance(domain, Grid)
        if is_grid and choice_name is not None:
            raise InvalidSpace(
                f"space[{name!r}]: grid(...) inside a branch of the choice {choice_name!r} is "
                "not supported; make that choice a grid([...]) or this parameter a choice")
        index = len(self.dims)
        self.dims.append(Dim(name, key, domain, parent))
        if isinstance(domain, Categorical) and any(_is_branch(c) for c in domain.categories):
            inner_choice = choice_name if is_grid else name
            branches = [self._parse_branch(c, name, f"{key}[{j}]", (index, j), inner_choice)
                        for j, c in enumerate(domain.categories)]
            return _Switch(index, branches, is_grid)
        self._add_name(name)
        size = len(domain.categories) if isinstance(domain, Grid) else 1
        return _Leaf(index, size)

    def _parse_branch(self, category: Any, name: str, key: str, parent: tuple[int, int],
                      choice_name: str | None) -> Any:
        if isinstance(category, Mapping) or _is_branch(category):
            return self._parse(category, name, key, parent, choice_name)
        self._add_name(name)  # a plain value: a list here is a value, not a choice
        return _Const(category)

    def _selector(self, node: _Leaf | _Switch) -> Categorical:
        """The categorical domain of a switch (or of a grid leaf)."""
        return cast(Categorical, self.dims[node.dim].domain)

    # -- sampling and grids ----------------------------------------------------------------
    def sample(self, rng: np.random.Generator, grid_point: int | None = None) -> dict[str, Any]:
        """Draw a nested config. Grid domains are sampled uniformly unless ``grid_point``
        is given, in which case they take that grid point's values."""
        assignment = {} if grid_point is None else self._grid_assignment(grid_point)
        return self._sample(self._root, rng, assignment)

    def _sample(self, node: Any, rng: np.random.Generator, assignment: dict[int, int]) -> Any:
        if isinstance(node, _Dict):
            return {k: self._sample(child, rng, assignment) for k, child in node.items}
        if isinstance(node, _Const):
            return _fresh(node.value)
        if isinstance(node, _Leaf):
            if node.dim in assignment:
                return _fresh(self._selector(node).categories[assignment[node.dim]])
            return self.dims[node.dim].domain.sample(rng)
        j = assignment.get(node.dim)
        if j is None:
            j = self._selector(node).sample_index(rng)
        return self._sample(node.branches[j], rng, assignment)

    def _grid_assignment(self, index: int) -> dict[int, int]:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"grid point index must be an int, got {type(index).__name__}")
        index = int(index)
        if not 0 <= index < self.grid_size:
            raise IndexError(
                f"grid point index must be in [0, {self.grid_size}), got {index}")
        assignment: dict[int, int] = {}
        self._assign(self._root, index, assignment)
        return assignment

    def _assign(self, node: Any, index: int, assignment: dict[int, int]) -> None:
        if isinstance(node, _Dict):  # mixed radix; the last key varies fastest
            for _, child in reversed(node.items):
                index, digit = divmod(index, child.grid_count)
                self._assign(child, digit, assignment)
        elif isinstance(node, _Leaf):
            if isinstance(self.dims[node.dim].domain, Grid):
                assignment[node.dim] = index
        elif isinstance(node, _Switch) and node.is_grid:
            j = bisect.bisect_right(node.offsets, index) - 1
            assignment[node.dim] = j
            self._assign(node.branches[j], index - node.offsets[j], assignment)

    def grid_values(self, index: int) -> dict[str, Any]:
        """The flat ``{name: value}`` that grid point ``index`` fixes: every grid domain on
        its path, plus the constants of the grid branches it selects. Computed by
        mixed-radix arithmetic, without enumerating the grid."""
        assignment = self._grid_assignment(index)
        out: dict[str, Any] = {}
        self._grid_flat(self._root, "", assignment, False, out)
        return out

    def _grid_flat(self, node: Any, name: str, assignment: dict[int, int], in_branch: bool,
                   out: dict[str, Any]) -> None:
        if isinstance(node, _Dict):
            if not node.items and in_branch:
                out[name] = {}
            for k, child in node.items:
                self._grid_flat(child, _join(name, k), assignment, in_branch, out)
        elif isinstance(node, _Const):
            if in_branch:
                if isinstance(node.value, Mapping) and node.value:
                    out.update({_join(name, k): _fresh(v) for k, v in flatten(node.value).items()})
                else:
                    out[name] = _fresh(node.value)
        elif isinstance(node, _Leaf):
            if node.dim in assignment:
                out[name] = _fresh(self._selector(node).categories[assignment[node.dim]])
        elif node.is_grid:
            self._grid_flat(node.branches[assignment[node.dim]], name, assignment, True, out)

    # -- the unit cube ---------------------------------------------------------------------
    def encode(self, config: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """``(u, active)``: the config's unit coordinates, one per dim, and which dims it
        uses. Inactive dims (in branches not chosen) get ``u = 0.5``."""
        u = np.full(len(self.dims), 0.5)
        active = np.zeros(len(self.dims), dtype=bool)
        self._encode(self._root, config, "", u, active)
        return u, active

    def _encode(self, node: Any, value: Any, name: str, u: np.ndarray,
                active: np.ndarray) -> None:
        if isinstance(node, _Dict):
            if not isinstance(value, Mapping):
                raise InvalidSpace(f"space[{name!r}]: expected a dict, got {_short(value)}")
            for k, child in node.items:
                if k not in value:
                    raise InvalidSpace(f"space[{_join(name, k)!r}]: missing from the config")
                self._encode(child, value[k], _join(name, k), u, active)
        elif isinstance(node, _Leaf):
            try:
                u[node.dim] = self.dims[node.dim].domain.to_unit(value)
            except InvalidSpace as exc:
                raise InvalidSpace(f"space[{name!r}]: {exc}") from None
            active[node.dim] = True
        elif isinstance(node, _Switch):
            j = self._which_branch(node, value, name)
            u[node.dim] = self._selector(node).index_to_unit(j)
            active[node.dim] = True
            self._encode(node.branches[j], value, name, u, active)

    def _which_branch(self, node: _Switch, value: Any, name: str) -> int:
        for j, branch in enumerate(node.branches):
            if self._matches(branch, value):
                return j
        for j, branch in enumerate(node.branches):  # e.g. a user-given point out of range
            if self._fits(branch, value):
                return j
        raise InvalidSpace(f"space[{name!r}]: {_short(value)} matches none of the "
                           f"{len(node.branches)} branches")

    def _matches(self, node: Any, value: Any) -> bool:
        if isinstance(node, _Dict):
            return (isinstance(value, Mapping) and len(value) == len(node.items)
                    and all(k in value and self._matches(child, value[k])
                            for k, child in node.items))
        if isinstance(node, _Const):
            return _same(node.value, value)
        if isinstance(node, _Leaf):
            return self.dims[node.dim].domain.contains(value)
        return any(self._matches(branch, value) for branch in node.branches)

    def decode(self, u: Any) -> dict[str, Any]:
        """The nested config at unit coordinates ``u`` (coordinates of inactive dims are
        ignored). ``decode(encode(c)[0]) == c`` for every sampled config ``c``."""
        u = self._unit_vector(u)
        return self._decode(self._root, u)

    def _unit_vector(self, u: Any) -> np.ndarray:
        u = np.asarray(u, dtype=float).reshape(-1)
        if u.shape[0] != len(self.dims):
            raise ValueError(f"unit vector must have length {len(self.dims)} (one per dim), "
                             f"got {u.shape[0]}")
        return u

    def _decode(self, node: Any, u: np.ndarray) -> Any:
        if isinstance(node, _Dict):
            return {k: self._decode(child, u) for k, child in node.items}
        if isinstance(node, _Const):
            return _fresh(node.value)
        if isinstance(node, _Leaf):
            return self.dims[node.dim].domain.from_unit(float(u[node.dim]))
        return self._decode(node.branches[self._selector(node).unit_to_index(u[node.dim])], u)

    def active(self, u: Any) -> np.ndarray:
        """Which dims the config ``decode(u)`` uses (the branches ``u`` selects)."""
        u = self._unit_vector(u)
        mask = np.zeros(len(self.dims), dtype=bool)
        stack = [self._root]
        while stack:
            node = stack.pop()
            if isinstance(node, _Dict):
                stack.extend(child for _, child in node.items)
            elif isinstance(node, _Leaf):
                mask[node.dim] = True
            elif isinstance(node, _Switch):
                mask[node.dim] = True
                stack.append(node.branches[self._selector(node).unit_to_index(u[node.dim])])
        return mask

    # -- user-given points -----------------------------------------------------------------
    def complete(self, partial: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """Fill a user-given (possibly partial, nested or '/'-flattened) config: given values
        are kept, missing ones sampled.

        Raises ``InvalidSpace`` naming the key for a key that is not in the space, a
        categorical value that is not one of its categories, a conditional value that fits
        none of the branches, or a numeric parameter given something other than a finite
        number (or a non-integer for an integer domain). Numbers outside their range are
        kept; given values come back as plain Python objects (``numpy.float64(0.5)`` ->
        ``0.5``, ``3.0`` -> ``3`` for an integer domain, a category as it was declared).
        """
        if not isinstance(partial, Mapping):
            raise InvalidSpace(
                f"points_to_evaluate: each point must be a dict, got {type(partial).__name__}")
        if any(isinstance(k, str) and "/" in k for k in partial):
            partial = unflatten(partial)
        return self._complete(self._root, partial, "", rng)

    def _complete(self, node: Any, value: Any, name: str, rng: np.random.Generator) -> Any:
        if isinstance(node, _Dict):
            if not isinstance(value, Mapping):
                raise InvalidSpace(f"space[{name!r}]: expected a dict, got {_short(value)}")
            known = {k for k, _ in node.items}
            unknown = [_join(name, str(k)) for k in value if k not in known]
            if unknown:
                raise InvalidSpace(f"space[{unknown[0]!r}]: not a parameter of the space "
                                   f"(known: {sorted(_join(name, k) for k in known)})")
            return {k: (self._complete(child, value[k], _join(name, k), rng) if k in value
                        else self._sample(child, rng, {})) for k, child in node.items}
        if isinstance(node, _Switch):
            branches = node.branches
            fits = [j for j, b in enumerate(branches) if self._matches(b, value)]
            fits = fits or [j for j, b in enumerate(branches) if self._fits(b, value)]
            if not fits:
                raise InvalidSpace(f"space[{name!r}]: {_short(value)} fits none of the "
                                   f"{len(branches)} branches")
            return self._complete(branches[fits[0]], value, name, rng)
        if isinstance(node, _Leaf):
            domain = self.dims[node.dim].domain
            if isinstance(domain, Categorical):
                if not domain.contains(value):
                    raise InvalidSpace(f"space[{name!r}]: {_short(value)} is not one of the "
                                       f"categories {_short(domain.categories)}")
                return _fresh(domain.categories[domain.index(value)])
            if domain.kind in ("float", "int"):
                return _user_number(domain, value, name)
        return value

    def _fits(self, node: Any, value: Any) -> bool:
        """Partial match: keys a subset of the branch's, constants equal."""
        if isinstance(node, _Dict):
            children = dict(node.items)
            return isinstance(value, Mapping) and all(
                k in children and self._fits(children[k], v) for k, v in value.items())
        if isinstance(node, _Const):
            return _same(node.value, value)
        if isinstance(node, _Switch):
            return any(self._fits(branch, value) for branch in node.branches)
        return True

    def contains(self, config: Any) -> bool:
        """Whether ``config`` is a config this space can produce."""
        return self._matches(self._root, config)

    # -- description -----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """A stable plain-JSON description; equal spaces give equal descriptions."""
        return {"type": "space", "spec": self._node_json(self._root)}

    def _node_json(self, node: Any) -> Any:
        if isinstance(node, _Dict):
            return {"type": "dict", "items": [[k, self._node_json(c)] for k, c in node.items]}
        if isinstance(node, _Const):
            return {"type": "fixed", "value": _jsonable(node.value)}
        if isinstance(node, _Leaf):
            return self.dims[node.dim].domain.to_json()
        return {"type": "grid" if node.is_grid else "choice",
                "branches": [self._node_json(b) for b in node.branches]}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Space({', '.join(d.key for d in self.dims)}; grid_size={self.grid_size})"
