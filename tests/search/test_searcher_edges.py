"""Searchers on edge inputs: bad arguments, spaces too large for a SciPy method, configs the
SciPy optimisers revisit, tiny spaces that run out of configs, and end-to-end runs over
every domain kind (``executor="inline"``)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.stats

import raysweep as rs
from raysweep.search import FINISHED, make_searcher
from raysweep.search.evolution import Evolution
from raysweep.search.gp import GP
from raysweep.search.pso import PSO
from raysweep.search.scipy import Scipy
from raysweep.search.tpe import TPE
from raysweep.space import Space

SCIPY_METHODS = ["differential_evolution", "nelder-mead", "powell", "dual_annealing",
                 "direct", "shgo", "brute"]
ALL = ["grid", "random", "sobol", "tpe", "gp", "evolution", "pso", *SCIPY_METHODS]


def key(config):
    return json.dumps(config, sort_keys=True)


# -- constructor arguments -------------------------------------------------------------------
@pytest.mark.parametrize(("make", "message"), [
    (lambda: TPE(prior_weight=True), "TPE: prior_weight must be a float > 0, got True"),
    (lambda: TPE(bandwidth=math.inf), "TPE: bandwidth must be a float > 0, got inf"),
    (lambda: TPE(gamma=math.nan), r"TPE: gamma must be a float in \(0, 1\), got nan"),
    (lambda: GP(ucb_beta=math.inf), "GP: ucb_beta must be a float >= 0, got inf"),
    (lambda: PSO(max_velocity=math.nan), "PSO: max_velocity must be a float > 0, got nan"),
    (lambda: PSO(social=math.inf), "PSO: social must be a float >= 0, got inf"),
    (lambda: Evolution(crossover_prob=True), r"crossover_prob must be a float in \[0, 1\]"),
    (lambda: Evolution(mutation_scale=math.inf), "mutation_scale must be a float > 0"),
    (lambda: TPE(max_concurrent=True), "TPE: max_concurrent must be an int >= 1, got True"),
    (lambda: Scipy(["nelder-mead"]), r"Scipy: method must be one of \['brute', "),
])
def test_bad_arguments_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_the_smallest_population_works_with_the_default_tournament():
    searcher = Evolution(population_size=2)  # the default tournament of 3 used to refuse it
    assert searcher.tournament_size == 2 and Evolution().tournament_size == 3
    searcher.setup(Space({"x": rs.uniform(0, 1)}), "loss", "min", 0, 10)
    configs = drive(searcher, lambda c: c["x"], 10)
    assert len({key(c) for c in configs}) == 10


def test_numpy_floats_are_accepted_as_arguments():
    searcher = TPE(gamma=np.float32(0.25), prior_weight=np.float64(2.0))
    assert searcher.gamma == pytest.approx(0.25) and searcher.prior_weight == 2.0


# -- SciPy methods whose own machinery cannot take the space ---------------------------------
WIDE = {f"x{i}": rs.uniform(0, 1) for i in range(12)}


@pytest.mark.parametrize(("searcher", "message"), [
    (Scipy("brute"), r"Scipy\('brute'\): the grid has Ns \*\* d = 5 \*\* 12 points \(more "
                     r"than 100,000"),
    (Scipy("brute", Ns=20), r"Ns \*\* d = 20 \*\* 12 points"),
    (Scipy("shgo"), r"Scipy\('shgo'\): the space has 12 dims, shgo handles at most 10"),
])
def test_spaces_too_large_for_brute_or_shgo_are_refused_at_setup(searcher, message):
    with pytest.raises(ValueError, match=message):
        searcher.setup(Space(WIDE), "loss", "min", 0, 10)


def test_a_space_too_large_for_brute_fails_before_any_trial(tmp_path):
    calls = []
    with pytest.raises(ValueError, match=r"Scipy\('brute'\): the grid has"):
        rs.run(calls.append, WIDE, num_samples=5, search="brute", executor="inline",
               verbose=0, storage_path=str(tmp_path))
    assert calls == []


def test_brute_and_shgo_still_run_on_small_spaces():
    for searcher in (Scipy("brute", Ns=3), Scipy("shgo")):
        searcher.setup(Space({"x": rs.uniform(0, 1), "y": rs.uniform(0, 1)}), "loss", "min",
                       0, 20)
        config = searcher.suggest("t0")
        assert isinstance(config, dict) and set(config) == {"x", "y"}


# -- configs a SciPy optimiser revisits ------------------------------------------------------
def drive(searcher, objective, n, batch=1):
    """Suggest up to ``batch`` trials, then finish them; stop at FINISHED or ``n`` configs."""
    configs = []
    while len(configs) < n:
        pending = []
        for _ in range(batch):
            config = searcher.suggest(f"t{len(configs)}")
            if config is None or config is FINISHED:
                break
            configs.append(config)
            pending.append((f"t{len(configs) - 1}", config))
        if not pending:
            break
        for trial_id, config in pending:
            searcher.observe(trial_id, {"loss": objective(config)}, final=True)
    return configs


DISCRETE = {"a": rs.randint(0, 3), "b": ["x", "y"], "q": rs.quniform(0, 1, 0.5)}  # 18 configs


@pytest.mark.parametrize("method", SCIPY_METHODS)
def test_scipy_optimisers_never_run_a_config_twice(method):
    searcher = Scipy(method)
    searcher.setup(Space(DISCRETE), "loss", "min", 1, None)
    configs = drive(searcher, lambda c: (c["a"] - 1) ** 2 + (c["b"] == "y") + c["q"], 60,
                    batch=4)
    assert configs
    assert len({key(c) for c in configs}) == len(configs)
    assert len(configs) <= 18


def test_nelder_mead_on_two_categories_stops_instead_of_repeating_one(tmp_path):
    results = rs.run(lambda c: 1.0 if c["c"] == "a" else 2.0, {"c": ["a", "b"]},
                     num_samples=10, search="nelder-mead", seed=0, executor="inline",
                     verbose=0, storage_path=str(tmp_path))
    configs = [key(t.config) for t in results.trials]
    assert 1 <= len(configs) <= 2 and len(set(configs)) == len(configs)


def test_revisited_configs_keep_the_replay_deterministic():
    def run():
        searcher = Scipy("differential_evolution", popsize=3)
        searcher.setup(Space(DISCRETE), "loss", "min", 7, None)
        return [key(c) for c in drive(searcher, lambda c: c["a"] + c["q"], 30, batch=5)]

    assert run() == run()


# -- tiny spaces that run out of configs -----------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_a_space_of_two_categories_neither_hangs_nor_fails(name, tmp_path):
    results = rs.run(lambda c: 0.0 if c["c"] == "b" else 1.0, {"c": ["a", "b"]},
                     num_samples=10, search=name, seed=0, executor="inline", verbose=0,
                     storage_path=str(tmp_path))
    df = results.dataframe()
    assert 1 <= len(df) <= 10 and set(df["status"]) == {"TERMINATED"}
    tried = {t.config["c"] for t in results.trials}
    assert tried <= {"a", "b"}
    assert results.best_config == ({"c": "b"} if "b" in tried else {"c": "a"})


# -- every domain kind, end to end -----------------------------------------------------------
EVERY_DOMAIN = {
    "u": rs.uniform(-2, 2), "lu": rs.loguniform(1e-4, 1e-1), "qu": rs.quniform(0, 1, 0.25),
    "qlu": rs.qloguniform(1, 100, 5), "ri": rs.randint(1, 5), "lri": rs.lograndint(1, 100),
    "qri": rs.qrandint(0, 20, 5), "n": rs.normal(0, 1), "qn": rs.normal(0, 1, 0.5),
    "c": ["a", "b", "c"], "ch": rs.choice([[64], [64, 64]]), "f": rs.fixed([1, 2]),
    "su": scipy.stats.uniform(2, 3), "sr": scipy.stats.randint(0, 4),
    "se": scipy.stats.expon(scale=10), "const": 7, "nested": {"d": {"e": rs.uniform(0, 1)}},
    "cond": rs.choice([
        {"t": "x", "v": rs.uniform(0, 1),
         "deep": rs.choice([{"z": rs.randint(0, 3)}, {"w": scipy.stats.norm()}])},
        {"t": "y"},
    ]),
}
INT_KEYS = ("ri", "lri", "qri", "sr")
FLOAT_KEYS = ("u", "lu", "qu", "qlu", "n", "qn", "su", "se")


def _objective(config):
    return -((config["u"] - 0.5) ** 2 + config["ri"] + math.log10(config["lu"]) ** 2)


@pytest.mark.parametrize("name", [n for n in ALL if n not in ("grid", "shgo", "brute")])
def test_every_domain_kind_end_to_end_with_mode_max(name, tmp_path):
    space = Space(EVERY_DOMAIN)
    results = rs.run(_objective, EVERY_DOMAIN, metric="score", mode="max", num_samples=16,
                     search=name, seed=3, max_concurrent=4, executor="inline", verbose=0,
                     storage_path=str(tmp_path))
    configs = [t.config for t in results.trials]
    assert len(configs) == 16
    for config in configs:
        assert space.contains(config), config
        assert all(type(config[k]) is int for k in INT_KEYS), config
        assert all(type(config[k]) is float for k in FLOAT_KEYS), config
        assert config["qu"] in (0.0, 0.25, 0.5, 0.75, 1.0) and config["qri"] % 5 == 0
        assert config["f"] == [1, 2] and config["const"] == 7
        assert set(config["cond"]) in ({"t", "v", "deep"}, {"t"})
    assert results.best_result["score"] == max(_objective(c) for c in configs)


@pytest.mark.parametrize("name", [n for n in ALL if n != "grid"])
def test_failed_and_non_finite_metrics_do_not_stop_a_searcher(name):
    space = Space({"x": rs.uniform(-5, 5), "k": rs.randint(0, 10)})
    bad = [{"loss": math.nan}, {"loss": math.inf}, {"loss": -math.inf}, {}, {"loss": "x"},
           {"loss": None}]
    searcher = make_searcher(name)
    searcher.setup(space, "loss", "min", 0, 24)
    seen = 0
    for i in range(24):
        config = searcher.suggest(f"t{i}")
        if config is None or config is FINISHED:
            break
        assert space.contains(config)
        searcher.observe(f"t{i}", bad[i % len(bad)] if i % 2 else {"loss": config["x"] ** 2},
                         final=True)
        seen += 1
    assert seen >= (5 if name == "shgo" else 20)
