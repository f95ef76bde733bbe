"""Where the model-based searchers put their points: TPE's kernel-width floor and the GP's
prior mean that keeps expected improvement out of the corners of the cube (issue 18)."""

from __future__ import annotations

import numpy as np
import pytest

from raysweep.search._common import Layout
from raysweep.search.gp import GP, _Bowl
from raysweep.search.tpe import _Parzen, min_width
from raysweep.space import Space, uniform


# -- TPE ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_points, n_numeric, expected", [
    (98, 1, 0.25 / 100), (98, 2, 0.25 / 100),      # low dims: a quarter of the magic clip
    (98, 3, 9 / 16 / 100),                          # between
    (98, 4, 1 / 100), (98, 10, 1 / 100),            # Optuna's magic clip from four dims on
    (8, 10, 1 / 10), (500, 5, 1 / 100),             # 1 / min(100, n + 2)
])
def test_tpe_min_width_grows_with_the_dims_modelled_together(n_points, n_numeric, expected):
    assert min_width(n_points, n_numeric) == pytest.approx(expected)


def test_tpe_kernels_are_never_narrower_than_the_floor():
    space = Space({f"x{i}": uniform(0, 1) for i in range(5)})
    layout = Layout(space, "TPE")
    rng = np.random.default_rng(0)
    U = 0.5 + 1e-4 * rng.standard_normal((30, 5))   # a tight cluster: tiny neighbour gaps
    parzen = _Parzen(U, list(range(5)), layout, prior_weight=1.0, bandwidth=1.0)
    assert parzen.sigma[:-1].min() == pytest.approx(min_width(30, 5))
    assert parzen.sigma[-1].tolist() == [1.0] * 5   # the prior spans the cube


# -- GP ----------------------------------------------------------------------------------------
def test_bowl_recovers_a_quadratic_and_stays_flat_otherwise():
    rng = np.random.default_rng(1)
    X = rng.random((40, 3))
    centre = X[7]
    y = 0.5 + 2.0 * ((X - centre) ** 2).sum(axis=1)
    bowl = _Bowl.fit(X, y)
    np.testing.assert_allclose(bowl.centre, centre)
    assert bowl.a == pytest.approx(2.0) and bowl.c == pytest.approx(0.5)
    np.testing.assert_allclose(bowl(X), y)
    eps = 1e-6
    step = np.zeros((1, 3))
    step[0, 1] = eps
    numeric = (bowl(X[:1] + step) - bowl(X[:1] - step)) / (2 * eps)
    assert bowl.gradient(X[:1])[0, 1] == pytest.approx(numeric[0], rel=1e-5)
    # losses that fall (apart from the best point itself) with the distance to the best
    # point: no bowl, the constant (zero) mean
    falling = -((X - centre) ** 2).sum(axis=1)
    falling[7] = falling.min() - 0.01
    flat = _Bowl.fit(X, falling)
    assert flat.a == 0.0 and flat.c == 0.0 and np.all(flat(X) == 0.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gp_proposes_no_bound_points_on_a_smooth_interior_optimum(seed):
    # before the bowl prior mean, 2 of these 30 model-based points were on a bound per seed
    space = Space({"x0": uniform(-5, 5), "x1": uniform(-5, 5)})
    optimum = np.array([-2.0, 2.0])
    searcher = GP(n_startup_trials=10)
    searcher.setup(space, "loss", "min", seed)
    on_bound = 0
    for i in range(40):
        config = searcher.suggest(f"t{i}")
        x = np.array([config["x0"], config["x1"]])
        if i >= 10:
            on_bound += int(np.any(np.abs(x) >= 5 - 1e-9))
        searcher.observe(f"t{i}", {"loss": float(((x - optimum) ** 2).sum())}, final=True)
    assert on_bound == 0

