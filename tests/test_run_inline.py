"""Controller behaviour, fast and deterministic, on the in-process executor."""

from __future__ import annotations

import math
import os

import pandas as pd
import pytest

import raysweep as rs
from raysweep.errors import MissingMetric, TrialError


def run(objective, space, **kwargs):
    kwargs.setdefault("executor", "inline")
    kwargs.setdefault("verbose", 0)
    return rs.run(objective, space, **kwargs)


def test_number_dict_and_report_objectives(storage):
    def as_number(config):
        return (config["x"] - 3) ** 2

    def as_dict(config):
        return {"loss": (config["x"] - 3) ** 2, "aux": 1}

    def iterative(config):
        for step in range(4):
            rs.report({"loss": config["x"] / (step + 1)})

    for objective in (as_number, as_dict):
        results = run(objective, {"x": rs.uniform(-10, 10)}, num_samples=12, storage_path=storage)
        frame = results.dataframe()
        assert len(frame) == 12
        assert set(frame.status) == {"TERMINATED"}
        best = frame.loc[frame.loss.idxmin()]
        assert results.best_config["x"] == best["config/x"]
        assert results.best_result["loss"] == best["loss"]
    results = run(iterative, {"x": rs.uniform(0, 1)}, num_samples=3, storage_path=storage)
    assert list(results.dataframe().training_iteration) == [4, 4, 4]
    history = results.history()
    assert len(history) == 12
    assert list(history[history.trial_id == "00000"].training_iteration) == [1, 2, 3, 4]


def test_errors_are_recorded_and_the_sweep_goes_on(storage):
    def flaky(config):
        if config["x"] < 0.5:
            raise ValueError(f"bad x {config['x']}")
        return config["x"]

    results = run(flaky, {"x": rs.uniform(0, 1)}, num_samples=20, seed=3, storage_path=storage)
    frame = results.dataframe()
    errors = frame[frame.status == "ERROR"]
    assert 0 < len(errors) < 20
    assert all("ValueError: bad x" in text for text in results.errors.values())
    assert all(e.startswith("ValueError") for e in errors.error)
    assert results.best_config["x"] >= 0.5


def test_fail_fast_raises_the_first_error(storage):
    def broken(config):
        raise RuntimeError("boom")

    with pytest.raises(TrialError, match="boom"):
        run(broken, {"x": rs.uniform(0, 1)}, num_samples=5, fail_fast=True, storage_path=storage)


def test_missing_metric_names_the_metric_and_the_keys(storage):
    def wrong(config):
        return {"accuracy": 0.9, "f1": 0.5}

    with pytest.raises(MissingMetric, match=r"'loss'.*|.*\['accuracy', 'f1'\]"):
        run(wrong, {"x": rs.uniform(0, 1)}, num_samples=2, storage_path=storage)


def test_objective_returning_none_without_reports_is_an_error(storage):
    results = run(lambda config: None, {"x": rs.uniform(0, 1)}, num_samples=2,
                  storage_path=storage)
    assert set(results.dataframe().status) == {"ERROR"}
    assert "never called raysweep.report" in next(iter(results.errors.values()))


def test_nan_and_inf_are_recorded_but_never_best(storage):
    values = iter([float("nan"), float("inf"), 5.0, float("-inf"), 7.0])

    def objective(config):
        return next(values)

    results = run(objective, {"x": rs.uniform(0, 1)}, num_samples=5, mode="min",
                  storage_path=storage)
    frame = results.dataframe()
    assert frame.loss.isna().sum() == 1
    assert results.best_result["loss"] == 5.0
    assert math.isfinite(results.best_result["loss"])


