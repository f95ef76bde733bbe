"""WandbLogger for real, offline (WANDB_MODE=offline): the run files W&B writes are read
back record by record and compared with what the sweep reported."""

from __future__ import annotations

import glob
import json
import os
import struct

import pytest

import raysweep as rs

wandb = pytest.importorskip("wandb")  # in the dev extra: runs in CI

from raysweep.callbacks import WandbLogger  # noqa: E402


def _records(path):
    """The protobuf records of one offline ``run-<id>.wandb`` file: W&B's header (":W&B",
    magic, version: 7 bytes), then LevelDB's log format (32 KiB blocks of records, each a
    crc32 (4 bytes), a length (2) and a type (1: whole, 2/3/4: first/middle/last part))."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = open(path, "rb").read()
    assert data[:4] == b":W&B", data[:8]
    block, offset, pending, out = 32768, 7, b"", []
    while offset + 7 <= len(data):
        if block - offset % block < 7:  # a block's tail too short for a header: padding
            offset += block - offset % block
            continue
        _, length, kind = struct.unpack("<IHB", data[offset:offset + 7])
        offset += 7
        if kind == 0 and length == 0:
            break
        pending += data[offset:offset + length]
        offset += length
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            out.append(record)
            pending = b""
    return out


def _items(update):
    return {(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in update}


def _read_run(path):
    run = {"history": [], "config": {}, "summary": {}, "exit": None}
    for record in _records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run["name"], run["group"] = record.run.display_name, record.run.run_group
            run["job_type"] = record.run.job_type
            run["config"].update(_items(record.run.config.update))
        elif kind == "config":
            run["config"].update(_items(record.config.update))
        elif kind == "history":
            run["history"].append({k: v for k, v in _items(record.history.item).items()
                                   if not k.startswith("_")})
        elif kind == "summary":
            run["summary"].update(_items(record.summary.update))
        elif kind == "exit":
            run["exit"] = record.exit.exit_code
    return run


def _objective(config):
    if config["model"]["kind"] == "svm" and config["x"] > 0.8:
        raise ValueError("diverged")
    for step in range(3):
        rs.report({"loss": config["x"] / (step + 1), "aux": {"norm": float(step)}})


SPACE = {"x": rs.uniform(0, 1),
         "model": rs.choice([{"kind": "knn", "k": rs.randint(1, 9)},
                             {"kind": "svm", "C": rs.loguniform(0.01, 10)}])}


def test_one_offline_run_per_trial_with_config_reports_and_status(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    results = rs.run(_objective, SPACE, metric="loss", num_samples=6, seed=11,
                     executor="inline", storage_path=str(tmp_path), name="wb", verbose=0,
                     callbacks=[WandbLogger(project="raysweep-tests")])
    files = glob.glob(os.path.join(results.path, "wandb", "offline-run-*", "run-*.wandb"))
    assert len(files) == len(results.trials) == 6
    runs = {run["name"]: run for run in map(_read_run, files)}
    history = results.history()
    assert sorted(runs) == sorted(t.trial_id for t in results.trials)
    for trial in results.trials:
        run = runs[trial.trial_id]
        assert run["group"] == "wb" and run["job_type"] == "trial"
        flat = {k: v for k, v in run["config"].items() if not k.startswith("_")}
        expected = {"x": trial.config["x"], "model/kind": trial.config["model"]["kind"],
                    **{f"model/{k}": v for k, v in trial.config["model"].items()
                       if k != "kind"}}
        assert flat == pytest.approx(expected)
        rows = history[history.trial_id == trial.trial_id]
        assert [r["training_iteration"] for r in run["history"]] == \
            list(rows.training_iteration)
        assert [r["loss"] for r in run["history"]] == pytest.approx(list(rows.loss))
        assert [r["aux/norm"] for r in run["history"]] == list(range(len(rows)))
        assert run["summary"]["raysweep_status"] == trial.status.value
        if trial.status is rs.TrialStatus.ERROR:
            assert run["exit"] == 1 and "diverged" in run["summary"]["raysweep_error"]
        else:
            assert run["exit"] == 0
    assert any(t.status is rs.TrialStatus.ERROR for t in results.trials)


def test_bad_arguments_are_refused_before_any_trial():
    with pytest.raises(ValueError, match=r"WandbLogger: mode must be one of .* got 'cloud'"):
        WandbLogger(mode="cloud")
    with pytest.raises(ValueError, match=r"WandbLogger: project must be a non-empty str"):
        WandbLogger(project="")
    with pytest.raises(ValueError, match=r"init_kwargs may not set \['group'\]"):
        WandbLogger(init_kwargs={"group": "g"})
    with pytest.raises(ValueError, match=r"tags must be a list of str, got 'a'"):
        WandbLogger(tags="a")
