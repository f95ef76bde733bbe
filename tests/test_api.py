"""What users of Ray Tune and Optuna try on ``rs.run``, ``rs.restore``, ``rs.load`` and
``Results``: every bad input gets a clear error before any trial, the objective contract holds
at its edges, and resuming continues the stored experiment."""

from __future__ import annotations

import logging
import math
import os
import warnings

import numpy as np
import pandas as pd
import pytest

import raysweep as rs
from raysweep.errors import ResumeMismatch

SPACE = {"x": rs.uniform(0, 1)}


def run(objective, space=SPACE, **kwargs):
    args = {"executor": "inline", "verbose": 0, "num_samples": 2, "seed": 0}
    args.update(kwargs)
    return rs.run(objective, space, **args)


class NoStep(rs.Trainable):
    max_iterations = 3


class Steps(rs.Trainable):
    max_iterations = 0

    def step(self):
        return {"loss": 1.0}


def generator_objective(config):
    yield {"loss": config["x"]}


async def async_objective(config):
    return config["x"]


@pytest.mark.parametrize("kwargs, error, match", [
    ({"name": ".."}, ValueError, r"name must be .*not '\.' or '\.\.'.*got '\.\.'"),
    ({"name": "."}, ValueError, r"name must be .*got '\.'"),
    ({"name": "a/b"}, ValueError, "name must be"),
    ({"stop": lambda: True}, TypeError, r"stop: the callable .* must take \(trial_id, result\)"),
    ({"stop": lambda a, b, c: True}, TypeError, r"stop: the callable .*\(a, b, c\)"),
    ({"stop": {"training_iteration": float("nan")}}, ValueError,
     r"stop\['training_iteration'\] must be a number, got nan"),
    ({"stop": {3: 1}}, TypeError, "stop keys must be names"),
    ({"resources_per_trial": {"cpus": 1}}, ValueError,
     r"resources_per_trial: unknown key 'cpus'; did you mean 'cpu'"),
    ({"resources_per_trial": {"num_gpus": 1}}, ValueError, "did you mean 'gpu'"),
    ({"resources_per_trial": {"cpu": 1, "CPU": 2}}, ValueError, "'CPU' is given twice"),
    ({"resources_per_trial": {"cpu": 0}, "executor": "ray"}, ValueError,
     "asks for no resources.*pass max_concurrent="),
    ({"trial_timeout_s": 5}, ValueError, "trial_timeout_s=5 needs the Ray executor"),
    ({"callbacks": 3}, TypeError, "callbacks must be a list"),
    ({"objective": NoStep}, TypeError, "the Trainable NoStep must implement step"),
    ({"objective": NoStep({})}, TypeError, "pass the Trainable class NoStep, not an instance"),
    ({"objective": Steps}, ValueError, r"Steps.max_iterations must be None or an int >= 1"),
    ({"objective": generator_objective}, TypeError, "is a generator function"),
    ({"objective": async_objective}, TypeError, "is an async function"),
])
def test_more_bad_arguments_raise_before_any_trial(kwargs, error, match, storage):
    calls = []

    def tracked(config):
        calls.append(config)
        return 0.0

    objective = kwargs.pop("objective", tracked)
    with pytest.raises(error, match=match):
        run(objective, storage_path=storage, **kwargs)
    assert calls == []
    assert not os.path.exists(os.path.join(os.path.dirname(storage), "experiment.json"))


def test_storage_path_or_name_that_is_a_file(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ValueError, match="storage_path must be a directory.*which is a file"):
        run(lambda c: 0.0, storage_path=str(afile))
    with pytest.raises(ValueError, match="name='afile'.*is a file"):
        run(lambda c: 0.0, storage_path=str(tmp_path), name="afile")


@pytest.mark.parametrize("returned, ok", [
    (np.float32(0.5), True), (np.int64(2), True), (np.array(0.25), True), (3, True),
    (True, False), (np.bool_(False), False), ("0.5", False), ([0.5], False),
])
def test_returned_values(returned, ok, storage):
    results = run(lambda c: returned, storage_path=storage, num_samples=1)
    frame = results.dataframe()
    if ok:
        assert frame.status.tolist() == ["TERMINATED"]
        assert results.best_result["loss"] == float(returned)
        assert type(results.best_result["loss"]) is float
    else:
        assert frame.status.tolist() == ["ERROR"]
        assert "must return a number, a dict of metrics or None, got" in \
            next(iter(results.errors.values()))
        assert results.best_config is None


