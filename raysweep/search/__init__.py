"""Search algorithms, selectable by name (``search="tpe"``) or as objects.

Each algorithm lives in its own module behind the ``Searcher`` protocol of ``base.py``;
the classes are imported lazily so that ``import raysweep`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from raysweep.search.base import FINISHED, Searcher

_REGISTRY: dict[str, tuple[str, str]] = {
    "grid": ("raysweep.search.basic", "Grid"),
    "random": ("raysweep.search.basic", "Random"),
    "sobol": ("raysweep.search.basic", "Sobol"),
    "tpe": ("raysweep.search.tpe", "TPE"),
    "gp": ("raysweep.search.gp", "GP"),
    "evolution": ("raysweep.search.evolution", "Evolution"),
    "pso": ("raysweep.search.pso", "PSO"),
    "cmaes": ("raysweep.search.cmaes", "CMAES"),
    "nsga2": ("raysweep.search.nsga2", "NSGA2"),
}
# other names users know the same algorithms by
_ALIASES = {"bayesopt": "gp", "genetic": "evolution", "quasirandom": "sobol",
            "cma-es": "cmaes", "cma": "cmaes",
            "nsga-ii": "nsga2", "nsgaii": "nsga2"}
# SciPy optimisers by their own names: search="differential_evolution" is Scipy(that)
_SCIPY_METHODS = ("differential_evolution", "nelder-mead", "powell", "dual_annealing",
                  "direct", "shgo", "brute")
_CLASSES = {cls: (mod, cls) for mod, cls in _REGISTRY.values()}
_CLASSES["Scipy"] = ("raysweep.search.scipy", "Scipy")
_CLASSES["Optuna"] = ("raysweep.search.optuna", "Optuna")  # wraps any Optuna sampler

__all__ = ["FINISHED", "Searcher", "make_searcher", *sorted(_CLASSES)]


def __getattr__(name: str) -> Any:
    if name in _CLASSES:
        module, attr = _CLASSES[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'raysweep.search' has no attribute {name!r}")


def make_searcher(spec: str | Searcher) -> Searcher:
    """Build a searcher from a name (``"tpe"``, ``"cmaes"``; also ``"bayesopt"`` for GP,
    ``"genetic"`` for Evolution, ``"quasirandom"`` for Sobol, ``"cma-es"`` for CMAES, and
    SciPy method names such as ``"differential_evolution"`` for ``Scipy(method)``) or pass an
    instance through. Optuna samplers come in as ``Optuna(sampler)`` instances.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
        TypeError: anything that is neither a name nor a ``Searcher``.
    """
    if isinstance(spec, Searcher):
        return spec
    if isinstance(spec, str):
        key = _ALIASES.get(spec.lower(), spec.lower())
        if key in _SCIPY_METHODS:
            from raysweep.search.scipy import Scipy

            return Scipy(key)
        if key not in _REGISTRY:
            raise ValueError(
                f"search must be one of {sorted(_REGISTRY)}, a SciPy method "
                f"{sorted(_SCIPY_METHODS)}, or a raysweep.search.Searcher; got {spec!r}")
        module, attr = _REGISTRY[key]
        return getattr(importlib.import_module(module), attr)()
    raise TypeError(
        f"search must be a name such as 'random' or a raysweep.search.Searcher instance, "
        f"got {type(spec).__name__}")
