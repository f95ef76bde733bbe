"""Run scikit-learn's own tests of its search classes against raysweep's.

The test files are read from the INSTALLED scikit-learn at test time (never vendored here),
written to a temporary directory with one line added after the import of the search classes,
``from raysweep.sklearn import GridSearchCV, ...``, and imported from there. Every test body
is scikit-learn's, untouched; ``collected_from`` hands its test functions to the pytest module that
collects them.

``RAYSWEEP_UPSTREAM=sklearn`` leaves scikit-learn's classes in place (the baseline: which
tests pass with scikit-learn's own classes in this environment).

``EXCLUDED`` is the one list of upstream tests that cannot pass with ours, each with why:
they inspect a side effect that happens in the process that runs the fit, and raysweep runs
fits in Ray worker processes. They run as strict xfails, so one that starts passing is noticed.
"""

from __future__ import annotations

import ast
import atexit
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import sklearn

#: The names each upstream file gets from raysweep.sklearn instead of scikit-learn.
REBOUND = {
    "test_search.py": ("GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV",
                       "HalvingRandomSearchCV"),
    "test_successive_halving.py": ("HalvingGridSearchCV", "HalvingRandomSearchCV"),
}

_SEARCH_INSTANCE = (
    "asserts that the hooks of each fit on a split receive the very search object of the "
    "caller's process (`entry['estimator'] is search`); those fits run on Ray workers, whose "
    "hooks receive the worker's copy of it (the counts and arguments are scikit-learn's)")
_SCORER_REGISTRY = (
    "asserts that the scorer recorded the metadata it was given in a registry held by the "
    "test (`scorer_registry`); the scorer runs on a Ray worker and fills the worker's copy "
    "of the registry (the metadata does reach it there)")

_SCORER_RNG = (
    "its scorer returns draws from a RandomState of the test's process, and asserts that no "
    "two candidates tie; each Ray worker draws from its own copy of that RandomState, in the "
    "same state, so candidates scored on different workers can get equal scores (whether "
    "they do depends on which worker ran what, so this one may pass)")

_BOOKKEEPING = (
    "its estimator appends what its fit, predict and set_params receive to lists of the "
    "test's process; those calls happen on Ray workers, which append to their own copies "
    "(the candidates, resources and results are checked by the other tests)")

#: Upstream test (``file::name`` or ``file::name[param id]``) -> why it cannot pass with ours.
#: A reason in ``MAY_PASS`` is a non-strict xfail (the outcome depends on scheduling).
EXCLUDED: dict[str, str] = {
    "test_search.py::test_search_callbacks_receive_search_instance": _SEARCH_INSTANCE,
    "test_search.py::test_multi_metric_search_forwards_metadata": _SCORER_REGISTRY,
    "test_successive_halving.py::test_cv_results": _SCORER_RNG,
    "test_successive_halving.py::test_base_estimator_inputs": _BOOKKEEPING,
}
MAY_PASS = {_SCORER_RNG}

BASELINE = os.environ.get("RAYSWEEP_UPSTREAM", "").lower() == "sklearn"

_TMP = tempfile.mkdtemp(prefix="raysweep-sklearn-upstream-")
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)


def upstream_path(filename: str) -> Path:
    """The installed scikit-learn's copy of ``sklearn/model_selection/tests/<filename>``."""
    return Path(sklearn.__file__).parent / "model_selection" / "tests" / filename


def rebind(source: str, names: tuple[str, ...]) -> str:
    """``source`` with ``from raysweep.sklearn import <names>`` added right after the
    statement that imports them from ``sklearn.model_selection`` (no other line changes)."""
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "sklearn.model_selection" \
                and set(names) <= {alias.asname or alias.name for alias in node.names}:
            lines = source.splitlines(keepends=True)
            line = f"from raysweep.sklearn import {', '.join(names)}  # raysweep harness\n"
            return "".join(lines[:node.end_lineno] + [line] + lines[node.end_lineno:])
    raise RuntimeError(f"no 'from sklearn.model_selection import {names}' statement found: "
                       "the upstream file changed shape; update the harness")


def load(filename: str) -> ModuleType:
    """Import the (rebound) copy of an upstream test file from the temporary directory."""
    source = upstream_path(filename).read_text(encoding="utf-8")
    if not BASELINE:
        source = rebind(source, REBOUND[filename])
    module_name = f"sklearn_upstream_{Path(filename).stem}"
    path = Path(_TMP) / f"{module_name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def collected_from(module: ModuleType) -> dict[str, Any]:
    """What pytest collects from ``module``: its test functions and classes and its fixtures."""
    out = {}
    for name, value in vars(module).items():
        is_fixture = hasattr(value, "_fixture_function_marker") or \
            type(value).__name__ == "FixtureFunctionDefinition"
        if name.startswith(("test_", "Test")) or is_fixture:
            out[name] = value
    return out


def exclusion_reason(filename: str, nodeid_tail: str) -> str | None:
    """The reason an upstream test is excluded (by name with its parameters, or by name)."""
    base = nodeid_tail.split("[", 1)[0]
    return EXCLUDED.get(f"{filename}::{nodeid_tail}") or EXCLUDED.get(f"{filename}::{base}")
