"""One contract suite over the model-based and population searchers: TPE, GP, Evolution,
PSO and the SciPy adapters."""

from __future__ import annotations

import json
import math
import numbers

import numpy as np
import pytest
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raysweep.search import FINISHED, make_searcher
from raysweep.search.evolution import Evolution
from raysweep.search.gp import GP
from raysweep.search.pso import PSO
from raysweep.search.scipy import Scipy
from raysweep.search.tpe import TPE
from raysweep.space import (
    Space,
    choice,
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

# name -> factory of a fresh searcher with small settings, so that the suite stays fast
FACTORIES = {
    "tpe": lambda **kw: TPE(**{"n_startup_trials": 5, **kw}),
    "gp": lambda **kw: GP(**{"n_startup_trials": 5, "n_candidates": 256, "n_restarts": 2,
                             **kw}),
    "evolution": lambda **kw: Evolution(**{"population_size": 8, **kw}),
    "pso": lambda **kw: PSO(**{"n_particles": 8, **kw}),
    "de": lambda **kw: Scipy("differential_evolution", **{"popsize": 4, **kw}),
    "nelder-mead": lambda **kw: Scipy("nelder-mead", **kw),
}
ALL = list(FACTORIES)

MIXED = {
    "lr": loguniform(1e-4, 1e-1),
    "units": randint(8, 64),
    "act": ["relu", "tanh", "gelu"],
    "model": choice([{"type": "knn", "k": randint(1, 30)},
                     {"type": "svm", "C": loguniform(1e-2, 1e2), "kernel": ["rbf", "poly"]}]),
    "seed": 0,
}


def started(name, spec=MIXED, seed=0, num_samples=None, **kwargs):
    searcher = FACTORIES[name](**kwargs)
    searcher.setup(Space(spec), "loss", "min", seed, num_samples)
    return searcher


def key(config):
    return json.dumps(config, sort_keys=True)


def toy_loss(config):
    """A deterministic loss of any config: a smooth function of its numbers."""
    total = 0.0
    for i, value in enumerate(_leaves(config)):
        if isinstance(value, bool) or not isinstance(value, numbers.Number):
            total += (len(str(value)) % 3) * 0.1
        else:
            total += math.sin(float(value) + i) ** 2
    return total


def _leaves(config):
    for _, value in sorted(config.items()):
        if isinstance(value, dict):
            yield from _leaves(value)
        else:
            yield value


def drive(searcher, objective, n, batch=1, log=None):
    """Suggest up to ``batch`` trials, then report them all (in order); repeat ``n`` times
    a trial. ``log`` collects every call as (kind, trial_id, payload)."""
    configs, t = [], 0
    while t < n:
        pending = []
        for _ in range(batch):
            trial_id = f"t{t:05d}"
            config = searcher.suggest(trial_id)
            if log is not None:
                log.append(("suggest", trial_id, config))
            if config is None or config is FINISHED:
                break
            pending.append((trial_id, config))
            configs.append(config)
            t += 1
            if t >= n:
                break
        if not pending:
            break
        for trial_id, config in pending:
            result = {"loss": objective(config)}
            searcher.observe(trial_id, result, final=True)
            if log is not None:
                log.append(("observe", trial_id, result))
    return configs


# -- random spaces (hypothesis) --------------------------------------------------------------
_LEAF = st.one_of(
    st.tuples(st.floats(-10, 10), st.floats(0.1, 10)).map(lambda t: uniform(t[0], t[0] + t[1])),
    st.floats(1e-5, 1e-1).map(lambda lo: loguniform(lo, lo * 1e3)),
    st.sampled_from([quniform(0, 1, 0.1), qloguniform(1, 100, 1), qrandint(0, 20, 5)]),
    st.tuples(st.integers(-5, 5), st.integers(1, 20)).map(lambda t: randint(t[0], t[0] + t[1])),
    st.just(lograndint(1, 1000)),
    st.lists(st.sampled_from(["a", "b", "c", 1, 2.5, None]), min_size=1, max_size=4,
             unique=True),
    st.just(normal(0.0, 2.0)),
    st.just(scipy.stats.expon(scale=3.0)),
    st.just(scipy.stats.poisson(4)),
    st.just("fixed"),
)


def _spec(depth):
    names = st.sampled_from(["a", "b", "c", "d"])
    if depth == 0:
        return st.dictionaries(names, _LEAF, min_size=1, max_size=3)
    branch = _spec(depth - 1)
    child = st.one_of(_LEAF, st.lists(branch, min_size=1, max_size=3).map(choice))
    return st.dictionaries(names, child, min_size=1, max_size=3)


def _types_ok(space, config):
    """Ints are Python ints (bools excluded) wherever the domain is an int."""
    _, active = space.encode(config)
    for dim, on in zip(space.dims, active):
        if not on or dim.domain.kind != "int":
            continue
        node = config
        for part in dim.name.split("/"):
            node = node[part]
        if isinstance(node, bool) or not isinstance(node, int):
            return False
    return True


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=_spec(2), seed=st.integers(0, 2**16))
def test_configs_respect_bounds_types_and_conditional_structure(name, spec, seed):
    space = Space(spec)
    searcher = started(name, spec, seed=seed)
    configs = drive(searcher, toy_loss, 14, batch=3)
    assert configs, "no config proposed"
    for config in configs:
        assert space.contains(config), config
        assert _types_ok(space, config), config


