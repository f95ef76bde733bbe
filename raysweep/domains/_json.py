"""A stable, plain-JSON description of any value a space holds (how spaces are compared
on resume)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from raysweep.domains._base import Domain
from raysweep.domains._scipy import ScipyDist, is_scipy_dist
from raysweep.domains._util import _plain


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
