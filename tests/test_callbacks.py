"""Loggers: CSV/JSONL (one file for all trials, or per trial), TensorBoard and MLflow for real."""

from __future__ import annotations

import csv
import glob
import json
import math
import os
import struct

import pandas as pd
import pytest

import raysweep as rs
from raysweep.callbacks import (
    Callback,
    CSVLogger,
    JSONLLogger,
    MLflowLogger,
    TensorBoardLogger,
    default_loggers,
)


def _iterative(config):
    if config["x"] > 0.85:
        raise ValueError("x too large")
    for step in range(3):
        rs.report({"loss": config["x"] / (step + 1), "aux": {"grad_norm": step * 1.5},
                   "tag": "ok"})


SPACE = {"x": rs.uniform(0, 1),
         "model": rs.choice([{"kind": "knn", "k": rs.randint(1, 9)},
                             {"kind": "svm", "C": rs.loguniform(0.01, 10)}])}


def _run(storage, name, callbacks, objective=_iterative, n=12, **kwargs):
    path = os.path.join(storage, name)
    for callback in callbacks:  # what rs.run does once it knows the directory
        callback.on_experiment_start(path, {"name": name, "metric": "loss", "mode": "min"})
    results = rs.run(objective, SPACE, metric="loss", num_samples=n, seed=5, executor="inline",
                     storage_path=storage, name=name, verbose=0, callbacks=callbacks, **kwargs)
    return path, results


# --------------------------------------------------------------------------- CSV / JSONL
def test_csv_and_jsonl_write_one_row_per_report_in_one_file(storage):
    path, results = _run(storage, "logs", [CSVLogger(), JSONLLogger()])
    history = results.history()
    frame = pd.read_csv(os.path.join(path, "progress.csv"), dtype={"trial_id": str})
    assert len(frame) == len(history)
    assert {"trial_id", "loss", "aux/grad_norm", "tag", "training_iteration", "config/x",
            "config/model/kind"} <= set(frame.columns)
    # conditional parameters: both branches' columns exist, empty where absent
    assert {"config/model/k", "config/model/C"} <= set(frame.columns)
    knn = frame[frame["config/model/kind"] == "knn"]
    assert knn["config/model/C"].isna().all() and knn["config/model/k"].notna().all()
    merged = frame.merge(history, on=["trial_id", "training_iteration"], suffixes=("", "_h"))
    assert len(merged) == len(history) and (merged.loss == merged.loss_h).all()
    with open(os.path.join(path, "progress.jsonl")) as handle:
        lines = [json.loads(line) for line in handle]
    assert len(lines) == len(history)
    first = lines[0]
    assert first["trial_id"] == "00000" and first["aux"] == {"grad_norm": 0.0}
    assert first["config"] == results.trials[0].config
    records = pd.read_json(os.path.join(path, "progress.jsonl"), lines=True,
                           dtype={"trial_id": str})
    assert set(records.trial_id) == {t.trial_id for t in results.trials
                                     if t.last_result is not None}


def test_a_big_sweep_keeps_a_handful_of_files(storage):
    path, _ = _run(storage, "many", [CSVLogger(), JSONLLogger()],
                         objective=lambda c: c["x"], n=2000)
    entries = set(os.listdir(path))
    assert entries <= {".lock", "experiment.json", "journal.jsonl", "results.csv",
                       "run_args.pkl", "progress.csv", "progress.jsonl"}
    with open(os.path.join(path, "progress.csv")) as handle:
        assert sum(1 for _ in handle) == 2001  # header + one row per trial


def test_per_trial_files_are_opt_in(storage):
    path, results = _run(storage, "per_trial", [CSVLogger(per_trial=True),
                                                JSONLLogger(per_trial=True)])
    for trial in results.trials:
        trial_dir = os.path.join(path, "trials", trial.trial_id)
        with open(os.path.join(trial_dir, "progress.csv")) as handle:
            rows = list(csv.DictReader(handle))
        assert [int(r["training_iteration"]) for r in rows] == \
            list(range(1, len(rows) + 1))
        with open(os.path.join(trial_dir, "progress.jsonl")) as handle:
            assert len(handle.readlines()) == len(rows)


