"""``rs.Trainable`` as Ray Tune users write them: pause/resume, clones, what ``save`` may
return, ``done`` and ``max_iterations``; hooks and the class API on a real Ray too."""

from __future__ import annotations

import collections
import json
import os
import tempfile

import pytest

import raysweep as rs


class Counter(rs.Trainable):
    """State ``x`` counts the steps this trial has really made: a resume that lost its
    state, or a clone that did not copy it, shows as ``x != training_iteration``."""

    max_iterations = 9

    def setup(self, config):
        self.x = 0
        self.lr = config["lr"]

    def step(self):
        self.x += 1
        return {"loss": abs(self.lr - 0.3) + 1.0 / self.x, "x": self.x}

    def save(self):
        return {"x": self.x}

    def restore(self, state):
        self.x = state["x"]


def _consistent(results) -> None:
    history = results.history()
    assert (history["x"] == history["training_iteration"]).all()


def _journal(results) -> list[dict]:
    with open(os.path.join(results.path, "journal.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_hyperband_pauses_and_resumes_a_trainable_where_it_stopped(storage):
    results = rs.run(Counter, {"lr": rs.uniform(0, 1)}, metric="loss", num_samples=9, seed=1,
                     scheduler=rs.schedulers.Hyperband(max_t=9, reduction_factor=3),
                     executor="inline", storage_path=storage, verbose=0)
    assert results.status_counts() == {"TERMINATED": 9}
    assert any(e["e"] == "s" and e["s"] == "PAUSED" for e in _journal(results))
    for trial_id, group in results.history().groupby("trial_id"):
        assert group.training_iteration.tolist() == list(range(1, len(group) + 1)), trial_id
    _consistent(results)
    assert results.best_checkpoint == {"x": results.best_trial.iteration}


def test_a_trainable_without_save_restarts_from_scratch_not_with_a_fresh_model(storage):
    """``save`` not implemented (returns None): a paused trial cannot resume its state, so
    it restarts at iteration 1; it used to go on at the next iteration with a new model."""

    class NoSave(rs.Trainable):
        max_iterations = 9

        def setup(self, config):
            self.x = 0

        def step(self):
            self.x += 1
            return {"loss": 1.0 / self.x, "x": self.x}

    results = rs.run(NoSave, {"lr": rs.uniform(0, 1)}, metric="loss", num_samples=9, seed=1,
                     scheduler=rs.schedulers.Hyperband(max_t=9, reduction_factor=3),
                     executor="inline", storage_path=storage, verbose=0)
    assert results.status_counts() == {"TERMINATED": 9}
    _consistent(results)
    assert not os.path.exists(os.path.join(results.path, "trials"))  # nothing to checkpoint
    assert results.best_checkpoint is None


def test_save_may_return_a_directory_checkpoint(storage):
    class Files(rs.Trainable):
        max_iterations = 6

        def setup(self, config):
            self.x = 0
            self.restored_from = None

        def step(self):
            self.x += 1
            return {"loss": 1.0 / self.x + config_term(self.config), "x": self.x}

        def save(self):
            folder = tempfile.mkdtemp()
            os.makedirs(os.path.join(folder, "nested", "deeper"))
            with open(os.path.join(folder, "nested", "deeper", "x.txt"), "w") as handle:
                handle.write(str(self.x))
            return rs.Checkpoint.from_directory(folder)

        def restore(self, checkpoint):
            assert isinstance(checkpoint, rs.Checkpoint)
            with checkpoint.as_directory() as path:
                with open(os.path.join(path, "nested", "deeper", "x.txt")) as handle:
                    self.x = int(handle.read())

    def config_term(config):
        return config["lr"]

    results = rs.run(Files, {"lr": rs.uniform(0, 1)}, metric="loss", num_samples=9, seed=2,
                     scheduler=rs.schedulers.Hyperband(max_t=6, reduction_factor=3),
                     executor="inline", storage_path=storage, verbose=0)
    assert results.status_counts() == {"TERMINATED": 9}
    _consistent(results)
    best = results.best_checkpoint
    assert isinstance(best, rs.Checkpoint)
    with open(os.path.join(best.path, "nested", "deeper", "x.txt")) as handle:
        assert int(handle.read()) == results.best_trial.iteration


def test_done_and_max_iterations_end_a_trainable(storage):
    class Done(rs.Trainable):
        max_iterations = 100

        def setup(self, config):
            self.i = 0

        def step(self):
            self.i += 1
            return {"loss": 1.0 / self.i, "done": self.i >= config_limit(self.config)}

    def config_limit(config):
        return config["limit"]

    results = rs.run(Done, {"limit": rs.choice([2, 4])}, metric="loss", num_samples=6, seed=0,
                     executor="inline", storage_path=storage, name="done", verbose=0)
    for trial in results.trials:
        assert trial.iteration == trial.config["limit"]
    assert "done" not in results.history().columns

    class Capped(Counter):
        max_iterations = 3

    capped = rs.run(Capped, {"lr": rs.uniform(0, 1)}, metric="loss", num_samples=3,
                    executor="inline", storage_path=storage, name="capped", verbose=0)
    assert capped.dataframe()["training_iteration"].tolist() == [3, 3, 3]
    stopped = rs.run(Counter, {"lr": rs.uniform(0, 1)}, metric="loss", num_samples=3,
                     stop={"training_iteration": 2}, executor="inline", storage_path=storage,
                     name="stopped", verbose=0)
    assert stopped.dataframe()["training_iteration"].tolist() == [2, 2, 2]


@pytest.mark.parametrize("value,match", [
    (0, "max_iterations must be None"), (-1, "max_iterations must be None"),
    (2.5, "max_iterations must be None"), ("5", "max_iterations must be None"),
])
def test_bad_max_iterations_is_refused_before_any_trial(storage, value, match):
    class Bad(Counter):
        max_iterations = value

    with pytest.raises(ValueError, match=match):
        rs.run(Bad, {"lr": rs.uniform(0, 1)}, metric="loss", num_samples=2, executor="inline",
               storage_path=storage, verbose=0)


# ------------------------------------------------------------------------------- on Ray
class _Counts(rs.Callback):
    def __init__(self):
        self.counts = collections.Counter()
        self.completed: list[str] = []

    def on_experiment_start(self, path, settings):
        self.counts["experiment_start"] += 1

    def on_trial_start(self, trial):
        self.counts["start"] += 1

    def on_trial_result(self, trial, result):
        assert result["trial_id"] == trial.trial_id
        self.counts["result"] += 1

    def on_trial_complete(self, trial):
        self.completed.append(trial.trial_id)

    def on_experiment_end(self, results):
        self.counts["experiment_end"] += 1


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_pbt_clones_a_trainable_on_ray_and_hooks_run_as_documented(storage):
    counts = _Counts()

    class Long(Counter):
        max_iterations = 12

    pbt = rs.schedulers.PBT(perturbation_interval=3, hyperparam_mutations={"lr": rs.uniform(0, 1)})
    results = rs.run(Long, {"lr": rs.uniform(0, 1)}, metric="loss", num_samples=4, seed=0,
                     scheduler=pbt, storage_path=storage, name="pbt", verbose=0,
                     callbacks=[counts])
    assert results.status_counts() == {"TERMINATED": 4}
    forks = [e for e in _journal(results) if e["e"] == "fork"]
    assert forks, "PBT cloned no trial"
    _consistent(results)  # every clone carried its donor's state
    assert counts.counts["experiment_start"] == counts.counts["experiment_end"] == 1
    # one call per journaled report (history() drops the reports a fork back to an earlier
    # iteration superseded, so it may hold fewer rows)
    reports = [e for e in _journal(results) if e["e"] == "r"]
    assert counts.counts["result"] == len(reports) >= len(results.history())
    assert counts.counts["start"] >= 4 + len(forks)  # a clone is a start of its own
    assert sorted(counts.completed) == [t.trial_id for t in results.trials]

    class Broken(rs.Callback):
        def on_trial_result(self, trial, result):
            if result["training_iteration"] == 2:
                raise RuntimeError("boom in a callback")

    common = {"metric": "loss", "num_samples": 4, "storage_path": storage, "name": "broken",
              "verbose": 0, "seed": 1}
    with pytest.raises(RuntimeError, match="boom in a callback"):
        rs.run(Long, {"lr": rs.uniform(0, 1)}, callbacks=[Broken()], **common)
    resumed = rs.run(Long, {"lr": rs.uniform(0, 1)}, resume=True, **common)
    assert resumed.status_counts() == {"TERMINATED": 4}
    _consistent(resumed)
