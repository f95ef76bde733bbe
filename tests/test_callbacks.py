"""Loggers: CSV/JSONL (one file for all trials, or per trial), TensorBoard and MLflow for real."""

from __future__ import annotations

import csv
import glob
import json
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
    (``_log_report``); the bytes must be those of the public ``on_trial_result``."""
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
               {"loss": 0.01, "training_iteration": 8}]
    public, fast = kind(tmp_path / "public"), kind(tmp_path / "fast")
    for result in reports:
        for trial in trials:
            public.on_trial_result(trial, {**result, "trial_id": trial.trial_id})
            fast._log_report(trial, result, dumps(result))
    public.on_experiment_end(None)
    fast.on_experiment_end(None)
    name = kind.filename
    assert (tmp_path / "fast" / name).read_text() == (tmp_path / "public" / name).read_text()


def test_logger_subclasses_that_override_on_trial_result_are_called():
    from raysweep.callbacks import _logs_reports

    class Mine(CSVLogger):
        def on_trial_result(self, trial, result):
            super().on_trial_result(trial, result)

    assert _logs_reports(CSVLogger()) and _logs_reports(JSONLLogger())
    assert not _logs_reports(Mine()) and not _logs_reports(Callback())


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