# -- convergence -----------------------------------------------------------------------------
QUADRATIC = {"x": uniform(-5, 5), "y": uniform(-5, 5)}


def quadratic(config):
    return (config["x"] - 1.0) ** 2 + (config["y"] + 2.0) ** 2


@pytest.mark.parametrize(("name", "budget", "tolerance"), [
    ("tpe", 60, 0.05), ("gp", 25, 1e-3), ("evolution", 80, 0.05), ("pso", 80, 0.05),
    ("de", 80, 0.05), ("nelder-mead", 60, 1e-3),
])
def test_converges_on_a_quadratic(name, budget, tolerance):
    # random search needs about 1 / (pi * tolerance / 100) = 640 trials for 0.05
    searcher = started(name, QUADRATIC, seed=3)
    configs = drive(searcher, quadratic, budget, batch=1)
    assert min(map(quadratic, configs)) < tolerance


def test_maximisation_is_minimisation_of_the_negation():
    searcher = TPE(n_startup_trials=5)
    searcher.setup(Space(QUADRATIC), "score", "max", 3)
    best = math.inf
    for i in range(60):
        config = searcher.suggest(f"t{i}")
        best = min(best, quadratic(config))
        searcher.observe(f"t{i}", {"score": -quadratic(config)}, final=True)
    assert best < 0.05


# -- determinism -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_reproducible_under_a_seed(name):
    first = drive(started(name, seed=11), toy_loss, 20, batch=2)
    again = drive(started(name, seed=11), toy_loss, 20, batch=2)
    other = drive(started(name, seed=12), toy_loss, 20, batch=2)
    assert [key(c) for c in first] == [key(c) for c in again]
    assert [key(c) for c in first] != [key(c) for c in other]


def _replay(searcher, log):
    for kind, trial_id, payload in log:
        if kind == "suggest":
            assert key(searcher.suggest(trial_id)) == key(payload)
        else:
            searcher.observe(trial_id, payload, final=True)


@pytest.mark.parametrize("name", ALL)
def test_replay_reaches_the_same_state(name):
    log = []
    original = started(name, seed=5)
    drive(original, toy_loss, 17, batch=3, log=log)
    # an intermediate result and a failed trial are part of the history too
    for searcher in (original,):
        config = searcher.suggest("extra1")
        log.append(("suggest", "extra1", config))
        if isinstance(config, dict):
            searcher.observe("extra1", {"loss": 0.5}, final=False)
            searcher.observe("extra1", {}, final=True)
            log += [("observe", "extra1", {})]
    replayed = started(name, seed=5)
    for kind, trial_id, payload in log:
        if kind == "suggest":
            assert key(replayed.suggest(trial_id)) == key(payload)
        elif trial_id == "extra1":
            replayed.observe(trial_id, {"loss": 0.5}, final=False)
            replayed.observe(trial_id, payload, final=True)
        else:
            replayed.observe(trial_id, payload, final=True)
    # from here on both propose the same configs
    assert [key(c) for c in drive(original, toy_loss, 6, batch=2)] == \
        [key(c) for c in drive(replayed, toy_loss, 6, batch=2)]


def test_suggest_returning_none_does_not_change_state():
    a, b = started("pso", seed=1, n_particles=3), started("pso", seed=1, n_particles=3)
    configs_a = [a.suggest(f"t{i}") for i in range(3)]
    assert a.suggest("t3") is None and a.suggest("t3") is None  # the swarm is busy
    configs_b = [b.suggest(f"t{i}") for i in range(3)]
    for searcher in (a, b):
        searcher.observe("t1", {"loss": 1.0}, final=True)
    assert key(a.suggest("t3")) == key(b.suggest("t3"))
    assert [key(c) for c in configs_a] == [key(c) for c in configs_b]


# -- parallel suggestions --------------------------------------------------------------------
CONTINUOUS = {"x": uniform(-5, 5), "y": loguniform(1e-3, 1e3), "z": normal(0, 1)}


@pytest.mark.parametrize("name", ALL)
def test_parallel_suggestions_are_distinct(name):
    searcher = started(name, CONTINUOUS, seed=2)
    drive(searcher, lambda c: c["x"] ** 2 + math.log(c["y"]) ** 2 + c["z"] ** 2, 12, batch=1)
    pending = []
    for i in range(8):
        config = searcher.suggest(f"p{i}")
        if config is None or config is FINISHED:
            break
        pending.append(key(config))
    assert len(pending) >= (1 if name == "nelder-mead" else 8)
    assert len(set(pending)) == len(pending)


@pytest.mark.parametrize("name", ["tpe", "gp", "evolution", "pso"])
def test_discrete_space_proposals_avoid_repeats_while_they_can(name):
    spec = {"a": randint(0, 4), "b": ["x", "y", "z"]}  # 15 configs
    searcher = started(name, spec, seed=4)
    configs = drive(searcher, lambda c: c["a"] + len(c["b"]), 12, batch=4)
    assert len({key(c) for c in configs}) >= 10


