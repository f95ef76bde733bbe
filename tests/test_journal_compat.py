"""The journal format is readable both ways: experiments written by an earlier release (checked
in under tests/data/experiments, made by its make.py with that release, killed part way) load,
show in the CLI, and resume to completion with this code."""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

import raysweep as rs
from raysweep import journal
from raysweep import storage as _storage
from raysweep.cli import main
from raysweep.trial import TrialStatus

DATA = os.path.join(os.path.dirname(__file__), "data", "experiments")


def _make_module():
    spec = importlib.util.spec_from_file_location("_old_experiments",
                                                  os.path.join(DATA, "make.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _make_module()


@pytest.fixture
def copied(tmp_path):
    """A writable copy of the checked-in experiments (a resume writes into them)."""
    root = tmp_path / "old"
    shutil.copytree(DATA, root, ignore=shutil.ignore_patterns("make.py", "__pycache__"))
    return str(root)


def _journal_events(path):
    return list(_storage.read_journal(path))


@pytest.mark.parametrize("name", ["asha_v1", "pbt_v1"])
def test_an_old_experiment_loads_as_its_journal_says(name):
    path = os.path.join(DATA, name)
    events = _journal_events(path)
    results = rs.load(path)
    created = [e["id"] for e in events if e["e"] == "new"]
    assert [t.trial_id for t in results.trials] == created
    assert journal.count_created(os.path.join(path, _storage.JOURNAL_FILE)) == len(created)
    # the driver was killed: some trial is unfinished, and every one has a report
    statuses = {t.status for t in results.trials}
    assert statuses & {TrialStatus.RUNNING, TrialStatus.PENDING}
    last = {}
    for event in events:
        if event["e"] == "r":
            last[event["id"]] = event["r"]
    for trial in results.trials:
        assert trial.last_result == last[trial.trial_id]
    frame = results.dataframe()
    assert len(frame) == len(created) and "loss" in frame.columns
    assert len(results.history()) >= len(created)
    if name == "pbt_v1":  # forks from checkpoints: lineage and the PBT schedule
        forks = [e for e in events if e["e"] == "fork"]
        assert forks and all(e["ci"] is not None for e in forks)
        forked = results[forks[-1]["id"]]
        assert forked.parent_id == forks[-1]["p"] and forked.config == forks[-1]["c"]
        assert len(results.pbt_schedule(forked.trial_id)) >= 2


def test_the_cli_shows_old_experiments(capsys):
    assert main(["ls", DATA]) == 0
    out = capsys.readouterr().out
    assert "asha_v1" in out and "pbt_v1" in out
    for name in ("asha_v1", "pbt_v1"):
        assert main(["show", os.path.join(DATA, name)]) == 0
        assert "loss" in capsys.readouterr().out


def _finished(results, before):
    assert all(t.status is TrialStatus.TERMINATED for t in results.trials)
    # the trials that had ended before the kill are as they were
    for trial in before.trials:
        if trial.status.is_finished:
            again = results[trial.trial_id]
            assert again.config == trial.config and again.last_result == trial.last_result
    for trial in results.trials:
        assert trial.last_result["own_it"] == trial.last_result["training_iteration"]


def test_an_old_asha_experiment_resumes_to_completion(copied):
    path = os.path.join(copied, "asha_v1")
    before = rs.load(path)
    args = MAKE.arguments("asha_v1")
    results = rs.run(MAKE.objective, storage_path=copied, resume=True, **args)
    _finished(results, before)
    assert len(results) == args["num_samples"]
    assert [t.trial_id for t in rs.load(path).trials] == [t.trial_id for t in results.trials]


def test_an_old_pbt_experiment_restores_to_completion(copied):
    path = os.path.join(copied, "pbt_v1")
    before = rs.load(path)
    executor = MAKE.arguments("pbt_v1")["executor"]
    results = rs.restore(path, MAKE.objective, executor=executor)
    _finished(results, before)
    assert len(results) == 4
    # forks journaled before the kill stand: their configs and lineage are the journal's
    for event in _journal_events(path):
        if event["e"] == "fork" and event["id"] == "00002":
            assert results["00002"].parent_id is not None
    assert rs.load(path).dataframe()["status"].eq("TERMINATED").all()
