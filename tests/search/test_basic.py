"""Grid, random and Sobol search."""

from __future__ import annotations

import itertools
import json
import time
import warnings

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from raysweep.search import FINISHED, make_searcher
from raysweep.search.basic import Grid, Random, Sobol
from raysweep.space import Space, choice, flatten, grid, loguniform, randint, uniform

SPACE = {
    "lr": loguniform(1e-4, 1e-1),
    "layers": [1, 2, 3],
    "gamma": scipy.stats.expon(scale=10),
    "model": choice([{"type": "knn", "k": randint(1, 30)}, {"type": "svm", "C": uniform(0, 1)}]),
    "seed": 0,
}
SEARCHERS = [Grid, Random, Sobol]


def started(searcher_cls, spec=SPACE, seed=0, num_samples=None, **kwargs):
    searcher = searcher_cls(**kwargs)
    searcher.setup(Space(spec), "loss", "min", seed, num_samples)
    return searcher


def suggestions(searcher, n):
    return [searcher.suggest(f"t{i:05d}") for i in range(n)]


def key(config):
    return json.dumps(config, sort_keys=True)


# -- contract shared by the three ------------------------------------------------------------
@pytest.mark.parametrize("searcher_cls", SEARCHERS)
def test_configs_belong_to_the_space_and_are_reproducible(searcher_cls):
    space = Space(SPACE)
    configs = suggestions(started(searcher_cls, seed=5, num_samples=30), 30)
    assert all(space.contains(c) for c in configs)
    assert configs == suggestions(started(searcher_cls, seed=5, num_samples=30), 30)
    assert configs != suggestions(started(searcher_cls, seed=6, num_samples=30), 30)
    assert len({key(c) for c in configs}) == 30  # continuous dims: all distinct


@pytest.mark.parametrize("searcher_cls", SEARCHERS)
def test_registry_names(searcher_cls):
    searcher = make_searcher(searcher_cls.name)
    assert type(searcher) is searcher_cls


@pytest.mark.parametrize("searcher_cls", SEARCHERS)
def test_points_to_evaluate_come_first_and_are_completed(searcher_cls):
    searcher = started(searcher_cls, points_to_evaluate=[{"lr": 0.01, "model": {"type": "svm"}}])
    first = searcher.suggest("t0")
    assert first["lr"] == 0.01 and first["model"]["type"] == "svm"
    assert Space(SPACE).contains(first)
    assert Space(SPACE).contains(searcher.suggest("t1"))


@pytest.mark.parametrize("searcher_cls", SEARCHERS)
def test_max_concurrent_holds_back_until_a_trial_ends(searcher_cls):
    searcher = started(searcher_cls, num_samples=10, max_concurrent=2)
    assert isinstance(searcher.suggest("a"), dict) and isinstance(searcher.suggest("b"), dict)
    assert searcher.suggest("c") is None
    searcher.observe("a", {"loss": 1.0}, final=True)
    assert isinstance(searcher.suggest("c"), dict)


@pytest.mark.parametrize("searcher_cls", SEARCHERS)
def test_all_fixed_space(searcher_cls):
    searcher = started(searcher_cls, spec={"a": 1, "b": {"c": "x"}})
    assert searcher.suggest("t0") == {"a": 1, "b": {"c": "x"}}


# -- grid ------------------------------------------------------------------------------------
GRID_SPACE = {"lr": grid([0.1, 0.01, 0.001]), "bs": grid([32, 64]), "x": uniform(0, 1)}


def test_grid_one_pass_in_order_then_finished():
    searcher = started(Grid, spec=GRID_SPACE)
    assert searcher.supports_grid and not Random.supports_grid
    configs = suggestions(searcher, 6)
    assert [(c["lr"], c["bs"]) for c in configs] == list(
        itertools.product([0.1, 0.01, 0.001], [32, 64]))
    assert len({c["x"] for c in configs}) == 6  # non-grid domains are sampled
    assert searcher.suggest("t6") is FINISHED
    assert searcher.suggest("t7") is FINISHED  # and stays finished


@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3))
@settings(max_examples=25, deadline=None)
def test_grid_visits_every_point_once_per_pass(n_a, n_b, passes):
    spec = {"a": grid(list(range(n_a))), "nested": {"b": grid(list(range(n_b)))}}
    searcher = started(Grid, spec=spec, num_samples=passes)
    size = n_a * n_b
    configs = suggestions(searcher, size * passes)
    points = [(c["a"], c["nested"]["b"]) for c in configs]
    for p in range(passes):
        assert points[p * size:(p + 1) * size] == list(itertools.product(range(n_a), range(n_b)))
    assert searcher.suggest("last") is FINISHED


