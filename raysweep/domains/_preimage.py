"""Exact inversion of a monotone map from the unit interval: bisection over the float
lattice (the ordinal of a float is its bit pattern as an integer)."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from raysweep.domains._util import _clip_unit

_ORD = struct.Struct("<q")
_DBL = struct.Struct("<d")


def _ordinal(u: float) -> int:
    return _ORD.unpack(_DBL.pack(u))[0]


def _from_ordinal(i: int) -> float:
    return _DBL.unpack(_ORD.pack(i))[0]


_ORDINAL_ONE = _ordinal(1.0)


def _unit_preimage(forward: Callable[[float], Any], value: Any, guess: float) -> float:
    """A ``u`` in [0, 1] with ``forward(u) == value``, or ``guess`` clipped when there is none.

    ``forward`` must be non-decreasing; ``guess`` is a few float steps from the answer in
    practice, and the exponential search plus bisection costs O(log distance) calls.
    """
    g = _clip_unit(guess) + 0.0  # turns -0.0 into 0.0
    y = forward(g)
    if y == value:
        return g
    start = _ordinal(g)
    step = 1
    if y < value:  # search upwards for the first u with forward(u) >= value
        lo = start
        while True:
            hi = min(start + step, _ORDINAL_ONE)
            if forward(_from_ordinal(hi)) >= value:
                break
            if hi == _ORDINAL_ONE:
                return g
            lo, step = hi, step * 2
    else:  # search downwards for a u with forward(u) < value
        hi = start
        while True:
            lo = max(start - step, 0)
            below = forward(_from_ordinal(lo))
            if below < value:
                break
            if lo == 0:
                return 0.0 if below == value else g
            hi, step = lo, step * 2
    while hi - lo > 1:  # invariant: forward(lo) < value <= forward(hi)
        mid = (lo + hi) // 2
        if forward(_from_ordinal(mid)) >= value:
            hi = mid
        else:
            lo = mid
    u = _from_ordinal(hi)
    if forward(u) == value:
        return u
    # forward is only monotone up to rounding (e.g. a rational approximation of an inverse
    # CDF): look around the two candidates before giving up.
    for centre in (hi, start):
        for offset in range(1, 33):
            for i in (centre - offset, centre + offset):
                if 0 <= i <= _ORDINAL_ONE and forward(_from_ordinal(i)) == value:
                    return _from_ordinal(i)
    return g
