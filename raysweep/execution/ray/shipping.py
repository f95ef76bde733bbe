"""Code shipping: user modules that workers may not be able to import travel by value."""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from typing import Any

import cloudpickle
import ray


def _is_local_source(module_name: str) -> bool:
    """True for modules that live outside site-packages (scripts, test files)."""
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    if not path or module_name.split(".")[0] in ("raysweep",):
        return False
    path = os.path.realpath(path)
    roots = {os.path.realpath(p) for p in site.getsitepackages() + [site.getusersitepackages()]}
    roots.add(os.path.realpath(sysconfig.get_paths()["stdlib"]))
    return not any(path.startswith(root + os.sep) for root in roots)


def _ship_code_by_value(obj: Any) -> None:
    """Make both picklers (ours and Ray's) ship the code of ``obj``'s module by value when it
    is a user module (a script, a test file) that worker processes may not be able to import."""
    module_name = getattr(obj, "__module__", None)
    if module_name and module_name != "__main__" and _is_local_source(module_name):
        register_by_value(module_name)


def register_by_value(module_name: str) -> None:
    """Pickle the code of module ``module_name`` by value, with our pickler and Ray's."""
    module = sys.modules[module_name]
    cloudpickle.register_pickle_by_value(module)
    ray.cloudpickle.register_pickle_by_value(module)


def _dumps_by_value(obj: Any) -> bytes:
    """Pickle ``obj``, shipping the code of user modules by value (workers may not have them)."""
    _ship_code_by_value(obj)
    return cloudpickle.dumps(obj)