def test_grid_without_grid_domains_is_num_samples_random_draws():
    searcher = started(Grid, spec={"x": uniform(0, 1)}, num_samples=4)
    configs = suggestions(searcher, 5)
    assert configs[4] is FINISHED and len({c["x"] for c in configs[:4]}) == 4


def test_grid_of_a_hundred_million_points_is_lazy():
    spec = {f"p{i}": grid(list(range(10))) for i in range(8)}
    start = time.perf_counter()
    searcher = started(Grid, spec=spec, num_samples=2)
    first = suggestions(searcher, 3)
    assert time.perf_counter() - start < 0.5
    assert [c["p7"] for c in first] == [0, 1, 2] and first[2]["p6"] == 0
    assert searcher._total == 2 * 10**8


def test_grid_over_list_of_dicts():
    param_grid = grid([{"kernel": "rbf", "gamma": grid([1e-3, 1e-4])},
                       {"kernel": "linear", "C": grid([1, 10, 100])}])
    searcher = started(Grid, spec={"svc": param_grid})
    configs = suggestions(searcher, 6)
    assert configs[-1] is FINISHED
    assert [flatten(c) for c in configs[:5]] == [
        {"svc/kernel": "rbf", "svc/gamma": 1e-3}, {"svc/kernel": "rbf", "svc/gamma": 1e-4},
        {"svc/kernel": "linear", "svc/C": 1}, {"svc/kernel": "linear", "svc/C": 10},
        {"svc/kernel": "linear", "svc/C": 100}]


def test_points_to_evaluate_do_not_count_towards_the_grid():
    searcher = started(Grid, spec={"a": grid([1, 2])}, points_to_evaluate=[{"a": 2}])
    assert [c if c is FINISHED else c["a"] for c in suggestions(searcher, 4)] == [2, 1, 2,
                                                                                  FINISHED]


# -- random ----------------------------------------------------------------------------------
def test_random_samples_grid_domains_uniformly_and_never_finishes():
    searcher = started(Random, spec={"a": grid([1, 2, 3])})
    values = [c["a"] for c in suggestions(searcher, 300)]
    assert set(values) == {1, 2, 3} and max(np.bincount(values)) < 140


def test_random_matches_space_sample_with_the_same_rng():
    searcher = started(Random, seed=11)
    rng = np.random.default_rng(11)
    space = Space(SPACE)
    assert suggestions(searcher, 5) == [space.sample(rng) for _ in range(5)]


# -- sobol -----------------------------------------------------------------------------------
def test_sobol_stratifies_every_coordinate():
    searcher = started(Sobol, spec={"x": uniform(0, 1), "y": uniform(0, 1), "z": randint(0, 64)})
    configs = suggestions(searcher, 64)
    for name in ("x", "y"):
        assert sorted(int(c[name] * 64) for c in configs) == list(range(64))
    assert sorted(c["z"] for c in configs) == list(range(64))


def test_sobol_unscrambled_starts_at_the_low_corner():
    searcher = started(Sobol, spec={"x": uniform(2, 3), "n": randint(5, 9)}, scramble=False)
    assert searcher.suggest("t0") == {"x": 2.0, "n": 5}
    assert searcher.suggest("t1") == {"x": 2.5, "n": 7}


def test_sobol_emits_no_warnings():
    searcher = started(Sobol, num_samples=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        suggestions(searcher, 10)


def test_sobol_rejects_a_non_bool_scramble():
    with pytest.raises(TypeError, match="Sobol: scramble must be a bool, got 'yes'"):
        Sobol(scramble="yes")


def test_searcher_names_and_aliases():
    from raysweep.search import make_searcher
    from raysweep.search.basic import Sobol
    from raysweep.search.evolution import Evolution
    from raysweep.search.gp import GP
    from raysweep.search.scipy import Scipy

    assert isinstance(make_searcher("BayesOpt"), GP)
    assert isinstance(make_searcher("genetic"), Evolution)
    assert isinstance(make_searcher("quasirandom"), Sobol)
    searcher = make_searcher("differential_evolution")
    assert isinstance(searcher, Scipy) and searcher.method == "differential_evolution"
    assert make_searcher("Nelder-Mead").method == "nelder-mead"
    with pytest.raises(ValueError, match="a SciPy method"):
        make_searcher("annealing")
