"""The searcher contract, run over EVERY searcher raysweep ships (and the Optuna adapter):

* deterministic given the seed and the order of calls;
* every domain type, and conditional (nested choice) spaces, give configs of the space;
  grid domains are enumerated, sampled, or refused with an error that says so;
* several suggestions before any result (trials in flight) are not all the same;
* replay: a fresh instance fed the same calls proposes the same next config;
* end to end: ``rs.run`` (inline executor) stopped after N trials and resumed gives the
  configs of an uninterrupted run.

Budgets are small so the whole file runs in about a minute.
"""

from __future__ import annotations

import json
import math
import warnings

import optuna
import pytest
import scipy.stats

import raysweep as rs
from raysweep.search import FINISHED, Grid, Random, Sobol
from raysweep.search.cmaes import CMAES
from raysweep.search.evolution import Evolution
from raysweep.search.gp import GP
from raysweep.search.nsga2 import NSGA2
from raysweep.search.optuna import Optuna
from raysweep.search.pso import PSO
from raysweep.search.scipy import Scipy
from raysweep.search.tpe import TPE
from raysweep.space import Space

# name -> a fresh searcher with small settings
FACTORIES = {
    "grid": lambda: Grid(),
    "random": lambda: Random(),
    "sobol": lambda: Sobol(),
    "tpe": lambda: TPE(n_startup_trials=4),
    "gp": lambda: GP(n_startup_trials=4, n_candidates=128, n_restarts=1),
    "evolution": lambda: Evolution(population_size=4),
    "pso": lambda: PSO(n_particles=4),
    "nsga2": lambda: NSGA2(population_size=4),
    "differential_evolution": lambda: Scipy("differential_evolution", popsize=2),
    "nelder-mead": lambda: Scipy("nelder-mead"),
    "powell": lambda: Scipy("powell"),
    "dual_annealing": lambda: Scipy("dual_annealing"),
    "direct": lambda: Scipy("direct"),
    "shgo": lambda: Scipy("shgo", n=16),
    "brute": lambda: Scipy("brute", Ns=2),
    "cmaes": lambda: CMAES(population_size=4),
    # unseeded samplers: the experiment seed seeds them
    "optuna-tpe": lambda: Optuna(optuna.samplers.TPESampler(n_startup_trials=4)),
    "optuna-cmaes": lambda: Optuna(optuna.samplers.CmaEsSampler(
        n_startup_trials=2, warn_independent_sampling=False)),
}
ALL = list(FACTORIES)
# searchers that take no seed (their sequence is fixed by the results alone)
UNSEEDED = {"grid", "nelder-mead", "powell", "direct", "shgo", "brute"}
# optimisers that post one point at a time: in flight, they wait rather than repeat
ONE_AT_A_TIME = {"nelder-mead", "powell", "dual_annealing", "direct"}

EVERY_DOMAIN = {
    "u": rs.uniform(-2, 3), "log": rs.loguniform(1e-4, 1e-1), "int": rs.randint(1, 50),
    "logint": rs.lograndint(1, 1000), "q": rs.quniform(0, 1, 0.25), "qint": rs.qrandint(0, 20, 5),
    "cat": ["relu", "tanh", None], "normal": rs.normal(0, 2), "gamma": scipy.stats.gamma(2.0),
    "poisson": scipy.stats.poisson(3), "fixed": rs.fixed([1, 2]), "const": "c",
}
CONDITIONAL = {
    "lr": rs.loguniform(1e-3, 1),
    "model": rs.choice([{"type": "knn", "k": rs.randint(1, 30)},
                        {"type": "svm", "C": rs.loguniform(1e-2, 1e2), "deg": rs.randint(1, 4)}]),
}


