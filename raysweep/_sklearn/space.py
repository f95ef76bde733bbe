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

import copy
import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import ParameterSampler

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

    def encode_value(self, name: str, value: Any) -> Any:
        """The token for a value a candidate has: one of the listed values (found by identity,
        else by equal plain value), or a value drawn from a distribution, which stands for
        itself when it is plain JSON."""
        for original, token in self._seen.get(name, ()):
            if original is value:
                return token
        plain = _plain(value)
        if type(plain) in _PRIMITIVES and not (isinstance(plain, float)
                                               and not math.isfinite(plain)):
            return plain
        return self.token(name, value)

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
    default_num_samples = 1
    name = "random"

    def __init__(self, n_trials: int) -> None:
        super().__init__()
        self.n_trials = n_trials

    def planned_trials(self, space: Space, num_samples: int | None) -> int:
        """``n_trials`` distinct grid points (the whole grid when smaller); one pass."""
        return len(self.points_to_evaluate) + min(self.n_trials, space.grid_size)

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


def sklearn_sampleable(param_space: Any) -> bool:
    """Whether ``param_space`` is what ``RandomizedSearchCV`` takes: every value a list (or a
    one-dimensional array) of values or a ``scipy.stats`` distribution, no raysweep domains."""
    for params in _as_dicts(param_space):
        for value in params.values():
            if isinstance(value, Domain):
                return False
            if is_scipy_dist(value):
                continue
            if isinstance(value, np.ndarray) and value.ndim == 1:
                continue
            if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
                return False
    return True


class ParameterSampling(Searcher):
    """``RandomizedSearchCV``'s own candidates, from scikit-learn's ``ParameterSampler``.

    With the same ``random_state`` (an int, or a ``RandomState`` in the same state) the
    candidates, and their order, are those of ``RandomizedSearchCV``: a space of lists gives
    distinct grid points (drawn by index, so the grid is never enumerated), any distribution
    makes every draw independent. Without a ``random_state`` the sampler is seeded from the
    experiment's seed, so a resumed fit replays the same candidates.

    Args:
        param_space: A dict, or a list of dicts, of lists and ``scipy.stats`` distributions
            (see ``sklearn_sampleable``).
        codec: The codec of the space built from ``param_space`` (``build_space``).
        n_trials: Candidates to draw (fewer when a space of lists has fewer points).
        random_state: An int, a ``numpy.random.RandomState`` (copied, not advanced) or None.
    """

    name = "random"

    def __init__(self, param_space: Any, codec: ParamCodec, n_trials: int,
                 random_state: Any) -> None:
        super().__init__()
        self.param_space = param_space
        self.codec = codec
        self.n_trials = n_trials
        self.random_state = random_state

    def setup(self, space: Space, metric: str, mode: str, seed: Any,
              num_samples: int | None = None) -> None:
        super().setup(space, metric, mode, seed, num_samples)
        random_state = self.random_state
        if random_state is None:
            random_state = int(self.rng.integers(2**32))
        elif isinstance(random_state, np.random.RandomState):
            random_state = copy.deepcopy(random_state)  # every setup (a resume) starts alike
        sampler = ParameterSampler(self.param_space, self.n_trials, random_state=random_state)
        with warnings.catch_warnings():  # SearchCV warned already, in its own words
            warnings.filterwarnings("ignore", message="The total space of parameters",
                                    category=UserWarning)
            candidates = list(sampler)
        self._configs = [self._encode(params) for params in candidates]
        self._next = 0

    def _encode(self, params: Mapping[str, Any]) -> dict[str, Any]:
        flat = {name: self.codec.encode_value(name, value) for name, value in params.items()}
        return {BRANCH: flat} if self.codec.branched else flat

    def _suggest(self, trial_id: str) -> dict[str, Any] | Any:
        if self._next >= len(self._configs):
            return FINISHED
        config = self._configs[self._next]
        self._next += 1
        return copy.deepcopy(config)


#: Ancestor assignments tried per parameter name by ``check_parameter_names``.
_NAME_CHECKS = 64


def _candidate_values(value: Any) -> list[Any]:
    """Up to ``_NAME_CHECKS`` values ``value`` (a list, distribution or domain) can give, for
    name checks (a long list is not copied)."""
    if isinstance(value, Fixed):
        return [value.value]
    if isinstance(value, Categorical):
        return list(itertools.islice(value.categories, _NAME_CHECKS))
    if isinstance(value, Domain):
        return [value.sample(np.random.default_rng(0))]
    if is_scipy_dist(value):
        return [value.rvs(random_state=0)]
    return list(itertools.islice(value, _NAME_CHECKS))


def check_parameter_names(estimator: Any, param_space: Any) -> None:
    """Raise ``estimator.set_params``'s own error for a name no candidate could set.

    ``GridSearchCV`` raises it at the first candidate (whatever ``error_score``); this does
    it before any trial starts. A name under a step that ``param_space`` itself replaces
    (``{"clf": [SVC(), LinearSVC()], "clf__C": [1, 10]}``) is accepted when one of the listed
    steps has it. Values are not checked (only names); ill-formed spaces are left to
    ``build_space``.
    """
    try:
        dicts = _as_dicts(param_space)
    except (TypeError, ValueError):
        return
    for params in dicts:
        if not all(isinstance(name, str) for name in params):
            return
        try:
            values = {name: _candidate_values(value) for name, value in params.items()}
        except Exception:  # noqa: BLE001 - e.g. a value that is no list: build_space says why
            continue
        if any(not options for options in values.values()):
            continue
        for name in params:
            ancestors = [other for other in params if name.startswith(other + "__")]
            options = [values[a] for a in ancestors]
            error: Exception | None = None
            for tried, chosen in enumerate(itertools.product(*options)):
                if tried >= _NAME_CHECKS:
                    error = None
                    break
                assignment = {**dict(zip(ancestors, chosen)), name: values[name][0]}
                try:
                    clone(estimator).set_params(**clone(assignment, safe=False))
                except Exception as exc:  # noqa: BLE001 - re-raised below, as sklearn would
                    error = error or exc
                    continue
                error = None
                break
            if error is not None:
                raise error