def test_report_of_a_non_dict_or_non_string_keys_fails_the_trial_not_the_run(storage):
    def objective(config):
        if config["i"] == 0:
            rs.report(0.5)
        elif config["i"] == 1:
            rs.report({1: 2.0, "loss": 1.0})
        else:
            rs.report(loss=0.25)

    results = run(objective, {"i": rs.grid([0, 1, 2])}, storage_path=storage, num_samples=1)
    errors = results.errors
    assert "raysweep.report: metrics must be a dict" in errors["00000"]
    assert "metric names must be strings, got 1" in errors["00001"]
    assert results.best_result["loss"] == 0.25
    assert results.history().trial_id.tolist() == ["00002"]  # nothing half-recorded


def test_last_report_without_the_metric_keeps_the_trial_comparable(storage):
    """Ray Tune's scope="last" is the last reported value of the metric."""
    def objective(config):
        rs.report({"loss": config["i"] + 1.0})
        rs.report({"loss": config["i"] + 0.5})
        rs.report({"done_epochs": 2})  # e.g. a final bookkeeping report

    results = run(objective, {"i": rs.grid([0, 1])}, storage_path=storage, num_samples=1,
                  name="lastmetric")
    assert results.best_config == {"i": 0}
    assert results.best_result["loss"] == 0.5
    frame = results.dataframe()
    assert frame.loss.tolist() == [0.5, 1.5]  # the same rule as best_result
    loaded = rs.load(results.path)
    assert loaded.best_config == {"i": 0}
    pd.testing.assert_frame_equal(loaded.dataframe(), frame)
    assert "no trial has a finite" not in results.summary()


def test_stop_callables_of_either_signature(storage):
    def by_result(result, *, limit=2):
        return result["training_iteration"] >= limit

    class Stopper:
        def __call__(self, trial_id, result):
            return result["training_iteration"] >= 3

    def forever(config):
        while True:
            rs.report({"loss": config["x"]})

    for stop, expected in ((by_result, 2), (Stopper(), 3)):
        results = run(forever, stop=stop, storage_path=storage, num_samples=1)
        assert results.dataframe().training_iteration.tolist() == [expected]


def test_a_stop_key_no_trial_reports_is_warned_about(storage, caplog):
    with caplog.at_level(logging.WARNING, logger="raysweep"):
        results = run(lambda c: c["x"], stop={"val_loss": 0.1}, storage_path=storage)
    assert len(results) == 2
    assert "no trial reported 'val_loss'" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="raysweep"):
        run(lambda c: c["x"], stop={"loss": 0.0}, storage_path=storage)
    assert "no trial reported" not in caplog.text


def test_all_trials_failed(storage):
    def boom(config):
        raise ValueError("boom")

    results = run(boom, storage_path=storage, num_samples=3)
    assert results.best_config is None and results.best_result is None
    assert results.best_trial is None and results.best_checkpoint is None
    frame = results.dataframe()
    assert {"trial_id", "status", "loss", "training_iteration", "time_total_s",
            "error"} <= set(frame.columns)
    assert frame.loss.isna().all() and (frame.error == "ValueError: boom").all()
    assert {"trial_id", "training_iteration", "loss"} <= set(results.history().columns)
    assert len(results.errors) == 3
    assert "3 failed" in results.summary()
    assert "3 error" in results._repr_html_()
    assert len(results.top(np.int64(2))) == 2


def test_get_checkpoint_of_unknown_trials_and_iterations(storage):
    def objective(config):
        for step in range(3):
            rs.report({"loss": config["x"] + step}, checkpoint={"step": step})

    results = run(objective, storage_path=storage, num_samples=1, keep_checkpoints=2)
    assert results.get_checkpoint("00000") == {"step": 2}
    assert results.get_checkpoint("00000", iteration=2) == {"step": 1}
    with pytest.raises(KeyError, match=r"no checkpoint at iteration 1; it has \[2, 3\]"):
        results.get_checkpoint("00000", iteration=1)
    with pytest.raises(KeyError, match="no trial 'nope'"):
        results.get_checkpoint("nope")


