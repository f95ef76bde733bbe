"""scikit-learn parameter grids and distributions as raysweep search spaces.

``param_space`` is what scikit-learn users already write: a ``GridSearchCV`` ``param_grid``
(a dict, or a list of dicts, of lists), a ``RandomizedSearchCV`` ``param_distributions``
(lists and ``scipy.stats`` distributions), or raysweep domains. ``build_space`` turns it into
a raysweep space:

* lists become ``rs.grid`` (for the grid searcher, and for random search, which samples grid
  domains uniformly) or ``rs.choice`` (for model-based searchers, which reject grid domains);
* a list of dicts becomes one conditional parameter, ``{"branch": rs.grid([dict, ...])}``;
* keys are sorted, so grid point ``i`` is ``sklearn.model_selection.ParameterGrid(...)[i]``.

Nothing is enumerated: a grid of 10**12 points costs what its lists cost.

Trial configs are journaled as JSON, so values that JSON would not give back unchanged
(estimators, tuples, numpy scalars, callables, NaN) travel as string tokens: ``SVC(C=10)``,
``(50, 50)``. ``ParamCodec`` maps the tokens back to the very objects the user listed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from raysweep.domains import Categorical, Domain, Fixed, Grid, is_scipy_dist
from raysweep.search.base import FINISHED, Searcher
from raysweep.space import Space

#: The config key of a list-of-dicts ``param_space`` (which of the dicts a candidate uses).
BRANCH = "branch"

_PRIMITIVES = (bool, int, float, str, type(None))
_LABEL_LIMIT = 80
_MISSING = object()


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _label(value: Any) -> str:
    """A short, stable, readable name for a value that is not plain JSON."""
    qualname = getattr(value, "__qualname__", None)
    if qualname is not None and not isinstance(value, np.ndarray):
        return str(qualname)
    if isinstance(value, float):  # NaN and infinities
        return repr(value)
    text = " ".join(repr(value).split())
    if " at 0x" in text:  # addresses differ between processes; resume needs stable tokens
        text = type(value).__name__
    if len(text) > _LABEL_LIMIT:
        text = text[: _LABEL_LIMIT - 3] + "..."
    return text


class ParamCodec:
    """Maps each parameter's listed values to JSON-safe tokens, and tokens back.

    A plain ``bool``/``int``/``float``/``str``/``None`` is its own token; anything else gets
    a readable string label, made unique within its parameter with a ``#2``, ``#3`` suffix.
    Decoding returns the original object (the same estimator instance, the same numpy
    scalar), so ``cv_results_["params"]`` holds exactly what the user listed.
    """

    def __init__(self) -> None:
        self.branched = False
        self._seen: dict[str, list[tuple[Any, Any]]] = {}  # name -> [(original, token)]
        self._by_token: dict[str, dict[tuple[type, Any], Any]] = {}

    def token(self, name: str, value: Any) -> Any:
        """The token standing for ``value`` of parameter ``name`` (assigned on first use)."""
        seen = self._seen.setdefault(name, [])
        for original, token in seen:
            if original is value:
                return token
        table = self._by_token.setdefault(name, {})
        plain = _plain(value)
        if type(plain) in _PRIMITIVES and not (isinstance(plain, float)
                                               and not math.isfinite(plain)):
            token = plain
            existing = table.get((type(token), token), _MISSING)
            if existing is not _MISSING and _plain(existing) == plain \
                    and type(_plain(existing)) is type(plain):
                return token  # e.g. np.float64(1.0) listed after 1.0: the same value
        else:
            token = _label(value)
        base, suffix = token, 1
        while (type(token), token) in table:
            suffix += 1
            token = f"{base}#{suffix}"
        table[(type(token), token)] = value
        seen.append((value, token))
        return token

    def decode_value(self, name: str, token: Any) -> Any:
        """The original value for ``token`` (values drawn from distributions pass through)."""
        table = self._by_token.get(name)
        if not table:
            return token
        try:
            return table.get((type(token), token), token)
        except TypeError:  # unhashable: not one of ours
            return token

    def decode(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Estimator parameters (``{"svc__C": 10, ...}``) from a trial config."""
        flat = config.get(BRANCH, {}) if self.branched else config
        return {name: self.decode_value(name, value) for name, value in flat.items()}


def _as_dicts(param_space: Any) -> list[Mapping[str, Any]]:
    if isinstance(param_space, Mapping):
        return [param_space]
    if isinstance(param_space, (list, tuple)):
        if not param_space:
            raise ValueError("param_space must not be an empty list; give at least one dict "
                             "of parameter names to values")
        for index, item in enumerate(param_space):
            if not isinstance(item, Mapping):
                raise TypeError(f"param_space[{index}] must be a dict of parameter names to "
                                f"values, got {type(item).__name__}")
        return list(param_space)
    raise TypeError("param_space must be a dict (or a list of dicts) of parameter names to "
                    "lists of values, scipy.stats distributions or raysweep domains, got "
                    f"{type(param_space).__name__}")


