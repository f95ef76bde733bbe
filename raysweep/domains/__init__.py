"""Domains: what one search-space parameter is drawn from.

Users build them with the constructors (``uniform``, ``randint``, ``choice``, ...), re-exported
from ``raysweep.space`` and ``raysweep``. Every domain maps its values to and from the unit
interval, which is how model-based searchers (TPE, GP, PSO, Sobol) see it:

* ``sample(rng)`` is distributed as ``from_unit(U)`` with ``U ~ Uniform[0, 1)``, so a searcher
  that proposes uniform unit coordinates reproduces the prior exactly.
* ``from_unit(to_unit(v)) == v`` for every value ``v`` the domain produces. Discrete values
  (integers, multiples of ``q``, categories) own an interval of the unit line and ``to_unit``
  returns its midpoint; continuous values are inverted exactly by a short bisection.
* Values are plain Python objects (``float``, ``int``, ``str``, ...), never numpy scalars.
"""

from __future__ import annotations

from raysweep.domains._base import Domain
from raysweep.domains._categorical import Categorical, Fixed, Grid
from raysweep.domains._constructors import (
    choice,
    fixed,
    grid,
    lograndint,
    loguniform,
    normal,
    qloguniform,
    qrandint,
    quniform,
    randint,
    uniform,
)
from raysweep.domains._json import _jsonable  # noqa: F401 (raysweep.space uses it)
from raysweep.domains._numeric import Float, Int, Normal
from raysweep.domains._scipy import ScipyDist, is_scipy_dist
from raysweep.domains._util import _fresh, _plain, _same, _short  # noqa: F401 (and these)

__all__ = [
    "Categorical",
    "Domain",
    "Fixed",
    "Float",
    "Grid",
    "Int",
    "Normal",
    "ScipyDist",
    "choice",
    "fixed",
    "grid",
    "is_scipy_dist",
    "lograndint",
    "loguniform",
    "normal",
    "qloguniform",
    "qrandint",
    "quniform",
    "randint",
    "uniform",
]

# their public name is their home: docs, reprs and pickles say raysweep.domains.X
for _public in (Categorical, Domain, Fixed, Float, Grid, Int, Normal, ScipyDist, choice, fixed,
                grid, is_scipy_dist, lograndint, loguniform, normal, qloguniform, qrandint,
                quniform, randint, uniform):
    _public.__module__ = __name__
del _public