def test_csv_header_widens_and_a_resumed_run_appends(tmp_path):
    from raysweep.trial import Trial

    logger = CSVLogger(tmp_path)
    a = Trial("00000", {"x": 1})
    b = Trial("00001", {"x": 2, "extra": "y"})
    logger.on_trial_result(a, {"loss": 1.0, "training_iteration": 1})
    logger.on_trial_result(b, {"loss": 2.0, "training_iteration": 1, "new_metric": 7})
    logger.on_trial_result(a, {"loss": 0.5, "training_iteration": 2})
    logger.on_experiment_end(None)
    again = CSVLogger(tmp_path)  # a resumed experiment: same file, header read back
    again.on_trial_result(a, {"loss": 0.25, "training_iteration": 3})
    again.on_experiment_end(None)
    frame = pd.read_csv(tmp_path / "progress.csv", dtype={"trial_id": str})
    assert list(frame.loss) == [1.0, 2.0, 0.5, 0.25]
    assert list(frame.columns) == ["trial_id", "loss", "training_iteration", "config/x",
                                   "new_metric", "config/extra"]
    assert frame.new_metric.isna().tolist() == [True, False, True, True]


@pytest.mark.parametrize("kind", [CSVLogger, JSONLLogger])
def test_the_runs_fast_path_writes_what_on_trial_result_writes(tmp_path, kind):
    """During a run the file loggers get each report with the journal's JSON text
    (``ReportSink.log_report``); the bytes must be those of ``on_trial_result``."""
    import numpy as np

    from raysweep.storage import dumps
    from raysweep.trial import Trial

    trials = [Trial("00000", {"x": 1.5, "m": {"k": 3}, "t": (1, 2)}),
              Trial("00001", {"x": 2.5, "m": {"c": 0.5}, "t": (1, 2)})]
    reports = [{"loss": 1.0, "training_iteration": 1},
               {"loss": float("nan"), "training_iteration": 2},
               {"loss": 0.5, "training_iteration": 3, "new": [1, 2]},   # a new column
               {"loss": 0.25, "training_iteration": 4, "aux": {"g": 1.0}},  # nested
               {"loss": np.float64(0.125), "training_iteration": 5},     # not plain
               {"loss": 0.1, "training_iteration": 6, "config": 7},      # named like a column
               {"loss": 0.05, "training_iteration": 7, "trial_id": "x"},
               {"loss": 0.01, "training_iteration": 8},
               {"loss": 0.005, "training_iteration": 9, "new": np.arange(3.0)}]  # an array
    public, fast = kind(tmp_path / "public"), kind(tmp_path / "fast")
    for result in reports:
        for trial in trials:
            public.on_trial_result(trial, {**result, "trial_id": trial.trial_id})
            fast.log_report(trial, result, dumps(result))
    public.on_experiment_end(None)
    fast.on_experiment_end(None)
    name = kind.filename
    assert (tmp_path / "fast" / name).read_text() == (tmp_path / "public" / name).read_text()


def test_logger_subclasses_that_override_on_trial_result_are_called():
    from raysweep.callbacks import ReportSink, takes_encoded_reports

    class Mine(CSVLogger):
        def on_trial_result(self, trial, result):
            super().on_trial_result(trial, result)

    assert takes_encoded_reports(CSVLogger()) and takes_encoded_reports(JSONLLogger())
    assert not takes_encoded_reports(Mine()) and not takes_encoded_reports(Callback())
    assert isinstance(Mine(), ReportSink)


def test_loggers_close_their_files_when_the_run_raises(storage):
    class Boom(Callback):
        def on_trial_complete(self, trial):
            raise RuntimeError("boom")

    loggers = [CSVLogger(), JSONLLogger()]
    with pytest.raises(RuntimeError, match="boom"):
        rs.run(lambda c: {"loss": c["x"]}, SPACE, num_samples=2, executor="inline",
               storage_path=storage, name="raises", verbose=0, callbacks=[*loggers, Boom()])
    assert [logger._handles for logger in loggers] == [{}, {}]
    path = os.path.join(storage, "raises")
    assert len(pd.read_csv(os.path.join(path, "progress.csv"))) == 1  # the row was written


