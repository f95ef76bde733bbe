"""The simulated executor on inputs the first tests did not try: the same decisions as the
inline executor for every scheduler and model-based searchers, curves of odd shapes, reuse,
and experiment directories that read back like any other."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

import raysweep as rs
from raysweep.cli import main as cli
from raysweep.execution.simulated import Simulated
from test_simulated import SPACE, as_objective, curve, decisions, never_called


@pytest.mark.parametrize("scheduler,search,checkpoints", [
    ("median", "random", "pause"),
    ("bohb", None, "pause"),
    ("asha", "tpe", "pause"),
    ("hyperband", "gp", "pause"),
    ("fifo", "evolution", "pause"),
    (lambda: rs.schedulers.PBT(perturbation_interval=3,
                               hyperparam_mutations={"x": rs.uniform(0, 1)}), "random",
     "blocking"),
])
def test_same_decisions_as_inline_for_more_schedulers_and_searchers(storage, scheduler, search,
                                                                   checkpoints):
    common = {"metric": "loss", "mode": "min", "num_samples": 12, "seed": 11,
              "storage_path": storage, "verbose": 0}
    if search is not None:
        common["search"] = search
    make = scheduler if callable(scheduler) else (lambda: scheduler)
    inline = rs.run(as_objective(curve, 9), SPACE, executor="inline", name="inline",
                    scheduler=make(), **common)
    simulated = rs.run(never_called, SPACE, name="sim", scheduler=make(),
                       executor=Simulated(1, curve, max_iterations=9, checkpoints=checkpoints),
                       **common)
    assert simulated.dataframe()["status"].tolist() == inline.dataframe()["status"].tolist()
    assert decisions(simulated.path) == decisions(inline.path)
    assert simulated.best_config == inline.best_config


def test_a_reused_executor_gives_the_same_decisions_and_its_clock_goes_on(storage):
    executor = Simulated(3, curve, max_iterations=9)
    runs = [rs.run(never_called, SPACE, metric="loss", num_samples=10, seed=5, scheduler="asha",
                   storage_path=storage, name=name, verbose=0, executor=executor)
            for name in ("one", "two")]
    assert decisions(runs[0].path) == decisions(runs[1].path)
    stamps = []
    for results in runs:
        with open(os.path.join(results.path, "journal.jsonl"), encoding="utf-8") as handle:
            stamps.append([e["t"] for e in map(json.loads, handle) if "t" in e])
    assert min(stamps[1]) >= max(stamps[0])  # virtual time never goes back


def test_curves_of_every_shape(storage):
    seen = {}

    def with_default(config, iteration, scale=2.0):  # its own third parameter: no rng
        seen["scale"] = scale
        return [scale, np.float64(config["x"])]  # a list, a bare numpy number

    def with_rng(config, iteration, rng=None):
        seen["rng"] = type(rng).__name__
        return np.float32(1.0), {"loss": config["x"] + rng.normal(0, 0.01),
                                 "done": np.bool_(iteration >= 2)}

    for name, fn in (("default", with_default), ("rng", with_rng)):
        results = rs.run(never_called, SPACE, metric="loss", num_samples=3, storage_path=storage,
                         name=name, verbose=0, executor=Simulated(2, fn, max_iterations=4))
        assert results.status_counts() == {"TERMINATED": 3}
        assert type(results.best_result["loss"]) is float
    assert seen == {"scale": 2.0, "rng": "Generator"}
    assert results.history().groupby("trial_id").training_iteration.max().tolist() == [2] * 3


@pytest.mark.parametrize("returned,error,match", [
    ((1.0, {1: 0.5}), TypeError, r"metric names must be strings, got 1 for trial 00000 at "
                                 r"iteration 1"),
    ((1.0, "0.5"), TypeError, r"metrics must be a dict or a number, got str for trial 00000"),
    (0.5, TypeError, r"must return \(duration_s, metrics\), got 0.5 for trial 00000"),
    ((1.0, {"loss": 0.5}, 3), TypeError, r"must return \(duration_s, metrics\)"),
    ((True, {"loss": 0.5}), TypeError, r"duration_s must be a number, got True"),
    ((1.0, {"loss": np.float64("nan")}), ValueError, r"loss=nan for trial 00000 at iteration 1"),
])
def test_bad_curve_returns_name_the_trial_and_the_iteration(storage, returned, error, match):
    with pytest.raises(error, match=match):
        rs.run(never_called, SPACE, metric="loss", num_samples=2, storage_path=storage,
               verbose=0, executor=Simulated(1, lambda c, i: returned, max_iterations=3))


def test_bad_arguments_name_the_argument():
    with pytest.raises(TypeError, match="include_driver_time must be True or False, got 'yes'"):
        Simulated(2, curve, include_driver_time="yes")
    with pytest.raises(ValueError, match=r"start_time must be a finite number.*got nan"):
        Simulated(2, curve, start_time=math.nan)
    with pytest.raises(ValueError, match=r"latency_s must be a finite number >= 0, got True"):
        Simulated(2, curve, latency_s=True)
    with pytest.raises(TypeError, match="curve must be a callable"):
        Simulated(2, None)
    assert Simulated(np.int64(3), curve, max_iterations=np.int64(2)).workers == 3


def test_a_curve_that_raises_is_that_trials_error_and_the_sweep_goes_on(storage):
    def flaky(config, iteration):
        if config["x"] > 0.5 and iteration == 2:
            raise RuntimeError("curve blew up")
        return 1.0, {"loss": config["x"]}

    results = rs.run(never_called, SPACE, metric="loss", num_samples=10, seed=0,
                     storage_path=storage, verbose=0,
                     executor=Simulated(3, flaky, max_iterations=3))
    errors = [t for t in results.trials if t.status.value == "ERROR"]
    assert errors and all(t.config["x"] > 0.5 and "curve blew up" in t.error for t in errors)
    assert all(t.iteration == 1 for t in errors)
    assert results.status_counts()["TERMINATED"] == 10 - len(errors)


def test_stop_max_iterations_done_and_budget_in_virtual_time(storage):
    def slow(config, iteration):
        return 100.0, {"loss": config["x"] / iteration, "done": iteration == 5}

    common = {"metric": "loss", "num_samples": 6, "seed": 1, "storage_path": storage,
              "verbose": 0}
    by_done = rs.run(never_called, SPACE, name="done", executor=Simulated(6, slow), **common)
    assert by_done.dataframe()["training_iteration"].tolist() == [5] * 6
    by_max = rs.run(never_called, SPACE, name="max",
                    executor=Simulated(6, slow, max_iterations=3), **common)
    assert by_max.dataframe()["training_iteration"].tolist() == [3] * 6
    by_stop = rs.run(never_called, SPACE, name="stop", stop={"training_iteration": 2},
                     executor=Simulated(6, slow), **common)
    assert by_stop.dataframe()["training_iteration"].tolist() == [2] * 6
    executor = Simulated(2, slow)
    budget = rs.run(never_called, SPACE, name="budget", time_budget_s=250.0, executor=executor,
                    **common)
    # the budget is noticed at the first event after it (300 s); a trial running ahead
    # then makes one more report, its last, as a real worker does
    assert 300.0 <= executor.now() <= 400.0 and len(budget.history()) <= 2 * 4
    assert set(budget.status_counts()) == {"TERMINATED"}


def test_latency_delays_every_message(storage):
    def fixed(config, iteration):
        return 10.0, {"loss": config["x"]}

    executor = Simulated(1, fixed, max_iterations=3, latency_s=2.0)
    results = rs.run(never_called, SPACE, metric="loss", num_samples=2, storage_path=storage,
                     verbose=0, scheduler="fifo", executor=executor)
    # per trial: the start arrives 2 s late; fifo never blocks, so no decision round trips
    assert executor.now() == pytest.approx(2 * (2.0 + 30.0))
    assert results.dataframe()["time_total_s"].tolist() == pytest.approx([30.0, 30.0])


def test_the_experiment_reads_back_with_load_and_the_cli(storage, capsys):
    results = rs.run(never_called, SPACE, metric="loss", num_samples=20, seed=3,
                     storage_path=storage, name="simdir", verbose=0, scheduler="asha",
                     executor=Simulated(4, curve, max_iterations=9))
    loaded = rs.load(results.path)
    assert loaded.status_counts() == results.status_counts()
    assert loaded.best_config == results.best_config
    assert loaded.history()["loss"].tolist() == results.history()["loss"].tolist()
    assert cli(["ls", storage]) == 0 and "simdir" in capsys.readouterr().out
    assert cli(["show", results.path]) == 0 and "20 trials" in capsys.readouterr().out
    out = os.path.join(storage, "simdir.csv")
    assert cli(["export", results.path, "--format", "csv", "--out", out]) == 0
    with open(out, encoding="utf-8") as handle:
        assert sum(1 for _ in handle) == 21