@pytest.mark.parametrize("name", ["tpe", "gp", "evolution"])
def test_max_concurrent_limits_pending_trials(name):
    searcher = started(name, seed=0, max_concurrent=2)
    assert isinstance(searcher.suggest("a"), dict) and isinstance(searcher.suggest("b"), dict)
    assert searcher.suggest("c") is None
    searcher.observe("a", {"loss": 1.0}, final=True)
    assert isinstance(searcher.suggest("c"), dict)


# -- warm start ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_points_to_evaluate_come_first(name):
    points = [{"x": 1.0, "y": -2.0}, {"x": 0.5}]
    searcher = started(name, QUADRATIC, seed=0, points_to_evaluate=points)
    first = searcher.suggest("w0")
    second = searcher.suggest("w1")
    assert first == {"x": 1.0, "y": -2.0}
    assert second["x"] == 0.5
    searcher.observe("w0", {"loss": 0.0}, final=True)
    searcher.observe("w1", {"loss": quadratic(second)}, final=True)
    if name in ("tpe", "gp", "evolution", "pso"):  # the model learnt from them
        assert "w0" in searcher._done and searcher._loss["w0"] == 0.0


def test_tpe_is_drawn_to_a_good_warm_start():
    points = [{"x": 1.0, "y": -2.0}]
    searcher = started("tpe", QUADRATIC, seed=0, points_to_evaluate=points)
    configs = drive(searcher, quadratic, 20)
    near = [c for c in configs[5:] if quadratic(c) < 1.0]
    assert len(near) >= 5


# -- intermediate results --------------------------------------------------------------------
def test_the_last_result_is_what_the_model_learns():
    searcher = started("tpe", QUADRATIC, seed=0)
    searcher.suggest("a")
    searcher.observe("a", {"loss": 5.0}, final=False)
    assert searcher._done == []  # still running: not in the model yet
    searcher.observe("a", {"loss": 2.0}, final=False)
    searcher.observe("a", {}, final=True)  # ended without a new result: keeps the last
    assert searcher._done == ["a"] and searcher._loss["a"] == 2.0


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize(("make", "message"), [
    (lambda: TPE(n_startup_trials=0), "n_startup_trials must be an int >= 1, got 0"),
    (lambda: TPE(gamma=1.5), "gamma must be a float in"),
    (lambda: TPE(n_ei_candidates=0), "n_ei_candidates must be an int >= 1"),
    (lambda: GP(n_startup_trials=0), "n_startup_trials must be an int >= 1, got 0"),
    (lambda: GP(acquisition="pi"), r"acquisition must be one of \['ei', 'ucb'\], got 'pi'"),
    (lambda: GP(warp="log"), r"warp must be one of \['power', 'none'\], got 'log'"),
    (lambda: Evolution(population_size=1), "population_size must be an int >= 2, got 1"),
    (lambda: Evolution(tournament_size=30), "tournament_size must be <= population_size"),
    (lambda: Evolution(mutation_prob=0), "mutation_prob must be None or a float in"),
    (lambda: PSO(n_particles=1), "n_particles must be an int >= 2, got 1"),
    (lambda: PSO(inertia=1.5), r"inertia must be a float in \[0, 1\)"),
    (lambda: Scipy("bfgs"), r"method must be one of \['brute', 'differential_evolution', "),
    (lambda: Scipy("differential_evolution", popsise=3), r"\['popsise'\] are not options"),
    (lambda: Scipy("brute", workers=4), r"options \['workers'\] are set by raysweep"),
])
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("name", ALL)
def test_grid_domains_are_refused(name):
    with pytest.raises(ValueError, match=r"grid domains \(rs.grid\) cannot be modelled"):
        started(name, {"x": uniform(0, 1), "n": grid([1, 2, 3])})


class _NoInverse:
    """A distribution with rvs only (no cdf/ppf)."""

    def rvs(self, random_state=None):
        return float(np.random.default_rng(random_state).random())


@pytest.mark.parametrize("name", ALL)
def test_distributions_without_an_inverse_are_refused(name):
    with pytest.raises(ValueError, match="parameter 'w' is a distribution without cdf/ppf"):
        started(name, {"x": uniform(0, 1), "w": _NoInverse()})


@pytest.mark.parametrize("name", ["tpe", "gp", "evolution", "pso"])
def test_registry_names(name):
    assert make_searcher(name).name == name


@pytest.mark.parametrize("name", ALL)
def test_failed_trials_are_worst_not_fatal(name):
    searcher = started(name, QUADRATIC, seed=1)
    configs = drive(searcher, lambda c: float("nan") if c["x"] > 0 else quadratic(c), 20,
                    batch=2)
    assert len(configs) >= (10 if name != "de" else 8)


@pytest.mark.parametrize("name", ALL)
def test_a_space_of_constants(name):
    searcher = started(name, {"a": 1, "b": {"c": "x"}})
    configs = drive(searcher, toy_loss, 8)
    assert configs and all(c == {"a": 1, "b": {"c": "x"}} for c in configs)