def _convert(name: str, value: Any, codec: ParamCodec, grid: bool) -> tuple[Any, bool]:
    """The raysweep domain for one parameter, and whether it has finitely many values."""
    where = f"param_space[{name!r}]"
    if isinstance(value, Fixed):
        return Fixed(codec.token(name, value.value)), True
    if isinstance(value, Categorical):
        if any(isinstance(c, (Mapping, Domain)) or is_scipy_dist(c) for c in value.categories):
            raise TypeError(f"{where}: an estimator parameter cannot be a nested sub-space; "
                            "use a list of dicts for conditional parameters")
        tokens = [codec.token(name, c) for c in value.categories]
        keep_grid = grid and isinstance(value, Grid)
        return (Grid(tokens) if keep_grid else Categorical(tokens)), True
    if isinstance(value, Domain) or is_scipy_dist(value):
        return value, False
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise ValueError(f"{where} must be a one-dimensional array of values, got an array "
                             f"of shape {value.shape}")
        value = list(value)
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        if len(value) == 0:
            raise ValueError(f"{where} must be a non-empty list of values, got {value!r}")
        tokens = [codec.token(name, v) for v in value]
        return (Grid(tokens) if grid else Categorical(tokens)), True
    raise TypeError(
        f"{where} must be a list of values, a scipy.stats distribution or a raysweep domain, "
        f"got {value!r} (of type {type(value).__name__}); wrap a single value in a list "
        "([value]) or use raysweep.fixed(value)")


def _convert_dict(params: Mapping[str, Any], codec: ParamCodec,
                  grid: bool) -> tuple[dict[str, Any], bool]:
    spec: dict[str, Any] = {}
    finite = True
    for name in sorted(params, key=lambda n: (not isinstance(n, str), str(n))):
        if not isinstance(name, str) or not name or "/" in name:
            raise TypeError(f"param_space keys must be estimator parameter names (non-empty "
                            f"strings without '/'), got {name!r}")
        spec[name], is_finite = _convert(name, params[name], codec, grid)
        finite = finite and is_finite
    return spec, finite


def build_space(param_space: Any, *, grid: bool) -> tuple[dict[str, Any], ParamCodec, bool]:
    """Convert a scikit-learn ``param_space`` into a raysweep space spec.

    Args:
        param_space: A dict, or a list of dicts, of parameter names to lists of values,
            ``scipy.stats`` distributions or raysweep domains.
        grid: Lists become ``rs.grid`` domains (True) or ``rs.choice`` ones (False).

    Returns:
        ``(spec, codec, finite)``: the spec for ``raysweep.run``, the codec that turns trial
        configs back into estimator parameters, and whether every parameter is a finite list
        (then the space is a grid and ``Space(spec).grid_size`` counts its points).

    Example:
        >>> spec, codec, finite = build_space({"C": [1, 10], "kernel": ["rbf"]}, grid=True)
        >>> Space(spec).grid_size, finite
        (2, True)
    """
    dicts = _as_dicts(param_space)
    codec = ParamCodec()
    converted = [_convert_dict(d, codec, grid) for d in dicts]
    finite = all(is_finite for _, is_finite in converted)
    if len(converted) == 1:
        spec = converted[0][0]
    else:
        codec.branched = True
        branches = [branch for branch, _ in converted]
        spec = {BRANCH: Grid(branches) if grid else Categorical(branches)}
    Space(spec)  # fail here, naming the parameter, rather than inside rs.run
    return spec, codec, finite


class GridSample(Searcher):
    """Random search over a finite grid without repeats, like ``RandomizedSearchCV``.

    Draws ``n_trials`` distinct grid points uniformly (by index, so the grid is never
    enumerated), then returns ``FINISHED``. Grids too large to index with numpy integers are
    sampled with replacement, where a repeat is vanishingly unlikely anyway.
    """

    supports_grid = True
    name = "random"

    def __init__(self, n_trials: int) -> None:
        super().__init__()
        self.n_trials = n_trials

    def setup(self, space: Space, metric: str, mode: str, seed: Any,
              num_samples: int | None = None) -> None:
        super().setup(space, metric, mode, seed, num_samples)
        self._drawn: set[int] = set()

    def _suggest(self, trial_id: str) -> dict[str, Any] | Any:
        size = self.space.grid_size
        if len(self._drawn) >= min(self.n_trials, size):
            return FINISHED
        if size >= 2**62:
            self._drawn.add(len(self._drawn))
            return self.space.sample(self.rng)
        while True:
            point = int(self.rng.integers(size))
            if point not in self._drawn:
                self._drawn.add(point)
                return self.space.sample(self.rng, grid_point=point)
