"""The same contract on a real local Ray runtime (one shared session, num_cpus=2)."""

from __future__ import annotations

import os
import time

import pytest

import raysweep as rs

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]


def test_trivial_sweep_runs_on_reused_actors(storage):
    def objective(config):
        return {"loss": (config["x"] - 3) ** 2, "pid": os.getpid()}

    results = rs.run(objective, {"x": rs.uniform(-10, 10), "k": rs.randint(1, 30)},
                     metric="loss", mode="min", num_samples=200, verbose=0,
                     storage_path=storage)
    frame = results.dataframe()
    assert len(frame) == 200 and set(frame.status) == {"TERMINATED"}
    assert frame.pid.nunique() <= 2  # two long-lived workers, reused for every trial
    assert os.getpid() not in set(frame.pid)
    assert frame["config/k"].between(1, 29).all()
    assert results.best_result["loss"] == frame.loss.min()


def test_objects_the_objective_captured_from_the_object_store(storage):
    """The Ray Tune ``with_parameters`` pattern: data put once, its ObjectRef captured by the
    objective (and held by a Trainable's class); ray.get works inside trials."""
    import numpy as np
    import ray

    ref = ray.put(np.arange(10.0))

    def objective(config):
        return float(ray.get(ref, timeout=60).sum()) * config["x"]

    results = rs.run(objective, {"x": rs.grid([1.0, 2.0, 3.0])}, verbose=0,
                     storage_path=storage)
    assert sorted(results.dataframe()["loss"]) == [45.0, 90.0, 135.0]

    class Model(rs.Trainable):
        data = ref

        def setup(self, config):
            self.total = float(ray.get(self.data, timeout=60).sum())

        def step(self):
            return {"loss": self.total * self.config["x"]}

    results = rs.run(Model, {"x": rs.grid([1.0, 2.0])}, stop={"training_iteration": 2},
                     verbose=0, storage_path=storage)
    assert sorted(results.dataframe()["loss"]) == [45.0, 90.0]


def test_errors_and_iterative_reports_on_ray(storage):
    def objective(config):
        for step in range(5):
            if config["x"] > 0.7 and step == 2:
                raise KeyError("deliberate")
            rs.report({"loss": config["x"] + step})

    results = rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=20, seed=5, verbose=0,
                     storage_path=storage)
    frame = results.dataframe()
    assert set(frame.status) == {"TERMINATED", "ERROR"}
    assert (frame[frame.status == "ERROR"]["config/x"] > 0.7).all()
    assert (frame[frame.status == "TERMINATED"].training_iteration == 5).all()
    assert all("KeyError: 'deliberate'" in text for text in results.errors.values())


def test_infeasible_resources_fail_before_any_trial(storage):
    with pytest.raises(ValueError, match=r"resources_per_trial=.*cannot be satisfied"):
        rs.run(lambda c: 0.0, {"x": rs.uniform(0, 1)}, num_samples=2, verbose=0,
               resources_per_trial={"cpu": 64}, storage_path=storage)
    with pytest.raises(ValueError, match="cannot be satisfied"):
        rs.run(lambda c: 0.0, {"x": rs.uniform(0, 1)}, num_samples=2, verbose=0,
               resources_per_trial={"cpu": 1, "unicorn": 1}, storage_path=storage)


def test_fractional_resources_and_max_concurrent(storage):
    def objective(config):
        time.sleep(0.05)
        return {"loss": config["x"], "pid": os.getpid()}

    results = rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=8, verbose=0,
                     resources_per_trial={"cpu": 0.5}, max_concurrent=3,
                     storage_path=storage)
    assert results.dataframe().pid.nunique() <= 3


def test_worker_death_is_retried_from_the_checkpoint(storage, tmp_path):
    marker = str(tmp_path / "died")

    def objective(config):
        start = (rs.get_checkpoint() or {"step": 0})["step"]
        for step in range(start, 6):
            if step == 3 and not os.path.exists(marker):
                open(marker, "w").close()
                os._exit(1)
            rs.report({"loss": float(step)}, checkpoint={"step": step + 1})

    results = rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=1, max_failures=1,
                     verbose=0, storage_path=storage, name="retry")
    frame = results.dataframe()
    assert list(frame.status) == ["TERMINATED"]
    assert results.trials[0].num_failures == 1
    history = results.history()
    assert list(history.training_iteration) == [1, 2, 3, 4, 5, 6]  # no gap, no repeat
    assert list(history.loss) == [0, 1, 2, 3, 4, 5]


