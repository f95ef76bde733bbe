"""CMA-ES on the cmaes package: generations in parallel, restarts, failures, the
independent fallback for categorical and conditional parameters, arguments."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import raysweep as rs
from raysweep.errors import InvalidSpace
from raysweep.search import make_searcher
from raysweep.search.cmaes import CMAES
from raysweep.space import Space, choice, loguniform, randint, uniform

BOX = {"x": uniform(-5, 5), "y": uniform(-5, 5)}


def started(spec=BOX, seed=0, **kwargs):
    searcher = CMAES(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        searcher.setup(Space(spec), "loss", "min", seed)
    return searcher


def sphere(config):
    return (config["x"] - 1.0) ** 2 + (config["y"] + 2.0) ** 2


def run_sequential(searcher, loss, n):
    best = np.inf
    for i in range(n):
        config = searcher.suggest(f"{i:05d}")
        value = loss(config)
        best = min(best, value)
        searcher.observe(f"{i:05d}", {"loss": value}, final=True)
    return best


def test_converges_on_a_sphere_with_log_and_integer_dims():
    spec = {**BOX, "lr": loguniform(1e-5, 1.0), "n": randint(1, 20)}
    searcher = started(spec)

    def loss(c):
        return sphere(c) + (np.log10(c["lr"]) + 3.0) ** 2 + (c["n"] - 7) ** 2

    assert run_sequential(searcher, loss, 300) < 1e-3


def test_a_generation_is_handed_out_then_waits_for_all_its_results():
    searcher = started(population_size=5)
    configs = [searcher.suggest(str(i)) for i in range(5)]
    assert all(isinstance(c, dict) for c in configs)
    assert len({(c["x"], c["y"]) for c in configs}) == 5
    assert searcher.suggest("5") is None  # the generation is out
    for i in range(4):  # results arrive in any order; nothing is told until the last
        searcher.observe(str(4 - i), {"loss": sphere(configs[4 - i])}, final=True)
        assert searcher.suggest("5") is None
    assert searcher._optimizer.generation == 0
    searcher.observe("0", {"loss": sphere(configs[0])}, final=True)
    assert searcher._optimizer.generation == 1
    assert isinstance(searcher.suggest("5"), dict)


def test_failed_trials_rank_behind_the_rest_of_their_generation():
    searcher = started(population_size=4)
    configs = [searcher.suggest(str(i)) for i in range(4)]
    searcher.observe("0", {}, final=True)                      # errored before reporting
    searcher.observe("1", {"loss": float("nan")}, final=True)  # reported NaN
    searcher.observe("2", {"loss": sphere(configs[2])}, final=True)
    searcher.observe("3", {"loss": sphere(configs[3])}, final=True)
    assert searcher._optimizer.generation == 1  # told, not stuck
    assert isinstance(searcher.suggest("4"), dict)


def test_a_generation_of_failures_is_told_too():
    searcher = started(population_size=4)
    for i in range(4):
        searcher.suggest(str(i))
    for i in range(4):
        searcher.observe(str(i), {}, final=True)
    assert searcher._optimizer.generation == 1


@pytest.mark.parametrize("restart", ["ipop", "bipop"])
def test_restarts_on_a_plateau(restart):
    searcher = started(restart=restart)

    def plateau(c):
        return float(np.floor(c["x"] ** 2 + c["y"] ** 2))

    run_sequential(searcher, plateau, 1500)
    assert searcher.restarts >= 2
    if restart == "ipop":  # every restart doubles the population
        assert searcher._optimizer.population_size == 6 * 2 ** searcher.restarts
    else:  # BIPOP runs both regimes
        assert searcher._budget["large"] > 0 and searcher._budget["small"] > 0


def test_no_restart_means_one_run():
    searcher = started(restart=None)
    run_sequential(searcher, lambda c: float(np.floor(c["x"] ** 2 + c["y"] ** 2)), 600)
    assert searcher.restarts == 0


def test_categorical_and_conditional_parameters_fall_back_with_one_warning():
    spec = {"x": uniform(0, 1), "act": ["relu", "tanh"],
            "model": choice([{"k": randint(1, 5)}, {"C": loguniform(0.1, 10)}])}
    searcher = CMAES()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        searcher.setup(Space(spec), "loss", "min", 0)
        run_sequential(searcher, lambda c: c["x"], 30)
    messages = [str(w.message) for w in caught if "CMAES" in str(w.message)]
    assert len(messages) == 1
    assert "'act'" in messages[0] and "'model'" in messages[0] and "'model/C'" in messages[0]
    assert list(searcher._cma_dims) == [0]


def test_only_categoricals_is_random_search():
    searcher = started({"a": ["x", "y", "z"], "b": [1, 2]})
    configs = [searcher.suggest(str(i)) for i in range(20)]
    assert {c["a"] for c in configs} == {"x", "y", "z"}


def test_x0_and_warm_start_set_the_first_mean():
    searcher = started(x0={"x": 1.0}, sigma0=0.01)
    config = searcher.suggest("0")
    assert abs(config["x"] - 1.0) < 0.5 and abs(config["y"]) < 0.5  # y: the middle
    warm = started(sigma0=0.01)
    warm.add_evaluated({"x": -4.0, "y": 4.0}, {"loss": 0.0})
    warm.add_evaluated({"x": 4.0, "y": 4.0}, {"loss": 9.0})
    config = warm.suggest("0")
    assert abs(config["x"] + 4.0) < 0.5 and abs(config["y"] - 4.0) < 0.5


def test_maximisation():
    searcher = CMAES()
    searcher.setup(Space(BOX), "score", "max", 0)
    best = -np.inf
    for i in range(200):
        config = searcher.suggest(str(i))
        score = -sphere(config)
        best = max(best, score)
        searcher.observe(str(i), {"score": score}, final=True)
    assert best > -1e-3


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"population_size": 3}, ValueError, r"population_size must be None or an int >= 4, got 3"),
    ({"population_size": 4.0}, ValueError, r"population_size must be .* got 4\.0"),
    ({"sigma0": 0}, ValueError, r"sigma0 must be None or a float in \(0, 1\].* got 0"),
    ({"sigma0": 2.0}, ValueError, r"sigma0 .* got 2\.0"),
    ({"restart": "lpop"}, ValueError, r"restart must be one of 'ipop', 'bipop' or None, "
                                      r"got 'lpop'"),
    ({"inc_popsize": 1}, ValueError, r"inc_popsize must be an int >= 2, got 1"),
    ({"lr_adapt": "yes"}, TypeError, r"lr_adapt must be a bool, got 'yes'"),
    ({"x0": [0.5]}, TypeError, r"x0 must be None or a config dict, got list"),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=f"CMAES: {message}"):
        CMAES(**kwargs)


def test_x0_outside_the_space_is_refused_at_setup():
    with pytest.raises(InvalidSpace, match="'z'"):
        started(x0={"z": 1.0})


def test_grid_domains_are_refused():
    with pytest.raises(ValueError, match="CMAES: grid domains"):
        started({"x": rs.grid([1, 2, 3])})


def test_names():
    assert isinstance(make_searcher("cmaes"), CMAES)
    assert isinstance(make_searcher("CMA-ES"), CMAES)
    assert rs.search.CMAES is CMAES
    assert "CMAES" in rs.search.__all__ and "Optuna" in rs.search.__all__


def test_importing_raysweep_imports_neither_cmaes_nor_optuna():
    code = ("import sys, raysweep, raysweep.search; "
            "print('cmaes' in sys.modules, 'optuna' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def test_a_missing_cmaes_package_names_the_extra():
    code = ("import sys; sys.modules['cmaes'] = None\n"
            "import raysweep as rs\n"
            "try:\n    rs.search.CMAES()\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "pip install 'raysweep[cmaes]'" in out


# -- driven by the real controller: several workers, a scheduler, a crash mid-generation ----
def _curve(config, iteration):
    """Trials of different lengths, so that results arrive out of order."""
    duration = 1.0 + 3.0 * abs(config["y"]) / 5.0
    return duration, {"loss": sphere(config) + 1.0 / iteration}


def _simulated_run(path, name, **kwargs):
    return rs.run(lambda config: None, BOX, search=CMAES(population_size=6), seed=2,
                  name=name, storage_path=str(path), verbose=0,
                  executor=rs.Simulated(3, _curve, max_iterations=3), **kwargs)


def test_generations_run_in_parallel_under_asha(tmp_path):
    results = _simulated_run(tmp_path, "asha", num_samples=36, scheduler="asha")
    frame = results.dataframe()
    assert len(frame) == 36 and set(frame.status) == {"TERMINATED"}
    stopped_early = (frame.training_iteration < 3).sum()
    assert stopped_early > 0  # ASHA stopped some: their last result is what CMA-ES learnt
    assert frame.loss.iloc[-6:].median() < frame.loss.iloc[:6].median()  # it learns


def test_a_driver_that_died_mid_generation_resumes_to_the_same_configs(tmp_path):
    import json
    import shutil

    whole = _simulated_run(tmp_path, "whole", num_samples=24)
    journal = (tmp_path / "whole" / "journal.jsonl").read_text().splitlines()
    running: set[str] = set()
    created, cut = 0, 0
    for line in journal:  # the first moment with 2+ trials in flight, late in the run
        event = json.loads(line)
        if event["e"] == "new":
            running.add(event["id"])
            created += 1
        elif event["e"] == "s" and event["s"] in ("TERMINATED", "ERROR"):
            running.discard(event["id"])
        if created >= 9 and len(running) >= 2:
            break
        cut += 1
    shutil.copytree(tmp_path / "whole", tmp_path / "cut")
    (tmp_path / "cut" / "journal.jsonl").write_text("\n".join(journal[: cut + 1]) + "\n")
    resumed = _simulated_run(tmp_path, "cut", num_samples=24, resume=True)
    assert [t.config for t in resumed.trials] == [t.config for t in whole.trials]


@pytest.mark.ray
def test_cmaes_and_an_optuna_sampler_on_ray_workers(ray_session, storage):
    import optuna

    def objective(config):
        if config["x"] > 4.5:
            raise RuntimeError("a failing corner")  # failures are part of a generation
        return {"loss": sphere(config)}

    for name, search in (("cma", "cmaes"),
                         ("opt", rs.search.Optuna(optuna.samplers.TPESampler(seed=0)))):
        results = rs.run(objective, BOX, search=search, num_samples=16, seed=0, verbose=0,
                         storage_path=storage, name=name)
        frame = results.dataframe()
        assert len(frame) == 16 and set(frame.status) <= {"TERMINATED", "ERROR"}
        assert results.best_config is not None