def test_logger_without_a_directory_says_how_to_get_one():
    from raysweep.trial import Trial

    with pytest.raises(RuntimeError, match="CSVLogger: no directory to write to; pass path="):
        CSVLogger().on_trial_result(Trial("00000", {}), {"loss": 1})
    with pytest.raises(TypeError, match="per_trial must be True or False, got 'yes'"):
        JSONLLogger(per_trial="yes")
    with pytest.raises(ValueError, match="CSVLogger: flush_interval_s must be a number >= 0, "
                                         "got 'soon'"):
        CSVLogger(flush_interval_s="soon")
    with pytest.raises(TypeError, match="JSONLLogger: path must be a directory"):
        JSONLLogger(3)


def test_default_loggers_do_not_duplicate_the_users_own():
    kinds = [type(c) for c in default_loggers()]
    assert kinds == [CSVLogger, JSONLLogger]
    assert [type(c) for c in default_loggers([CSVLogger()])] == [JSONLLogger]
    assert [type(c) for c in default_loggers([JSONLLogger("/exp")], "/exp")] == [CSVLogger]
    assert len(default_loggers([JSONLLogger("/elsewhere")], "/exp")) == 2
    assert [type(c) for c in default_loggers([CSVLogger(per_trial=True)])] == \
        [CSVLogger, JSONLLogger]


def test_callback_base_has_every_hook():
    base = Callback()
    base.on_experiment_start("/x", {})
    for hook in ("on_trial_start", "on_trial_result", "on_trial_complete",
                 "on_experiment_end"):
        assert callable(getattr(base, hook))


# ----------------------------------------------------------------------------- TensorBoard
def _read_events(file: str):
    """Parse a TensorBoard event file (TFRecord framing) back into Event protos."""
    from tensorboardX.proto import event_pb2

    events = []
    with open(file, "rb") as handle:
        data = handle.read()
    offset = 0
    while offset < len(data):
        (length,) = struct.unpack("<Q", data[offset:offset + 8])
        payload = data[offset + 12: offset + 12 + length]
        offset += 12 + length + 4
        event = event_pb2.Event()
        event.ParseFromString(payload)
        events.append(event)
    return events


def test_tensorboard_event_files_read_back(storage):
    pytest.importorskip("tensorboardX")
    path, results = _run(storage, "tb", [TensorBoardLogger()], n=6)
    logdir = os.path.join(path, "tensorboard")
    for trial in results.trials:
        files = glob.glob(os.path.join(logdir, trial.trial_id, "events.out.tfevents.*"))
        assert len(files) == 1
        scalars: dict[str, list[tuple[int, float]]] = {}
        for event in _read_events(files[0]):
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
        history = results.history()
        mine = history[history.trial_id == trial.trial_id]
        assert [s for s, _ in scalars["loss"]] == list(mine.training_iteration)
        assert [v for _, v in scalars["loss"]] == pytest.approx(list(mine.loss), rel=1e-6)
        assert "aux/grad_norm" in scalars and "tag" not in scalars  # strings are skipped
        hparams = glob.glob(os.path.join(logdir, trial.trial_id, "hparams", "events.*"))
        assert hparams, "config and final metrics are written as hparams"
        tags = {v.tag for f in hparams for e in _read_events(f) for v in e.summary.value}
        assert "_hparams_/session_start_info" in tags