def test_worker_death_without_retries_is_an_error_and_the_sweep_goes_on(storage):
    def objective(config):
        if config["i"] == 1:
            os._exit(1)
        return float(config["i"])

    results = rs.run(objective, {"i": rs.grid([0, 1, 2, 3])}, max_failures=0, verbose=0,
                     storage_path=storage)
    frame = results.dataframe().set_index("config/i")
    assert frame.loc[1, "status"] == "ERROR"
    assert "died" in frame.loc[1, "error"] or "max_failures" in frame.loc[1, "error"]
    assert list(frame.loc[[0, 2, 3], "status"]) == ["TERMINATED"] * 3


def test_trial_timeout_stops_a_stuck_trial(storage):
    def objective(config):
        if config["i"] == 0:
            time.sleep(120)  # stuck, never reports
        return float(config["i"])

    start = time.monotonic()
    results = rs.run(objective, {"i": rs.grid([0, 1, 2])}, trial_timeout_s=1.5, verbose=0,
                     storage_path=storage)
    assert time.monotonic() - start < 60
    frame = results.dataframe().set_index("config/i")
    assert frame.loc[0, "status"] == "ERROR"
    assert "trial_timeout_s" in results.errors[frame.loc[0, "trial_id"]]
    assert list(frame.loc[[1, 2], "status"]) == ["TERMINATED", "TERMINATED"]


def test_unpicklable_checkpoint_is_a_clear_trial_error(storage):
    import threading

    def objective(config):
        rs.report({"loss": 1.0}, checkpoint={"lock": threading.Lock()})

    results = rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=1, verbose=0,
                     storage_path=storage)
    error = next(iter(results.errors.values()))
    assert "trial 00000" in error and "could not be pickled" in error


def test_directory_checkpoints_travel_to_the_driver(storage, tmp_path):
    def objective(config):
        import tempfile

        previous = rs.get_checkpoint()
        assert previous is None
        directory = tempfile.mkdtemp()
        with open(os.path.join(directory, "weights.txt"), "w") as handle:
            handle.write(f"x={config['x']}")
        rs.report({"loss": config["x"]}, checkpoint=rs.Checkpoint.from_directory(directory))

    results = rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=2, verbose=0,
                     storage_path=storage)
    checkpoint = results.best_checkpoint
    assert isinstance(checkpoint, rs.Checkpoint)
    with open(os.path.join(checkpoint.path, "weights.txt")) as handle:
        assert handle.read() == f"x={results.best_config['x']}"


def test_objective_contract_edges_on_ray(storage):
    """numpy scalars, a bool, a non-dict report and a one-argument stop callable on Ray workers:
    the same outcomes as inline, and a bad trial never takes the driver down."""
    import numpy as np

    def objective(config):
        kind = config["kind"]
        if kind == "numpy":
            for _ in range(5):
                rs.report({"loss": np.float32(0.5), "step": np.int64(1)})
        elif kind == "bool":
            return True
        else:
            rs.report(0.5)
        return None

    def stop(result):
        return result["training_iteration"] >= 2

    results = rs.run(objective, {"kind": rs.grid(["numpy", "bool", "report"])}, stop=stop,
                     verbose=0, storage_path=storage)
    frame = results.dataframe().set_index("config/kind")
    assert frame.loc["numpy", "status"] == "TERMINATED"
    assert frame.loc["numpy", "training_iteration"] == 2
    assert type(results.best_result["loss"]) is float and results.best_result["step"] == 1
    assert frame.loc["bool", "status"] == "ERROR" and "got bool" in frame.loc["bool", "error"]
    assert frame.loc["report", "status"] == "ERROR"
    assert "metrics must be a dict" in frame.loc["report", "error"]
