"""Pareto arithmetic on arrays of losses (every objective minimised): non-dominated sorting,
crowding distance, hypervolume, constraint-dominance and a tie-break for ranking a rung.

Everything takes an ``(n, m)`` float array ``F`` of losses (``Goal`` turns results into
losses: ``sign * value``, ``inf`` when missing); NaN is not a loss and is refused. Ranks are
1-based: rank 1 is the non-dominated front. ``a`` dominates ``b`` when ``a <= b`` in every
objective and ``a < b`` in at least one; equal points do not dominate each other and share
a rank.

Algorithms (written here because none of our dependencies has them: scipy and scikit-learn
do not sort fronts, and pulling in pymoo or botorch for ~300 lines is not worth it):

- sorting, 2 objectives: one sweep in lexicographic order, each point placed by binary search
  over the fronts' last second-objective values: O(n log n);
- sorting, 3 objectives: the same sweep, each front kept as a 2-D staircase (its minimal
  points in the last two objectives), a point's front found by binary search over the fronts
  with an O(log n) dominance query per front: O(n log^2 n) plus list insertions;
- sorting, 4+ objectives: efficient non-dominated sort with binary search (ENS-BS, Zhang et
  al. 2015), dominance checks vectorised per front: O(m n^2) in the worst case;
- hypervolume, 2-D: a sort and a sweep, O(n log n); 3-D: a sweep along the third objective
  keeping the 2-D staircase and its area up to date (Beume et al. 2009), O(n log n) plus list
  insertions; 4+ objectives: exact, by slicing along the last objective down to the 3-D
  algorithm (HSO), O(n^(m-2) n log n): fine for hundreds of points, not for thousands;
- crowding distance (Deb et al. 2002), hypervolume contributions, and an epsilon-net order
  (farthest-point traversal of a front in normalised loss space, as MO-ASHA's tie-break).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

import numpy as np

__all__ = ["constrained_ranks", "crowding_distance", "dominates", "hypervolume",
           "hypervolume_contributions", "nondominated_ranks", "priority_order"]


def _losses(F: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    F = np.asarray(F, dtype=float)
    if F.ndim != 2:
        raise ValueError(f"losses must be a 2-D array (points x objectives), got shape "
                         f"{F.shape}")
    if np.isnan(F).any():
        raise ValueError("losses must not be NaN (a missing value is an infinite loss)")
    return F


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether loss vector ``a`` Pareto-dominates ``b`` (all <=, one <)."""
    a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.all(a_ <= b_) and np.any(a_ < b_))