def make(name, spec=EVERY_DOMAIN, seed=0, num_samples=None):
    searcher = FACTORIES[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        searcher.setup(Space(spec), "loss", "min", seed, num_samples)
    return searcher


def loss_of(config):
    """A deterministic loss of any config."""
    text = json.dumps(config, sort_keys=True, default=str)
    numbers = [v for v in _leaves(config) if isinstance(v, (int, float))
               and not isinstance(v, bool)]
    return sum(math.sin(float(v) + i) ** 2 for i, v in enumerate(numbers)) + len(text) % 7 * 0.01


def _leaves(config):
    for _, value in sorted(config.items()):
        if isinstance(value, dict):
            yield from _leaves(value)
        else:
            yield value


def drive(searcher, n, in_flight=1, log=None):
    """Run ``n`` trials, keeping up to ``in_flight`` pending; the oldest ends first (one
    fails, every trial reports an intermediate result). Returns the configs; ``log``
    collects the calls a replay must repeat (a suggest that returned None is not one)."""
    configs, pending, created = [], [], 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while created < n or pending:
            config = None
            if created < n and len(pending) < in_flight:
                trial_id = f"{created:05d}"
                config = searcher.suggest(trial_id)
                if config is FINISHED:
                    n = created
                    continue
                if config is not None:
                    created += 1
                    configs.append(config)
                    pending.append((trial_id, config))
                    if log is not None:
                        log.append(("suggest", trial_id))
                    continue
            if not pending:
                break
            trial_id, config = pending.pop(0)
            value = loss_of(config)
            result = {} if trial_id == "00002" else {"loss": value, "training_iteration": 1}
            for final in (False, True):
                searcher.observe(trial_id, result, final=final)
                if log is not None:
                    log.append(("observe", trial_id, result, final))
    return configs


def replay(searcher, log):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for call in log:
            if call[0] == "suggest":
                searcher.suggest(call[1])
            else:
                searcher.observe(call[1], call[2], final=call[3])


def key(config):
    return json.dumps(config, sort_keys=True, default=repr)


# -- determinism -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_deterministic_given_seed_and_order(name):
    first = drive(make(name, seed=7), 10, in_flight=3)
    again = drive(make(name, seed=7), 10, in_flight=3)
    assert [key(c) for c in first] == [key(c) for c in again]
    if name not in UNSEEDED:
        other = drive(make(name, seed=8), 10, in_flight=3)
        assert [key(c) for c in other] != [key(c) for c in first]


# -- spaces --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_every_domain_type_gives_configs_of_the_space(name):
    space = Space(EVERY_DOMAIN)
    configs = drive(make(name), 12, in_flight=2)
    assert configs
    for config in configs:
        assert space.contains(config), config
        assert type(config["int"]) is int and type(config["poisson"]) is int
        assert type(config["u"]) is float and config["fixed"] == [1, 2]
        assert config["q"] in (0.0, 0.25, 0.5, 0.75, 1.0) and config["qint"] % 5 == 0


@pytest.mark.parametrize("name", ALL)
def test_conditional_spaces(name):
    space = Space(CONDITIONAL)
    configs = drive(make(name, CONDITIONAL), 12, in_flight=2)
    assert configs and all(space.contains(c) for c in configs)
    for config in configs:
        assert set(config["model"]) == ({"type", "k"} if config["model"]["type"] == "knn"
                                        else {"type", "C", "deg"})


@pytest.mark.parametrize("name", ALL)
def test_grid_domains_are_enumerated_sampled_or_refused_by_name(name):
    spec = {"g": rs.grid([1, 2, 3]), "x": rs.uniform(0, 1)}
    try:
        searcher = make(name, spec)
    except ValueError as exc:
        assert "grid" in str(exc) and type(FACTORIES[name]()).__name__ in str(exc)
        return
    configs = drive(searcher, 6)
    assert all(c["g"] in (1, 2, 3) for c in configs)
    if name == "grid":
        assert [c["g"] for c in configs[:3]] == [1, 2, 3]


# -- trials in flight ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_suggestions_in_flight_are_not_all_identical(name):
    searcher = make(name, num_samples=20)  # (grid: 20 passes over its one point)
    drive(searcher, 6)  # past the random start of the model-based ones
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = [searcher.suggest(f"b{i}") for i in range(5)]
    handed = [key(c) for c in batch if isinstance(c, dict)]
    if name in ONE_AT_A_TIME:  # they wait (None) rather than hand out the same point
        assert len(handed) >= 1 and len(set(handed)) == len(handed)
    else:
        assert len(handed) >= 2 and len(set(handed)) > 1


# -- replay ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_a_fresh_instance_fed_the_same_calls_proposes_the_same_next_config(name):
    log = []
    original = make(name, seed=3)
    drive(original, 9, in_flight=3, log=log)
    fresh = make(name, seed=3)
    replay(fresh, log)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ahead = [original.suggest(f"n{i}") for i in range(2)]
        again = [fresh.suggest(f"n{i}") for i in range(2)]
    assert [key(c) if isinstance(c, dict) else c for c in ahead] == \
        [key(c) if isinstance(c, dict) else c for c in again]


# -- end to end ------------------------------------------------------------------------------
def _objective(config):
    rs.report({"loss": loss_of(config)})


@pytest.mark.parametrize("name", ALL)
def test_run_stopped_and_resumed_gives_the_configs_of_an_uninterrupted_run(name, tmp_path):
    spec = {"x": rs.uniform(-1, 1), "n": rs.randint(0, 8), "act": ["a", "b"]}

    def run(experiment, n, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return rs.run(_objective, spec, search=FACTORIES[name](), num_samples=n, seed=5,
                          name=experiment, storage_path=str(tmp_path), executor="inline",
                          verbose=0, **kwargs)

    whole = [key(t.config) for t in run("whole", 10).trials]
    run("split", 4)
    resumed = [key(t.config) for t in run("split", 10, resume=True).trials]
    assert resumed == whole
