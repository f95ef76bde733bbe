"""raysweep._pareto against brute force on random sets (hypothesis), plus fixed cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raysweep._pareto import (
    constrained_ranks,
    crowding_distance,
    dominates,
    hypervolume,
    hypervolume_contributions,
    nondominated_ranks,
    priority_order,
)


def brute_ranks(F):
    F = np.asarray(F, dtype=float)
    ranks = np.zeros(len(F), dtype=int)
    left = set(range(len(F)))
    rank = 1
    while left:
        front = {i for i in left if not any(dominates(F[j], F[i]) for j in left if j != i)}
        for i in front:
            ranks[i] = rank
        left -= front
        rank += 1
    return ranks


def brute_hv(F, ref):
    """Exact union volume on the grid of all coordinates."""
    F = np.asarray(F, dtype=float)
    F = F[np.all(F < ref, axis=1)]
    if len(F) == 0:
        return 0.0
    m = F.shape[1]
    axes = [np.unique(np.append(F[:, j], ref[j])) for j in range(m)]
    volume = 0.0
    for cell in itertools.product(*[range(len(a) - 1) for a in axes]):
        low = np.array([axes[j][c] for j, c in enumerate(cell)])
        if np.any(np.all(F <= low, axis=1)):
            volume += math.prod(axes[j][c + 1] - axes[j][c] for j, c in enumerate(cell))
    return volume


# small integer grids make ties and duplicates common
def point_sets(m, max_n=40, high=6):
    return st.lists(st.lists(st.integers(0, high), min_size=m, max_size=m),
                    min_size=0, max_size=max_n)


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_nondominated_ranks_match_brute_force(m, data):
    F = np.array(data.draw(point_sets(m)), dtype=float).reshape(-1, m)
    assert nondominated_ranks(F).tolist() == brute_ranks(F).tolist()


def test_large_sets_take_the_sweeps_and_match_brute_force():
    rng = np.random.default_rng(2)
    for m in (2, 3, 4, 5):
        F = rng.integers(0, 8, (150, m)).astype(float)  # many ties and duplicates
        assert nondominated_ranks(F).tolist() == brute_ranks(F).tolist()


@pytest.mark.parametrize("m", [2, 3])
def test_nondominated_ranks_on_continuous_random_sets(m):
    rng = np.random.default_rng(0)
    for n in (1, 2, 50, 300):
        F = rng.random((n, m))
        F[: n // 5] = F[n // 5: 2 * (n // 5)]  # duplicates
        assert nondominated_ranks(F).tolist() == brute_ranks(F).tolist()


def test_ranks_with_infinities():
    F = [[1, np.inf], [np.inf, 1], [1, 1], [np.inf, np.inf]]
    assert nondominated_ranks(F).tolist() == [2, 2, 1, 3]


@pytest.mark.parametrize("m", [2, 3, 4])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_hypervolume_matches_brute_force(m, data):
    F = np.array(data.draw(point_sets(m, max_n=8 if m == 4 else 15)), dtype=float)
    F = F.reshape(-1, m)
    ref = np.full(m, 5.5)
    assert hypervolume(F, ref) == pytest.approx(brute_hv(F, ref), abs=1e-9)


def test_hypervolume_continuous_3d():
    rng = np.random.default_rng(1)
    F = rng.random((12, 3))
    ref = np.array([1.1, 1.2, 1.3])
    assert hypervolume(F, ref) == pytest.approx(brute_hv(F, ref))


def test_hypervolume_known_values():
    assert hypervolume([[1, 1]], [2, 3]) == 2.0
    assert hypervolume([[0, 2], [1, 1], [2, 0]], [3, 3]) == 6.0
    assert hypervolume(np.zeros((0, 3)), [1, 1, 1]) == 0.0
    assert hypervolume([[2, 0]], [1, 1]) == 0.0  # outside the reference
    # the spherical front of DTLZ2: 1 - pi/6 of the unit cube is dominated
    rng = np.random.default_rng(0)
    x = np.abs(rng.normal(size=(20000, 3)))
    front = x / np.linalg.norm(x, axis=1, keepdims=True)
    assert hypervolume(front, [1, 1, 1]) == pytest.approx(1 - math.pi / 6, abs=0.01)


@pytest.mark.parametrize("m", [2, 3])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_contributions_are_the_volume_lost_without_the_point(m, data):
    F = np.array(data.draw(point_sets(m, max_n=10)), dtype=float).reshape(-1, m)
    ref = np.full(m, 6.5)
    total = brute_hv(F, ref)
    expected = [total - brute_hv(np.delete(F, i, axis=0), ref) for i in range(len(F))]
    assert hypervolume_contributions(F, ref) == pytest.approx(expected, abs=1e-9)


def test_crowding_distance():
    F = np.array([[0.0, 4.0], [1.0, 2.0], [2.0, 1.0], [4.0, 0.0]])
    d = crowding_distance(F)
    assert np.isinf(d[0]) and np.isinf(d[3])
    assert d[1] == pytest.approx(2 / 4 + 3 / 4) and d[2] == pytest.approx(3 / 4 + 2 / 4)
    assert np.isinf(crowding_distance([[1, 2], [2, 1]])).all()
    assert crowding_distance(np.zeros((0, 2))).shape == (0,)


def test_constrained_ranks():
    F = [[1, 1], [0, 0], [2, 2], [5, 0], [0, 5], [np.inf, 0]]
    violation = [0, 1.0, 0, 0.5, np.nan, 0]
    # feasible: [1,1] rank 1, [2,2] rank 2; infeasible by violation: 0.5, 1.0, then NaN/inf
    assert constrained_ranks(F, violation).tolist() == [1, 4, 2, 3, 5, 5]
    assert constrained_ranks([[1, 2]], [2.0]).tolist() == [1]  # only infeasible ones


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_constraint_dominance_matches_brute_force(data):
    F = np.array(data.draw(point_sets(2, max_n=20)), dtype=float).reshape(-1, 2)
    violation = np.array(data.draw(st.lists(st.sampled_from([0.0, 0.0, 0.5, 1.0]),
                                            min_size=len(F), max_size=len(F))))

    def cdom(i, j):
        if violation[i] == 0 and violation[j] > 0:
            return True
        if violation[i] > 0:
            return violation[i] < violation[j]
        return violation[j] == 0 and dominates(F[i], F[j])

    ranks = constrained_ranks(F, violation)
    for i, j in itertools.permutations(range(len(F)), 2):
        if cdom(i, j):
            assert ranks[i] < ranks[j]
    # each point of rank r > 1 is dominated by one of rank r - 1
    for i in range(len(F)):
        if ranks[i] > 1:
            assert any(cdom(j, i) for j in range(len(F)) if ranks[j] == ranks[i] - 1)


@pytest.mark.parametrize("tie_break", ["epsilon_net", "hypervolume"])
def test_priority_order(tie_break):
    F = np.array([[3.0, 3.0], [0.0, 4.0], [2.0, 2.0], [4.0, 0.0], [1.0, 3.0], [9.0, 9.0]])
    order = priority_order(F, [0, 0, 0, 0, 0, 1.0], tie_break=tie_break)
    assert sorted(order.tolist()) == list(range(6))
    assert set(order[:4].tolist()) == {1, 2, 3, 4}  # the front first
    assert order[4] == 0 and order[5] == 5            # then rank 2, then the infeasible one
    if tie_break == "epsilon_net":
        assert order[0] == 1 and order[1] == 3  # best of objective 1, then the farthest


def test_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        nondominated_ranks([[np.nan, 1.0]])
    with pytest.raises(ValueError, match="2-D"):
        nondominated_ranks([1.0, 2.0])
    with pytest.raises(ValueError, match="reference"):
        hypervolume([[1.0, 2.0]], [1.0])
    with pytest.raises(ValueError, match="tie_break"):
        priority_order([[1.0, 2.0]], tie_break="crowding")