# --------------------------------------------------------------------------------- MLflow
def test_mlflow_runs_list_back_from_the_file_store(storage, tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 prefers a database
    uri = (tmp_path / "mlruns").as_uri()
    logger = MLflowLogger(uri, tags={"team": "raysweep-tests"})
    _, results = _run(storage, "mlflow_sweep", [logger], n=8)
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("mlflow_sweep")
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    parents = [r for r in runs if r.data.tags.get("raysweep.role") == "sweep"]
    children = [r for r in runs if "raysweep.trial_id" in r.data.tags]
    assert len(parents) == 1 and len(children) == 8
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert parent.data.params["best_trial_id"] == results.best_trial.trial_id
    assert parent.data.metrics["best_loss"] == pytest.approx(results.best_result["loss"])
    by_trial = {r.data.tags["raysweep.trial_id"]: r for r in children}
    for trial in results.trials:
        run = by_trial[trial.trial_id]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["team"] == "raysweep-tests"
        assert float(run.data.params["x"]) == pytest.approx(trial.config["x"])
        assert run.data.params["model/kind"] == trial.config["model"]["kind"]
        if trial.status.value == "ERROR":
            assert run.info.status == "FAILED" and "x too large" in run.data.tags[
                "raysweep.error"]
            continue
        assert run.info.status == "FINISHED"
        steps = client.get_metric_history(run.info.run_id, "loss")
        assert [m.step for m in sorted(steps, key=lambda m: m.step)] == [1, 2, 3]
        assert "aux/grad_norm" in run.data.metrics


def test_mlflow_bad_tracking_uri_fails_fast(storage):
    pytest.importorskip("mlflow")
    logger = MLflowLogger("unknownscheme://nowhere")
    with pytest.raises(Exception):  # noqa: B017 - MLflow's own error type
        logger.on_experiment_start(os.path.join(storage, "x"), {"name": "x"})


# ------------------------------------------------------------------ robustness of the loggers
def _read_jsonl(file):
    with open(file, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def test_awkward_values_round_trip_through_csv_and_jsonl(storage):
    import numpy as np

    def objective(config):
        for step in range(3):
            metrics = {"loss": config["x"] / (step + 1), "αβ": "héllo ✓", "nan": math.nan,
                       "inf": -math.inf, "np": np.float32(1.5), "n": np.int64(step),
                       "flag": np.bool_(True), "lst": [1, {"a": 2}],
                       "vec": np.arange(2000, dtype=float), "deep": {"er": {"x": step}}}
            if step == 2:
                metrics["late"] = 7  # a new key mid-run widens the CSV header
            rs.report(metrics)

    space = {"x": rs.uniform(0, 1), "名前": rs.choice(["ä", "b"])}
    results = rs.run(objective, space, metric="loss", num_samples=3, seed=1, executor="inline",
                     storage_path=storage, name="awkward", verbose=0)
    frame = pd.read_csv(os.path.join(results.path, "progress.csv"), dtype={"trial_id": str})
    assert len(frame) == 9 and set(frame["αβ"]) == {"héllo ✓"}
    assert frame["nan"].isna().all() and (frame["inf"] == -math.inf).all()
    assert frame["np"].tolist() == [1.5] * 9 and frame["flag"].all()
    assert frame["late"].isna().tolist() == [True, True, False] * 3
    assert frame["deep/er/x"].tolist() == [0, 1, 2] * 3
    assert json.loads(frame["lst"][0]) == [1, {"a": 2}]
    assert json.loads(frame["vec"][0]) == list(range(2000))  # all of it, not "[0. 1. ...]"
    assert {frame["config/名前"][0]} <= {"ä", "b"}
    lines = _read_jsonl(os.path.join(results.path, "progress.jsonl"))
    assert len(lines) == 9 and lines[0]["αβ"] == "héllo ✓" and math.isnan(lines[0]["nan"])
    assert lines[0]["inf"] == -math.inf and lines[0]["vec"] == list(range(2000))
    assert lines[0]["n"] == 0 and lines[0]["flag"] is True and "名前" in lines[0]["config"]
    assert lines[2]["late"] == 7 and "late" not in lines[1]


@pytest.mark.parametrize("name", ["progress.csv", "progress.jsonl"])
def test_a_torn_last_line_is_cut_before_a_resumed_run_appends(storage, name):
    """A driver killed mid-write leaves half a row; the resumed run must not glue its first
    row to it (which made the whole file unreadable)."""

    def objective(config):
        for step in range(3):
            rs.report({"loss": config["x"] / (step + 1)})

    common = {"metric": "loss", "executor": "inline", "storage_path": storage, "name": "torn",
              "verbose": 0, "seed": 2}
    results = rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=2, **common)
    file = os.path.join(results.path, name)
    with open(file, "rb") as handle:
        data = handle.read()
    with open(file, "wb") as handle:
        handle.write(data[:-15])  # half of the last row
    results = rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=4, resume=True, **common)
    if name.endswith(".csv"):
        rows = pd.read_csv(file, dtype={"trial_id": str}).to_dict("records")
    else:
        rows = _read_jsonl(file)
    # the torn row is gone (the journal still has it); every other row is whole
    assert len(rows) == 6 - 1 + 6
    assert [r["trial_id"] for r in rows] == ["00000"] * 3 + ["00001"] * 2 + \
        ["00002"] * 3 + ["00003"] * 3
    assert all(isinstance(r["loss"], float) for r in rows)


