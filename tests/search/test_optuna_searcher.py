"""rs.search.Optuna: any Optuna sampler as a searcher, on an in-memory study driven by
ask-and-tell."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys
import warnings

import numpy as np
import optuna
import pytest
import scipy.stats

import raysweep as rs
from raysweep.search import FINISHED
from raysweep.search.optuna import Optuna
from raysweep.space import Space

TrialState = optuna.trial.TrialState

EVERY_DOMAIN = {
    "x": rs.uniform(-5, 5), "lr": rs.loguniform(1e-4, 1), "q": rs.quniform(0.05, 1, 0.1),
    "ql": rs.qloguniform(1, 100, 5), "n": rs.randint(1, 10), "ln": rs.lograndint(1, 100),
    "qi": rs.qrandint(0, 20, 5), "nm": rs.normal(0, 1), "gamma": scipy.stats.gamma(2.0),
    "k": scipy.stats.randint(1, 40), "act": ["relu", "tanh", 3], "pair": [(1, 2), (3, 4)],
    "flag": [True, 1], "const": 7,
    "model": rs.choice([{"type": "knn", "k": rs.randint(1, 30)},
                        {"type": "svm", "C": rs.loguniform(1e-2, 1e2)}]),
}


def started(sampler=None, spec=EVERY_DOMAIN, seed=0, mode="min", **kwargs):
    searcher = Optuna(sampler or optuna.samplers.TPESampler(seed=1, n_startup_trials=5),
                      **kwargs)
    searcher.setup(Space(spec), "loss", mode, seed)
    return searcher


def drive(searcher, n, loss=lambda c: (c["x"] - 1) ** 2):
    configs = []
    for i in range(n):
        config = searcher.suggest(f"{i:05d}")
        configs.append(config)
        searcher.observe(f"{i:05d}", {"loss": loss(config)}, final=True)
    return configs


def test_every_domain_translates_and_configs_belong_to_the_space():
    searcher = started()
    space = Space(EVERY_DOMAIN)
    configs = drive(searcher, 20)
    assert all(space.contains(c) for c in configs)
    assert {type(c["n"]) for c in configs} == {int} and {type(c["k"]) for c in configs} == {int}
    assert all(c["q"] in {round(0.1 * i, 1) for i in range(1, 11)} for c in configs)
    assert all(c["ql"] % 5 == 0 for c in configs)
    dists = searcher.study.trials[-1].distributions
    assert dists["lr"] == optuna.distributions.FloatDistribution(1e-4, 1, log=True)
    assert dists["q"] == optuna.distributions.FloatDistribution(0.1, 1.0, step=0.1)
    assert dists["qi"] == optuna.distributions.IntDistribution(0, 20, step=5)
    assert dists["nm"] == optuna.distributions.FloatDistribution(0.0, 1.0)  # its quantile
    assert dists["act"] == optuna.distributions.CategoricalDistribution(["relu", "tanh", 3])
    assert dists["pair"] == optuna.distributions.CategoricalDistribution([0, 1])  # positions
    assert dists["flag"] == optuna.distributions.CategoricalDistribution([0, 1])  # True == 1


def test_conditional_parameters_are_suggested_only_in_their_branch():
    searcher = started()
    drive(searcher, 20)
    for trial in searcher.study.trials:
        branch = trial.params["model"]
        assert ("model[0]/k" in trial.params) == (branch == 0)
        assert ("model[1]/C" in trial.params) == (branch == 1)


def test_learns_a_quadratic():
    searcher = started(optuna.samplers.TPESampler(seed=0), spec={"x": rs.uniform(-5, 5),
                                                                "y": rs.uniform(-5, 5)})
    configs = drive(searcher, 60, lambda c: (c["x"] - 1) ** 2 + (c["y"] + 2) ** 2)
    best = min((c["x"] - 1) ** 2 + (c["y"] + 2) ** 2 for c in configs)
    assert best < 0.5


def test_maximisation_tells_the_negation():
    searcher = started(mode="max")
    config = searcher.suggest("0")
    searcher.observe("0", {"loss": 3.0}, final=True)
    assert searcher.study.trials[0].value == -3.0 and config is not None


def test_running_trials_are_running_in_the_study_and_failures_fail():
    searcher = started()
    for i in range(3):
        searcher.suggest(str(i))
    assert [t.state for t in searcher.study.trials] == [TrialState.RUNNING] * 3
    searcher.observe("0", {"loss": 1.0}, final=False)  # intermediate: still running
    searcher.observe("1", {}, final=True)
    searcher.observe("2", {"loss": float("nan")}, final=True)
    searcher.observe("0", {"loss": 0.5}, final=True)
    assert [t.state for t in searcher.study.trials] == [TrialState.COMPLETE, TrialState.FAIL,
                                                        TrialState.FAIL]
    assert searcher.study.trials[0].value == 0.5


def test_points_to_evaluate_and_warm_starts_reach_the_study():
    point = {"x": 2.5, "model": {"type": "svm"}}
    searcher = Optuna(optuna.samplers.TPESampler(seed=0), points_to_evaluate=[point])
    space = Space(EVERY_DOMAIN)
    searcher.setup(space, "loss", "min", 0)
    prior = space.sample(np.random.default_rng(3))
    searcher.add_evaluated(prior, {"loss": 0.25})
    config = searcher.suggest("0")
    assert config["x"] == 2.5 and config["model"]["type"] == "svm"
    first, second = searcher.study.trials
    assert first.state is TrialState.COMPLETE and first.value == 0.25
    assert first.params["x"] == prior["x"] and second.params["x"] == 2.5
    assert second.params["model"] == 1 and "model[1]/C" in second.params


def test_a_grid_sampler_finishes_the_search():
    grid = optuna.samplers.GridSampler({"a": [1, 2], "b": ["u", "v"]}, seed=0)
    searcher = started(grid, spec={"a": [1, 2], "b": ["u", "v"]})
    configs = drive(searcher, 4, lambda c: c["a"])
    assert sorted((c["a"], c["b"]) for c in configs) == [(1, "u"), (1, "v"), (2, "u"), (2, "v")]
    assert searcher.suggest("4") is FINISHED
    assert searcher.suggest("4") is FINISHED


def test_unseeded_samplers_follow_the_experiment_seed():
    def configs(seed):
        return drive(started(optuna.samplers.TPESampler(n_startup_trials=3), seed=seed), 8)

    assert configs(4) == configs(4)
    assert configs(4) != configs(5)


def test_the_sampler_passed_in_is_never_used_itself():
    sampler = optuna.samplers.TPESampler(seed=2, n_startup_trials=3)
    first = drive(started(sampler), 6)
    second = drive(started(sampler), 6)
    assert first == second


@pytest.mark.parametrize("make", [
    lambda: optuna.samplers.NSGAIISampler(seed=0, population_size=4),
    lambda: optuna.samplers.QMCSampler(seed=0, warn_independent_sampling=False),
    lambda: optuna.samplers.CmaEsSampler(seed=0, warn_independent_sampling=False),
    lambda: optuna.samplers.RandomSampler(seed=0),
])
def test_other_samplers_copy_pickle_and_replay(make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        template = Optuna(make())
    spec = {"x": rs.uniform(-5, 5), "n": rs.randint(0, 9), "c": ["a", "b"]}
    restored = pickle.loads(pickle.dumps(copy.deepcopy(template)))
    runs = []
    for searcher in (copy.deepcopy(template), restored):
        searcher.setup(Space(spec), "loss", "min", 0)
        runs.append(drive(searcher, 12))
    assert runs[0] == runs[1]


def test_the_searcher_name_carries_the_sampler():
    assert Optuna(optuna.samplers.TPESampler()).name == "optuna-TPESampler"


@pytest.mark.parametrize(("sampler", "error", "message"), [
    (optuna.samplers.TPESampler, TypeError,
     r"Optuna: sampler must be a sampler instance such as TPESampler\(\), got the class"),
    ("tpe", TypeError, r"Optuna: sampler must be an optuna.samplers.BaseSampler, got str"),
])
def test_bad_samplers(sampler, error, message):
    with pytest.raises(error, match=message):
        Optuna(sampler)


def test_distributions_without_an_inverse_cannot_translate():
    class Draws:
        def rvs(self, random_state=None, size=None):
            return 1.0

    with pytest.raises(ValueError, match="Optuna: parameter 'w' is a distribution without "
                                         "cdf/ppf"):
        started(spec={"x": rs.uniform(0, 1), "w": Draws()})


def test_a_missing_optuna_names_the_extra():
    code = ("import sys; sys.modules['optuna'] = None\n"
            "import raysweep as rs\n"
            "try:\n    rs.search.Optuna(object())\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "pip install 'raysweep[optuna]'" in out


def test_an_end_to_end_run_and_resume_give_the_configs_of_an_uninterrupted_run(tmp_path):
    def objective(config):
        rs.report({"loss": (config["x"] - 1) ** 2 + config["n"]})

    def run(name, n, **kw):
        return rs.run(objective, {"x": rs.uniform(-5, 5), "n": rs.randint(0, 5)},
                      search=Optuna(optuna.samplers.TPESampler(n_startup_trials=4)),
                      num_samples=n, seed=3, name=name, storage_path=str(tmp_path),
                      executor="inline", verbose=0, **kw)

    whole = [t.config for t in run("whole", 12).trials]
    run("split", 5)
    resumed = [t.config for t in run("split", 12, resume=True).trials]
    assert resumed == whole
    restored = rs.restore(str(tmp_path / "split"), objective, num_samples=14,
                          executor="inline", verbose=0)
    assert [t.config for t in restored.trials][:12] == whole and len(restored) == 14


def test_a_searcher_in_use_copies_and_pickles_with_its_study():
    searcher = started(optuna.samplers.NSGAIISampler(seed=0, population_size=4),
                       spec={"x": rs.uniform(0, 1)})
    drive(searcher, 5)
    copies = [copy.deepcopy(searcher), pickle.loads(pickle.dumps(searcher))]
    for other in copies:  # locks came back as locks of the same kind
        assert type(other.study._storage._lock) is type(searcher.study._storage._lock)
    assert len({key(s.suggest("5")) for s in [searcher, *copies]}) == 1


def key(config):
    return repr(sorted(config.items()))