@pytest.mark.parametrize("mode", ["min", "max"])
def test_scope_last_and_all_agree_across_dataframe_and_best(storage, mode):
    curves = {0: [5.0, 1.0, 4.0], 1: [3.0, 2.5, 2.0], 2: [9.0, 8.0, 0.5]}

    def objective(config):
        for value in curves[config["i"]]:
            rs.report({"loss": value})

    space = {"i": rs.grid([0, 1, 2])}
    for scope in ("last", "all"):
        results = run(objective, space, mode=mode, scope=scope, storage_path=storage)
        frame = results.dataframe()
        pick = frame.loss.idxmin() if mode == "min" else frame.loss.idxmax()
        assert results.best_config == {"i": int(frame.loc[pick, "config/i"])}
        assert results.best_result["loss"] == frame.loc[pick, "loss"]
    # last values: 4, 2, 0.5; best values: 1, 2, 0.5 (min) / 5, 3, 9 (max)
    last = run(objective, space, mode=mode, scope="last", storage_path=storage)
    every = run(objective, space, mode=mode, scope="all", storage_path=storage)
    if mode == "min":
        assert last.best_config == {"i": 2} and every.best_config == {"i": 2}
    else:
        assert last.best_config == {"i": 0} and every.best_config == {"i": 2}
        assert every.best_result["loss"] == 9.0


def test_stop_criteria(storage):
    def forever(config):
        step = 0
        while True:
            step += 1
            rs.report({"loss": 1.0 / step, "acc": step / 10})

    space = {"x": rs.uniform(0, 1)}
    by_iteration = run(forever, space, num_samples=2, stop={"training_iteration": 7},
                       storage_path=storage)
    assert list(by_iteration.dataframe().training_iteration) == [7, 7]
    by_metric = run(forever, space, num_samples=1, stop={"loss": 0.2}, storage_path=storage)
    assert by_metric.dataframe().training_iteration.iloc[0] == 5  # 1/5 <= 0.2 (mode=min)
    by_other = run(forever, space, num_samples=1, stop={"acc": 0.3}, storage_path=storage)
    assert by_other.dataframe().training_iteration.iloc[0] == 3
    by_callable = run(forever, space, num_samples=1, storage_path=storage,
                      stop=lambda trial_id, result: result["training_iteration"] >= 4)
    assert by_callable.dataframe().training_iteration.iloc[0] == 4
    assert set(by_callable.dataframe().status) == {"TERMINATED"}


def test_time_budget_stops_the_run(storage):
    import time

    def slow(config):
        for _ in range(1000):
            time.sleep(0.01)
            rs.report({"loss": config["x"]})

    start = time.monotonic()
    results = run(slow, {"x": rs.uniform(0, 1)}, num_samples=50, time_budget_s=0.5,
                  storage_path=storage)
    assert time.monotonic() - start < 5
    assert len(results) < 50
    assert set(results.dataframe().status) <= {"TERMINATED"}


def test_trainable_class(storage):
    class Quadratic(rs.Trainable):
        max_iterations = 6

        def setup(self, config):
            self.x = 0.0
            self.lr = config["lr"]

        def step(self):
            self.x += self.lr
            return {"loss": (self.x - 1.0) ** 2}

        def save(self):
            return {"x": self.x}

        def restore(self, state):
            self.x = state["x"]

    results = run(Quadratic, {"lr": rs.uniform(0.1, 0.3)}, num_samples=3, storage_path=storage)
    frame = results.dataframe()
    assert list(frame.training_iteration) == [6, 6, 6]
    checkpoint = results.get_checkpoint("00000")
    assert checkpoint["x"] == pytest.approx(6 * frame.loc[0, "config/lr"])


def test_grid_is_complete_and_repeated(storage):
    seen = []

    def objective(config):
        seen.append((config["a"], config["b"]))
        return config["a"] * 10 + config["b"] + config["noise"]

    space = {"a": rs.grid([1, 2, 3]), "b": rs.grid(["x", "y"]), "noise": rs.uniform(0, 0.1)}
    space["b"] = rs.grid([0, 1])
    results = run(objective, space, num_samples=2, storage_path=storage)
    assert len(results) == 12
    assert sorted(seen) == sorted([(a, b) for a in (1, 2, 3) for b in (0, 1)] * 2)


def test_seed_gives_the_same_configs(storage):
    space = {"x": rs.uniform(0, 1), "k": rs.randint(1, 30), "m": ["a", "b", "c"]}
    first = run(lambda c: c["x"], space, num_samples=8, seed=11, storage_path=storage)
    second = run(lambda c: c["x"], space, num_samples=8, seed=11, storage_path=storage)
    other = run(lambda c: c["x"], space, num_samples=8, seed=12, storage_path=storage)
    configs = lambda r: [t.config for t in r.trials]  # noqa: E731
    assert configs(first) == configs(second)
    assert configs(first) != configs(other)