def test_load_and_restore_of_missing_or_foreign_directories(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a raysweep experiment directory"):
        rs.load(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="not a raysweep experiment directory"):
        rs.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a raysweep experiment directory"):
        rs.restore(tmp_path / "missing", lambda c: 0.0)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "experiment.json").write_text("{not json")
    with pytest.raises(ValueError, match="experiment.json: not a valid raysweep experiment"):
        rs.load(foreign)
    (foreign / "experiment.json").write_text('{"name": "other tool"}')
    with pytest.raises(ValueError, match="experiment.json: not a raysweep experiment file"):
        rs.load(foreign)


def test_resume_without_num_samples_continues_the_stored_experiment(storage):
    calls = []

    def objective(config):
        calls.append(config)
        return config["x"]

    first = run(objective, storage_path=storage, name="exp", num_samples=4)
    again = rs.run(objective, SPACE, executor="inline", verbose=0, storage_path=storage,
                   name="exp", resume=True)
    assert len(again) == 4 and len(calls) == 4  # not extended to the default 10
    assert [t.config for t in again.trials] == [t.config for t in first.trials]


def test_resume_with_fewer_samples_keeps_every_trial(storage, caplog):
    run(lambda c: c["x"], storage_path=storage, name="exp", num_samples=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no replay disagreement
        with caplog.at_level(logging.WARNING, logger="raysweep"):
            results = run(lambda c: c["x"], storage_path=storage, name="exp", num_samples=2,
                          resume=True)
    assert len(results) == 5
    assert "already has 5 trials; keeping them all" in caplog.text
    assert rs.load(results.path).settings["num_samples"] == 5


@pytest.mark.parametrize("changed, match", [
    ({"search": "sobol"}, "search changed"),
    ({"scheduler": "asha"}, "scheduler changed"),
    ({"mode": "max"}, "mode changed"),
])
def test_resume_with_another_search_or_scheduler_is_refused(changed, match, storage):
    calls = []

    def objective(config):
        calls.append(config)
        return config["x"]

    run(objective, storage_path=storage, name="exp")
    with pytest.raises(ResumeMismatch, match=match):
        run(objective, storage_path=storage, name="exp", resume=True, **changed)
    assert len(calls) == 2


def test_warm_start_from_results_whose_last_report_lacks_the_metric(storage):
    def objective(config):
        rs.report({"loss": config["x"]})
        rs.report({"epoch_done": 1})

    first = run(objective, storage_path=storage, name="first", num_samples=3)
    second = run(lambda c: c["x"], storage_path=storage, name="second", warm_start=first,
                 search="tpe")
    assert rs.load(second.path).settings["warm_start"] == 3
    assert all(math.isfinite(t.last_result["loss"]) for t in second.trials)


def test_resume_of_a_finished_grid_with_more_repeats_extends_it(storage):
    space = {"x": rs.grid([1, 2, 3]), "y": rs.uniform(0, 1)}

    def objective(config):
        return config["x"] + config["y"]

    first = run(objective, space, storage_path=storage, name="grid", num_samples=2)
    assert len(first) == 6
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the replay agrees with the journal
        more = run(objective, space, storage_path=storage, name="grid", num_samples=3,
                   resume=True)
        again = run(objective, space, storage_path=storage, name="grid", resume=True)
    reference = run(objective, space, storage_path=storage, name="reference", num_samples=3)
    assert [t.config for t in more.trials] == [t.config for t in reference.trials]
    assert [t.last_result["loss"] for t in again.trials] == \
        [t.last_result["loss"] for t in more.trials]


def test_restore_arguments(storage):
    first = run(lambda c: c["x"], storage_path=storage, name="exp", num_samples=2)
    with pytest.raises(TypeError, match="restore: name= comes from the path"):
        rs.restore(first.path, lambda c: c["x"], name="other")
    with pytest.raises(TypeError, match="address must be a string"):
        rs.restore(first.path, lambda c: c["x"], address=6379)
    with open(os.path.join(first.path, "run_args.pkl"), "wb") as handle:
        handle.write(b"not a pickle")
    with pytest.raises(ValueError, match="restore: cannot read the stored run arguments"):
        rs.restore(first.path, lambda c: c["x"])
    again = run(lambda c: c["x"], storage_path=storage, name="exp", resume=True)
    assert len(again) == 2  # run(resume=True) still works (and rewrites run_args.pkl)
    assert len(rs.restore(first.path, lambda c: c["x"], executor="inline", verbose=0,
                          resume=True)) == 2


def test_an_interrupted_inline_run_leaves_no_trial_running(storage):
    import threading
    import time

    reports = []

    def forever(config):
        while True:
            time.sleep(0.005)
            reports.append(1)
            rs.report({"loss": 1.0})

    class Interrupt(rs.Callback):
        def on_trial_result(self, trial, result):
            if len(reports) >= 5:
                raise KeyboardInterrupt

    before = set(threading.enumerate())
    with pytest.raises(KeyboardInterrupt):
        run(forever, storage_path=storage, name="exp", callbacks=[Interrupt()])

    def trial_threads():
        return [t for t in set(threading.enumerate()) - before if t.name == "raysweep-trial"]

    deadline = time.monotonic() + 5
    while trial_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not trial_threads()
    count = len(reports)
    time.sleep(0.1)
    assert len(reports) == count


def test_results_iterate_and_index_like_a_result_grid(storage):
    results = run(lambda c: c["x"], storage_path=storage, num_samples=3)
    assert [t.trial_id for t in results] == ["00000", "00001", "00002"]
    assert results[0].trial_id == "00000" and results[-1].trial_id == "00002"
    assert results["00001"] is results.trials[1]
    with pytest.raises(KeyError, match="no trial 'zz'"):
        results["zz"]
    with pytest.raises(IndexError):
        results[3]


@pytest.mark.parametrize("call, name", [
    (lambda: rs.report({"loss": 1.0}), "report"),
    (rs.get_checkpoint, "get_checkpoint"),
    (rs.get_trial_id, "get_trial_id"),
])
def test_session_functions_outside_a_run_name_themselves(call, name):
    with pytest.raises(RuntimeError, match=rf"raysweep.{name}\(\) can only be called inside an "
                                           "objective"):
        call()


def test_reported_keys_named_like_raysweep_columns(storage):
    def objective(config):
        return {"loss": config["x"], "status": "ok", "error": 0.1, "config": 3}

    results = run(objective, storage_path=storage)
    frame = results.dataframe()
    assert set(frame.status) == {"TERMINATED"}
    assert set(frame["result/status"]) == {"ok"} and set(frame["result/config"]) == {3}
    assert set(frame.error) == {0.1} and "trial_error" in frame.columns
    history = results.dataframe(include_history=True)
    assert set(history.status) == {"TERMINATED"} and set(history["result/status"]) == {"ok"}
    assert results.top(1).status.tolist() == ["TERMINATED"]


def test_ctrl_c_ends_a_script_with_the_resume_hint_and_no_traceback(tmp_path):
    import signal
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent("""
        import os, signal, sys
        import raysweep as rs

        def objective(config):
            for step in range(5):
                if rs.get_trial_id() == "00002" and step == 1:
                    os.kill(os.getpid(), signal.SIGINT)
                rs.report({"loss": config["x"] + step}, checkpoint={"step": step})

        rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=5, executor="inline",
               verbose=0, storage_path=sys.argv[1], name="c")
        print("not reached")
    """))
    storage = tmp_path / "results"
    done = subprocess.run([sys.executable, str(script), str(storage)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode in (130, -signal.SIGINT), done.stderr
    assert "interrupted; state saved" in done.stderr and "resume=True" in done.stderr
    assert "Traceback" not in done.stderr and "not reached" not in done.stdout
    resumed = rs.run(lambda config: config["x"], {"x": rs.uniform(0, 1)}, executor="inline",
                     verbose=0, storage_path=str(storage), name="c", resume=True)
    assert len(resumed) == 5


def test_an_address_nothing_answers_at_fails_fast_and_leaves_no_experiment(tmp_path):
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code = (f"import raysweep as rs\n"
            f"rs.run(lambda c: c['x'], {{'x': rs.uniform(0, 1)}}, num_samples=2, verbose=0,\n"
            f"       address='127.0.0.1:{port}', storage_path={str(tmp_path)!r}, name='n')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert f"ConnectionError: could not connect to the Ray cluster at address='127.0.0.1:" \
           f"{port}': nothing answers there" in done.stderr
    assert os.listdir(tmp_path) == []  # no empty experiment left behind
