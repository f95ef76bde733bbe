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


# -- continuity after a driver kill ---------------------------------------------------------
STEPS = 8

DRIVER = '''
import sys, time
sys.path.insert(0, {here!r})
import raysweep as rs
from raysweep.callbacks import WandbLogger
from test_wandb_logger import resumable_objective
rs.run(resumable_objective, {{"x": rs.uniform(0, 1), "marker": sys.argv[2]}}, metric="loss",
       num_samples=3, seed=5, executor="inline", storage_path=sys.argv[1], name="wbkill",
       verbose=0, callbacks=[WandbLogger(project="raysweep-tests")])
'''


def resumable_objective(config):
    """Reports ``STEPS`` iterations with a checkpoint at each even one; a resumed trial goes
    on from its checkpoint. Writes a marker file once past iteration 5 of a trial."""
    import time  # noqa: PLC0415

    start = rs.get_checkpoint() or 0
    for step in range(start + 1, STEPS + 1):
        time.sleep(0.1)
        rs.report({"loss": config["x"] + 1.0 / step},
                  checkpoint=step if step % 2 == 0 else None)
        if step == 5 and not os.path.exists(config["marker"]):
            open(config["marker"], "w").close()


def _run_parts(path):
    """W&B's offline runs in the experiment ``path``: run id -> its parts in start order."""
    parts: dict[str, list] = {}
    for folder in sorted(glob.glob(os.path.join(path, "wandb", "offline-run-*"))):
        (file,) = glob.glob(os.path.join(folder, "run-*.wandb"))
        run_id = os.path.basename(file)[len("run-"):-len(".wandb")]
        run = _read_run(file)
        # W&B's own id in the file, when it got there (a SIGKILLed driver's W&B process may
        # not have written anything past the file's header)
        ids = {r.run.run_id for r in _records(file) if r.WhichOneof("record_type") == "run"}
        assert ids <= {run_id}, (ids, run_id)
        parts.setdefault(run_id, []).append(run)
    return parts


@pytest.mark.ray  # rs.restore runs the rest on Ray (the executor is not a stored argument)
@pytest.mark.usefixtures("ray_session")
def test_a_resumed_trial_continues_its_wandb_run_after_a_driver_kill(tmp_path, monkeypatch):
    import signal  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    import time  # noqa: PLC0415

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    storage, marker = tmp_path / "results", str(tmp_path / "past5")
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(here=os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    # its own W&B service, as a driver started from a shell has (an earlier test here set
    # WANDB_SERVICE, which would make the subprocess use this process's service)
    env.pop("WANDB_SERVICE", None)
    proc = subprocess.Popen([sys.executable, str(script), str(storage), marker], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not os.path.exists(marker):  # the first trial is past its checkpoint at 4
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "no trial got past iteration 5 in time"
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    path = str(storage / "wbkill")
    killed = _run_parts(path)
    assert len(killed) == 1, killed  # inline: one trial at a time, killed mid-way

    logger = WandbLogger(project="raysweep-tests")
    results = rs.restore(path, resumable_objective, callbacks=[logger], verbose=0)
    frame = results.dataframe()
    assert set(frame.status) == {"TERMINATED"} and (frame.training_iteration == STEPS).all()
    parts = _run_parts(path)
    assert sorted(parts) == sorted(logger.run_id(t.trial_id) for t in results.trials)
    (resumed_id,) = killed
    first, *rest = parts[resumed_id]
    assert rest, "the resumed trial started no second part of its run"
    resumed_name = next(t.trial_id for t in results.trials
                        if logger.run_id(t.trial_id) == resumed_id)
    # what the killed driver's W&B process wrote before it died (W&B buffers its offline
    # file: often nothing but the header), then the restored driver's part
    before = [row["training_iteration"] for row in first["history"]]
    after = [row["training_iteration"] for run in rest for row in run["history"]]
    assert before == list(range(1, len(before) + 1))
    assert {run["name"] for run in rest} == {resumed_name}
    # went on from the checkpoint at iteration 4 (not from 1) to the end, in the same run
    assert after == list(range(5, STEPS + 1)), (before, after)
    assert rest[-1]["summary"]["raysweep_status"] == "TERMINATED" and rest[-1]["exit"] == 0
    for run_id, runs in parts.items():
        if run_id != resumed_id:  # trials that had not started: one part each
            assert len(runs) == 1
            assert [r["training_iteration"] for r in runs[0]["history"]] == \
                list(range(1, STEPS + 1))


def test_run_ids_differ_between_experiments_of_one_name(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    logger = WandbLogger(project="raysweep-tests")
    ids = []
    for where in ("a", "b"):
        rs.run(_objective, SPACE, metric="loss", num_samples=1, seed=0,
               executor="inline", storage_path=str(tmp_path / where), name="same", verbose=0,
               callbacks=[logger])
        ids.append(logger.run_id("00000"))
    assert ids[0] != ids[1]