# -- non-dominated sorting ---------------------------------------------------------------------
def nondominated_ranks(F: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Rank of every point (1 = not dominated by any other; rank k+1 = dominated only by
    points of ranks <= k), as an int array of length n."""
    F = _losses(F)
    n, m = F.shape
    if n == 0:
        return np.zeros(0, dtype=int)
    if m == 1:  # one objective: the rank is the position among the distinct values
        return np.unique(F[:, 0], return_inverse=True)[1].astype(int) + 1
    if n <= 64:  # small sets (a population, a rung): peel fronts off a dominance matrix
        return _ranks_small(F)
    # equal points share a rank: sort the distinct ones lexicographically, map back after
    order = np.lexsort(F.T[::-1])  # rows in lexicographic order
    ordered = F[order]
    new = np.concatenate([[True], np.any(ordered[1:] != ordered[:-1], axis=1)])
    unique = ordered[new]
    inverse = np.empty(n, dtype=int)
    inverse[order] = np.cumsum(new) - 1
    if m == 2:
        ranks = _ranks_2d(unique)
    elif m == 3:
        ranks = _ranks_3d(unique)
    else:
        ranks = _ranks_ens(unique)
    return ranks[inverse]


def _ranks_small(F: np.ndarray) -> np.ndarray:
    le = np.all(F[:, None, :] <= F[None, :, :], axis=2)
    lt = np.any(F[:, None, :] < F[None, :, :], axis=2)
    dominated_by = (le & lt).T  # [i, j]: j dominates i
    ranks = np.zeros(len(F), dtype=int)
    rank = 0
    while (ranks == 0).any():
        rank += 1
        left = ranks == 0
        front = left & ~np.any(dominated_by & left[None, :], axis=1)
        ranks[front] = rank
    return ranks


def _ranks_2d(U: np.ndarray) -> np.ndarray:
    # U: distinct rows in lexicographic order. A point is dominated by front k exactly when
    # that front's smallest second objective so far is <= its own (every earlier point has a
    # first objective <=, and distinctness makes one comparison strict).
    tails: list[float] = []
    ranks = np.empty(len(U), dtype=int)
    for i, y in enumerate(U[:, 1].tolist()):
        k = bisect_right(tails, y)
        if k == len(tails):
            tails.append(y)
        else:
            tails[k] = y
        ranks[i] = k + 1
    return ranks


class _Staircase:
    """The minimal points of a 2-D set (x ascending, y strictly descending)."""

    __slots__ = ("xs", "ys")

    def __init__(self) -> None:
        self.xs: list[float] = []
        self.ys: list[float] = []

    def dominates(self, x: float, y: float) -> bool:
        """Whether some point of the set is <= (x, y) in both coordinates."""
        k = bisect_right(self.xs, x) - 1
        return k >= 0 and self.ys[k] <= y

    def add(self, x: float, y: float) -> None:
        """Add (x, y), known not to be weakly dominated; drop the points it dominates."""
        k = bisect_left(self.xs, x)
        end = k
        while end < len(self.xs) and self.ys[end] >= y:
            end += 1
        self.xs[k:end] = [x]
        self.ys[k:end] = [y]


def _ranks_3d(U: np.ndarray) -> np.ndarray:
    # sweep in lexicographic order: every earlier point has a first objective <=, so being
    # dominated by front k is a 2-D question on (f2, f3) against front k's staircase;
    # dominated by front k+1 implies dominated by front k, so the fronts are bisected
    fronts: list[_Staircase] = []
    ranks = np.empty(len(U), dtype=int)
    for i, (y, z) in enumerate(U[:, 1:].tolist()):
        lo, hi = 0, len(fronts)
        while lo < hi:  # first front that does not dominate (y, z)
            mid = (lo + hi) // 2
            if fronts[mid].dominates(y, z):
                lo = mid + 1
            else:
                hi = mid
        if lo == len(fronts):
            fronts.append(_Staircase())
        fronts[lo].add(y, z)
        ranks[i] = lo + 1
    return ranks


def _ranks_ens(U: np.ndarray) -> np.ndarray:
    # ENS-BS: lexicographic order means no later point dominates an earlier one; a point
    # joins the first front none of whose members dominates it (fronts bisected)
    fronts: list[list[int]] = []
    ranks = np.empty(len(U), dtype=int)

    def dominated_by(front: list[int], p: np.ndarray) -> bool:
        members = U[front]
        return bool(np.any(np.all(members <= p, axis=1) & np.any(members < p, axis=1)))

    for i in range(len(U)):
        lo, hi = 0, len(fronts)
        while lo < hi:
            mid = (lo + hi) // 2
            if dominated_by(fronts[mid], U[i]):
                lo = mid + 1
            else:
                hi = mid
        if lo == len(fronts):
            fronts.append([])
        fronts[lo].append(i)
        ranks[i] = lo + 1
    return ranks


def constrained_ranks(F: np.ndarray | Sequence[Sequence[float]],
                      violation: np.ndarray | Sequence[float]) -> np.ndarray:
    """Ranks under constraint-dominance (Deb 2000): a feasible point (violation 0, every
    loss finite) beats an infeasible one; feasible points are ranked by non-dominated
    sorting; infeasible ones come after all of them, by their total violation (equal
    violations share a rank). A point with a non-finite loss or a NaN violation counts as
    infeasible with an infinite violation."""
    F = _losses(F)
    v: np.ndarray = np.asarray(violation, dtype=float).copy()
    if v.shape != (len(F),):
        raise ValueError(f"violation must have one value per point ({len(F)}), got shape "
                         f"{v.shape}")
    v[np.isnan(v) | ~np.all(np.isfinite(F), axis=1)] = np.inf
    v = np.maximum(v, 0.0)
    feasible: np.ndarray = np.asarray(v == 0)
    ranks = np.empty(len(F), dtype=int)
    ranks[feasible] = nondominated_ranks(F[feasible])
    top = int(ranks[feasible].max()) if feasible.any() else 0
    if (~feasible).any():
        ranks[~feasible] = top + 1 + np.unique(v[~feasible], return_inverse=True)[1]
    return ranks


# -- crowding ------------------------------------------------------------------------------------
def crowding_distance(F: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Crowding distance of every point of one front (Deb et al. 2002): the sum over
    objectives of the normalised gap between its neighbours; ``inf`` at the extremes of
    each objective (and for every point when there are at most two). Non-finite losses
    are treated as extremes."""
    F = _losses(F)
    n, m = F.shape
    distance = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(m):
        order = np.argsort(F[:, j], kind="stable")
        values = F[order, j]
        span = values[-1] - values[0]
        distance[order[0]] = distance[order[-1]] = np.inf
        if not np.isfinite(span) or span <= 0:
            continue
        distance[order[1:-1]] += (values[2:] - values[:-2]) / span
    return distance


# -- hypervolume ---------------------------------------------------------------------------------
def hypervolume(F: np.ndarray | Sequence[Sequence[float]],
                reference: np.ndarray | Sequence[float]) -> float:
    """The volume dominated by the points and bounded by ``reference`` (points not strictly
    better than the reference in every objective add nothing). Exact in every dimension;
    see the module for the cost beyond 3 objectives."""
    F = _losses(F)
    ref = np.asarray(reference, dtype=float)
    if ref.shape != (F.shape[1],) or not np.all(np.isfinite(ref)):
        raise ValueError(f"reference must be {F.shape[1]} finite numbers, got {reference!r}")
    F = F[np.all(F < ref, axis=1)]
    if len(F) == 0:
        return 0.0
    return _hv(F, ref)


def _hv(F: np.ndarray, ref: np.ndarray) -> float:
    m = F.shape[1]
    if m == 1:
        return float(ref[0] - F[:, 0].min())
    if m == 2:
        return _hv2(F, ref)
    if m == 3:
        return _hv3(F, ref)
    # slice along the last objective: between consecutive levels, the (m-1)-D volume of
    # the points at or below the level
    order = np.argsort(F[:, -1], kind="stable")
    F = F[order]
    volume = 0.0
    levels = np.append(F[:, -1], ref[-1])
    for i in range(len(F)):
        height = levels[i + 1] - levels[i]
        if height > 0:
            below = F[: i + 1, :-1]
            below = below[nondominated_ranks(below) == 1]
            volume += _hv(below, ref[:-1]) * height
    return float(volume)


def _hv2(F: np.ndarray, ref: np.ndarray) -> float:
    order = np.lexsort((F[:, 1], F[:, 0]))
    xs, ys = F[order, 0], F[order, 1]
    best_y = np.minimum.accumulate(ys)  # the staircase height after each point
    # each point whose y improves on every point before it opens a new step
    steps = np.flatnonzero(np.concatenate([[True], best_y[1:] < best_y[:-1]]))
    x, y = xs[steps], best_y[steps]
    widths = np.append(x[1:], ref[0]) - x
    return float(np.sum(widths * (ref[1] - y)))


def _hv3(F: np.ndarray, ref: np.ndarray) -> float:
    # sweep along f3; keep the 2-D staircase of (f1, f2) seen so far and its area
    order = np.lexsort((F[:, 1], F[:, 0], F[:, 2]))
    pts = F[order].tolist()
    xs: list[float] = []
    ys: list[float] = []
    r1, r2 = float(ref[0]), float(ref[1])
    area, volume = 0.0, 0.0
    for i, (x, y, z) in enumerate(pts):
        k = bisect_right(xs, x) - 1
        if not (k >= 0 and ys[k] <= y):  # not dominated in (f1, f2): it adds area
            start = bisect_left(xs, x)
            end = start
            while end < len(xs) and ys[end] >= y:  # the points it now dominates
                end += 1
            # the area over [x, right_x) before (left of the first removed step: the height
            # under left_y; then each removed step) and after (height r2 - y)
            left_y = ys[start - 1] if start > 0 else r2
            right_x = xs[end] if end < len(xs) else r1
            edges = [x, *xs[start:end], right_x]
            heights = [r2 - left_y, *[r2 - v for v in ys[start:end]]]
            before = sum((edges[j + 1] - edges[j]) * heights[j] for j in range(len(heights)))
            gained = (right_x - x) * (r2 - y) - before
            area += gained
            xs[start:end] = [x]
            ys[start:end] = [y]
        next_z = pts[i + 1][2] if i + 1 < len(pts) else float(ref[2])
        volume += area * (next_z - z)
    return float(volume)


def hypervolume_contributions(F: np.ndarray | Sequence[Sequence[float]],
                              reference: np.ndarray | Sequence[float]) -> np.ndarray:
    """The volume each point alone dominates (the hypervolume lost without it); 0 for
    dominated points, duplicates and points outside the reference."""
    F = _losses(F)
    ref = np.asarray(reference, dtype=float)
    n = len(F)
    total = hypervolume(F, ref)
    out = np.zeros(n)
    if n == 0:
        return out
    inside = np.all(F < ref, axis=1)
    if F.shape[1] == 2 and inside.all() and len(np.unique(F, axis=0)) == n \
            and (nondominated_ranks(F) == 1).all():
        # mutually non-dominated distinct points: closed form with the staircase neighbours
        order = np.argsort(F[:, 0], kind="stable")
        xs, ys = F[order, 0], F[order, 1]
        right = np.append(xs[1:], ref[0])
        above = np.insert(ys[:-1], 0, ref[1])
        out[order] = (right - xs) * (above - ys)
        return out
    for i in range(n):
        out[i] = total - hypervolume(np.delete(F, i, axis=0), ref)
    return np.maximum(out, 0.0)


# -- ranking a rung ------------------------------------------------------------------------------
def priority_order(F: np.ndarray | Sequence[Sequence[float]],
                   violation: np.ndarray | Sequence[float] | None = None, *,
                   tie_break: str = "epsilon_net") -> np.ndarray:
    """Indices of the points, best first: by constraint-dominance rank, then within a rank
    by ``tie_break``:

    - ``"epsilon_net"``: a farthest-point traversal of the rank in losses normalised to
      [0, 1] over all finite points: first the best point of the first objective, then
      repeatedly the point farthest from those already taken (spread over the front, as in
      MO-ASHA);
    - ``"hypervolume"``: largest hypervolume contribution first (reference: the worst
      finite loss of each objective plus 10% of its range, plus 1 when the range is 0).

    Remaining ties keep the lower index. Used to rank a rung of several-metric results.
    """
    F = _losses(F)
    n = len(F)
    if tie_break not in ("epsilon_net", "hypervolume"):
        raise ValueError(f"tie_break must be 'epsilon_net' or 'hypervolume', got "
                         f"{tie_break!r}")
    if violation is None:
        violation = np.zeros(n)
    ranks = constrained_ranks(F, violation)
    finite = np.all(np.isfinite(F), axis=1)
    lo = F[finite].min(axis=0) if finite.any() else np.zeros(F.shape[1])
    hi = F[finite].max(axis=0) if finite.any() else np.ones(F.shape[1])
    span = np.where(hi > lo, hi - lo, 1.0)
    order: list[int] = []
    for rank in np.unique(ranks):
        members = np.flatnonzero(ranks == rank)
        if len(members) == 1 or not finite[members].all():
            order.extend(members.tolist())
            continue
        if tie_break == "hypervolume":
            reference = hi + 0.1 * span
            contrib = hypervolume_contributions(F[members], reference)
            order.extend(members[np.argsort(-contrib, kind="stable")].tolist())
        else:
            order.extend(_epsilon_net(((F[members] - lo) / span), members))
    return np.asarray(order, dtype=int)


def _epsilon_net(G: np.ndarray, members: np.ndarray) -> list[int]:
    first = int(np.lexsort(G.T[::-1])[0])  # best in the first objective (then the others)
    taken = [first]
    gap = np.linalg.norm(G - G[first], axis=1)
    gap[first] = -1.0
    for _ in range(len(G) - 1):
        nxt = int(np.argmax(gap))  # ties: the lower index
        taken.append(nxt)
        gap = np.minimum(gap, np.linalg.norm(G - G[nxt], axis=1))
        gap[taken] = -1.0
    return members[taken].tolist()