def test_loggers_reused_for_another_experiment_write_there(storage, tmp_path):
    csv_logger, jsonl_logger = CSVLogger(), JSONLLogger()
    per_trial = CSVLogger(per_trial=True)
    mine = JSONLLogger(tmp_path / "mine")  # a path given by the user stays where it is
    paths = []
    for name in ("first", "second"):
        path, results = _run(storage, name, [csv_logger, jsonl_logger, per_trial, mine], n=3)
        paths.append(path)
        n = len(results.history())
        frame = pd.read_csv(os.path.join(path, "progress.csv"), dtype={"trial_id": str})
        assert len(frame) == n  # one writer per file: no duplicated rows
        assert set(frame["config/x"]) == {t.config["x"] for t in results.trials
                                          if t.last_result is not None}
        assert len(_read_jsonl(os.path.join(path, "progress.jsonl"))) == n
        assert os.path.isfile(os.path.join(path, "trials", "00000", "progress.csv"))
    assert csv_logger.path == paths[1] and mine.path == str(tmp_path / "mine")
    assert len(_read_jsonl(tmp_path / "mine" / "progress.jsonl")) == len(
        pd.read_csv(os.path.join(paths[0], "progress.csv"))) + len(
        pd.read_csv(os.path.join(paths[1], "progress.csv")))


def test_tensorboard_logger_reused_for_another_experiment_writes_there(storage, tmp_path):
    pytest.importorskip("tensorboardX")
    logger = TensorBoardLogger()
    for name in ("tb1", "tb2"):
        path, results = _run(storage, name, [logger], n=2)
        assert logger.logdir == os.path.join(path, "tensorboard")
        for trial in results.trials:
            assert glob.glob(os.path.join(path, "tensorboard", trial.trial_id, "events.*"))
    fixed = TensorBoardLogger(tmp_path / "tb")
    _run(storage, "tb3", [fixed], n=2)
    assert fixed.logdir == str(tmp_path / "tb") and os.path.isdir(tmp_path / "tb" / "00000")


# ------------------------------------------------------------------------- MLflow robustness
def _mlflow_runs(uri, experiment):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    return client, client.search_runs([found.experiment_id], max_results=100)