def test_conditional_space_reaches_the_objective(storage):
    import scipy.stats

    seen = []

    def objective(config):
        seen.append(config)
        return 0.0

    space = {
        "model": rs.choice([{"type": "knn", "k": rs.randint(1, 30)},
                            {"type": "svm", "C": rs.loguniform(1e-2, 1e2)}]),
        "gamma": scipy.stats.loguniform(1e-4, 1e1),
        "kernel": ["rbf", "poly"],
        "depth": scipy.stats.randint(1, 40),
        "const": 7,
    }
    results = run(objective, space, num_samples=30, seed=0, storage_path=storage)
    assert len(seen) == 30
    for config in seen:
        assert config["const"] == 7
        assert config["kernel"] in ("rbf", "poly")
        assert isinstance(config["depth"], int) and 1 <= config["depth"] < 40
        model = config["model"]
        if model["type"] == "knn":
            assert set(model) == {"type", "k"} and 1 <= model["k"] < 30
        else:
            assert set(model) == {"type", "C"} and 1e-2 <= model["C"] <= 1e2
    columns = results.dataframe().columns
    assert "config/model/type" in columns and "config/model/k" in columns


def test_load_reads_the_directory_back_without_the_run(storage):
    def objective(config):
        for step in range(3):
            rs.report({"loss": config["x"] * (3 - step)})

    results = run(objective, {"x": rs.uniform(0, 1)}, num_samples=5, name="loadme",
                  storage_path=storage)
    loaded = rs.load(os.path.join(storage, "loadme"))
    pd.testing.assert_frame_equal(results.dataframe(), loaded.dataframe())
    assert loaded.best_config == results.best_config
    assert len(loaded.history()) == 15
    files = sorted(os.listdir(os.path.join(storage, "loadme")))
    assert {"experiment.json", "journal.jsonl", "results.csv"} <= set(files)
    csv = pd.read_csv(os.path.join(storage, "loadme", "results.csv"))
    assert len(csv) == 5


def test_many_trivial_trials_make_a_handful_of_files(storage):
    results = run(lambda c: c["x"], {"x": rs.uniform(0, 1)}, num_samples=2000, name="many",
                  storage_path=storage)
    assert len(results) == 2000
    count = sum(len(files) for _, _, files in os.walk(os.path.join(storage, "many")))
    assert count <= 8  # settings, journal, results.csv, progress.csv/jsonl, lock, run args
    size = os.path.getsize(os.path.join(storage, "many", "journal.jsonl"))
    assert size / 2000 < 400  # bytes per trivial trial


def test_huge_grid_is_not_materialised(storage):
    space = {f"p{i}": rs.grid(list(range(10))) for i in range(8)}  # 10^8 points
    results = run(lambda c: sum(c.values()), space, search="random", num_samples=5,
                  storage_path=storage)
    assert len(results) == 5
    grid = run(lambda c: sum(c.values()), {**space, "p0": rs.grid(list(range(10)))},
               search="grid", num_samples=1, time_budget_s=0.3, storage_path=storage)
    assert 0 < len(grid) < 10**8


def test_callbacks_see_every_event(storage):
    events = []

    class Recorder(rs.Callback):
        def on_trial_start(self, trial):
            events.append(("start", trial.trial_id))

        def on_trial_result(self, trial, result):
            events.append(("result", trial.trial_id))

        def on_trial_complete(self, trial):
            events.append(("complete", trial.trial_id))

        def on_experiment_end(self, results):
            events.append(("end", len(results)))

    run(lambda c: c["x"], {"x": rs.uniform(0, 1)}, num_samples=2, callbacks=[Recorder()],
        storage_path=storage)
    assert events == [("start", "00000"), ("result", "00000"), ("complete", "00000"),
                      ("start", "00001"), ("result", "00001"), ("complete", "00001"),
                      ("end", 2)]