def test_mlflow_names_it_refuses_are_logged_made_valid(storage, tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")

    def objective(config):
        for step in range(3):
            rs.report({"loss": config["x"] / (step + 1), "acc@5": 0.5, "val(loss)": 1.0,
                       "nested": {"": {"g": 2.0}}, "αβ": 3.0})

    uri = (tmp_path / "mlruns").as_uri()
    space = {"x": rs.uniform(0, 1), "opt(name)": rs.choice(["adam"]), "flag": True,
             "none": None}
    results = rs.run(objective, space, metric="loss", num_samples=2, executor="inline",
                     storage_path=storage, name="names", verbose=0,
                     callbacks=[MLflowLogger(uri)])
    client, runs = _mlflow_runs(uri, "names")
    assert {r.info.status for r in runs} == {"FINISHED"} and len(runs) == 3
    for run in runs:
        if run.data.tags.get("raysweep.role") == "sweep":
            assert run.data.params["best_trial_id"] == results.best_trial.trial_id
            assert run.data.params["best/opt_name_"] == "adam"
            continue
        # params read as mlflow.log_param writes them (str(value))
        assert run.data.params["opt_name_"] == "adam" and run.data.params["flag"] == "True"
        assert run.data.params["none"] == "None"
        assert {"acc_5", "val_loss_", "nested/g", "αβ", "loss"} <= set(run.data.metrics)
        history = client.get_metric_history(run.info.run_id, "acc_5")
        assert sorted(m.step for m in history) == [1, 2, 3]


def test_mlflow_logger_reused_for_another_experiment_starts_a_new_sweep_run(
        storage, tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    logger = MLflowLogger(uri)
    for name in ("sweep_a", "sweep_b"):
        _run(storage, name, [logger], n=2, objective=lambda c: {"loss": c["x"]})
    for name in ("sweep_a", "sweep_b"):
        _, runs = _mlflow_runs(uri, name)
        parents = [r for r in runs if r.data.tags.get("raysweep.role") == "sweep"]
        assert len(runs) == 3 and len(parents) == 1
        assert all(r.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
                   for r in runs if r is not parents[0])
        assert {r.info.status for r in runs} == {"FINISHED"}


def test_mlflow_tracking_uri_errors_are_clear_and_fast(storage):
    pytest.importorskip("mlflow")
    import socket
    import time

    with socket.socket() as probe:  # a local port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    with pytest.raises(ConnectionError, match=r"cannot reach the tracking server of "
                                              rf"tracking_uri 'http://127.0.0.1:{port}'"):
        rs.run(lambda c: c["x"], SPACE, num_samples=2, executor="inline", storage_path=storage,
               name="down", verbose=0, callbacks=[MLflowLogger(f"http://127.0.0.1:{port}")])
    assert time.perf_counter() - started < 30  # not MLflow's minutes of retries
    with pytest.raises(ValueError, match=r"MLflowLogger: cannot log to tracking_uri "
                                         r"'unknownscheme://nowhere'"):
        MLflowLogger("unknownscheme://nowhere").on_experiment_start(
            os.path.join(storage, "x"), {"name": "x"})
    with pytest.raises(TypeError, match="tracking_uri must be a str"):
        MLflowLogger(5)
    with pytest.raises(ValueError, match="flush_interval_s must be a number >= 0, got -1"):
        MLflowLogger(flush_interval_s=-1)


# --------------------------------------------------------------------- user callbacks' hooks
class _Recorder(Callback):
    def __init__(self):
        self.calls: list[tuple] = []

    def on_experiment_start(self, path, settings):
        self.calls.append(("experiment_start", path, settings["metric"]))

    def on_trial_start(self, trial):
        assert trial.status.value == "RUNNING"
        self.calls.append(("start", trial.trial_id))

    def on_trial_result(self, trial, result):
        assert result["trial_id"] == trial.trial_id and trial.last_result is not None
        self.calls.append(("result", trial.trial_id, result["training_iteration"]))

    def on_trial_complete(self, trial):
        assert trial.status.is_finished
        self.calls.append(("complete", trial.trial_id, trial.status.value))

    def on_experiment_end(self, results):
        self.calls.append(("experiment_end", len(results.trials)))


def _checkpointed(config):
    if config["x"] > 0.9:
        raise ValueError("x too large")
    start = rs.get_checkpoint() or 0
    for step in range(start + 1, 10):
        rs.report({"loss": config["x"] / step}, checkpoint=step)


@pytest.mark.parametrize("executor", ["inline", "simulated"])
def test_every_hook_is_called_as_documented(storage, executor):
    from raysweep.execution.simulated import Simulated

    recorder = _Recorder()
    if executor == "simulated":
        executor = Simulated(3, lambda c, i: (1.0, {"loss": c["x"] / i}), max_iterations=9)
    results = rs.run(_checkpointed, {"x": rs.uniform(0, 1)}, metric="loss", num_samples=12,
                     seed=3, scheduler=rs.schedulers.Hyperband(max_t=9, reduction_factor=3),
                     executor=executor, storage_path=storage, verbose=0, callbacks=[recorder])
    calls = recorder.calls
    assert calls[0] == ("experiment_start", results.path, "loss")
    assert calls[-1] == ("experiment_end", 12)
    starts = [c[1] for c in calls if c[0] == "start"]
    completes = [c[1:] for c in calls if c[0] == "complete"]
    reports = [c[1:] for c in calls if c[0] == "result"]
    history = results.history()
    assert reports == list(zip(history.trial_id, history.training_iteration))
    assert sorted(completes) == sorted((t.trial_id, t.status.value) for t in results.trials)
    assert len(starts) > 12 and set(starts) == {t.trial_id for t in results.trials}  # resumes
    for trial_id, _ in completes:  # nothing about a trial after it completed
        last = max(i for i, c in enumerate(calls) if c[0] == "complete" and c[1] == trial_id)
        assert all(c[1] != trial_id for c in calls[last + 1:-1])


@pytest.mark.parametrize("hook", ["on_experiment_start", "on_trial_start", "on_trial_result",
                                  "on_trial_complete", "on_experiment_end"])
def test_an_exception_in_a_user_callback_ends_the_run_and_it_can_be_resumed(storage, hook):
    """As in Ray Tune: a callback's exception is the user's bug and propagates unchanged out
    of ``rs.run``; the experiment is left resumable and its files closed."""

    class Broken(Callback):
        pass

    def boom(self, *args):
        raise RuntimeError(f"boom in {hook}")

    setattr(Broken, hook, boom)
    common = {"metric": "loss", "executor": "inline", "storage_path": storage, "name": "cb",
              "verbose": 0, "seed": 4}
    with pytest.raises(RuntimeError, match=f"boom in {hook}"):
        rs.run(_checkpointed, {"x": rs.uniform(0, 0.5)}, num_samples=3, callbacks=[Broken()],
               **common)
    results = rs.run(_checkpointed, {"x": rs.uniform(0, 0.5)}, num_samples=3, resume=True,
                     **common)
    assert results.status_counts() == {"TERMINATED": 3}
    assert results.history().groupby("trial_id").training_iteration.max().tolist() == [9] * 3


def test_tensorboard_leaves_out_nan_and_writes_the_config_as_hparams(storage, capsys):
    pytest.importorskip("tensorboardX")
    from tensorboardX.proto import plugin_hparams_pb2

    def objective(config):
        for step in range(3):
            rs.report({"loss": math.nan if step == 1 else config["x"], "αβ": 2.0})

    space = {"x": rs.uniform(0, 1), "名": rs.choice(["ä"]), "opt": {"lr": rs.choice([0.1])}}
    results = rs.run(objective, space, metric="loss", num_samples=2, executor="inline",
                     storage_path=storage, name="tbnan", verbose=0,
                     callbacks=[TensorBoardLogger()])
    assert "NaN or Inf" not in capsys.readouterr().out
    run_dir = os.path.join(results.path, "tensorboard", "00000")
    (events,) = glob.glob(os.path.join(run_dir, "events.*"))
    steps = [(e.step, v.tag) for e in _read_events(events) for v in e.summary.value]
    assert [s for s, tag in steps if tag == "loss"] == [1, 3]
    assert [s for s, tag in steps if tag == "αβ"] == [1, 2, 3]
    (hparams,) = glob.glob(os.path.join(run_dir, "hparams", "events.*"))
    for event in _read_events(hparams):
        for value in event.summary.value:
            if value.tag == "_hparams_/session_start_info":
                data = plugin_hparams_pb2.HParamsPluginData()
                data.ParseFromString(value.metadata.plugin_data.content)
                params = data.session_start_info.hparams
                assert params["名"].string_value == "ä"
                assert params["opt/lr"].number_value == pytest.approx(0.1)
                assert params["status"].string_value == "TERMINATED"
                assert params["x"].number_value == pytest.approx(results.trials[0].config["x"])
                break
        else:
            continue
        break
    else:
        raise AssertionError("no hparams session_start_info")
