"""The experiment directory under stress: write errors, torn tails, leftovers, two drivers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

import raysweep as rs
from raysweep.errors import ExperimentLocked


def _objective(config):
    state = rs.get_checkpoint() or {"step": 0}
    for step in range(state["step"], 5):
        rs.report({"loss": config["x"] + step}, checkpoint={"step": step + 1})


def _run(storage, **kwargs):
    args = dict(num_samples=4, seed=2, name="exp", storage_path=storage, executor="inline",
                verbose=0)
    args.update(kwargs)
    return rs.run(_objective, {"x": rs.uniform(0, 1)}, **args)


def _journal(storage, name="exp"):
    return os.path.join(storage, name, "journal.jsonl")


def _assert_whole(journal):
    data = open(journal, "rb").read()
    assert data.endswith(b"\n")
    for line in data.splitlines():
        json.loads(line)


def test_a_whole_last_event_without_its_newline_is_kept(storage):
    """A kill between the last byte of an event and its newline: that event was read back by
    the replay, so the journal must keep it (it used to be cut)."""
    _run(storage, num_samples=2)
    journal = _journal(storage)
    data = open(journal, "rb").read()
    event = '{"e":"new","id":"00002","c":{"x":0.5},"t":1.0}'
    open(journal, "wb").write(data + event.encode())  # no newline
    assert len(rs.load(os.path.join(storage, "exp"))) == 3
    with pytest.warns(UserWarning, match="different config"):  # our hand-written config
        results = _run(storage, num_samples=3, resume=True)
    assert len(results) == 3 and set(results.dataframe().status) == {"TERMINATED"}
    _assert_whole(journal)
    assert event + "\n" in open(journal).read()
    assert results["00002"].config == {"x": 0.5}
    assert len(rs.load(results.path)) == 3


def test_temp_dirs_of_cut_checkpoint_writes_are_removed_on_resume(storage):
    _run(storage, num_samples=2)
    trial_dir = os.path.join(storage, "exp", "trials", "00000")
    os.makedirs(os.path.join(trial_dir, ".tmp-ckpt-cut", "files"))  # kill -9 mid-write
    _run(storage, num_samples=2, resume=True)
    assert not [e for e in os.listdir(trial_dir) if e.startswith(".tmp")]
    assert rs.load(os.path.join(storage, "exp")).get_checkpoint("00000") == {"step": 5}


FULL_DISK_DRIVER = textwrap.dedent("""
    import os, resource, signal, sys
    import raysweep as rs

    def objective(config):
        for step in range(5):
            rs.report({"loss": config["x"] + step}, checkpoint={"step": step + 1})

    storage, num_samples, room = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if room:  # the journal may grow by `room` bytes: a full disk, as far as it can tell
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        for derived in ("progress.csv", "progress.jsonl"):
            os.remove(os.path.join(storage, "exp", derived))
        limit = os.path.getsize(os.path.join(storage, "exp", "journal.jsonl")) + room
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=num_samples, seed=3, name="exp",
           storage_path=storage, executor="inline", verbose=0, resume=True)
""")


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_a_journal_write_error_is_clear_and_leaves_a_whole_journal(storage, tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(FULL_DISK_DRIVER)

    def drive(num_samples, room):
        return subprocess.run([sys.executable, str(script), storage, str(num_samples),
                               str(room)], capture_output=True, text=True, timeout=120)

    assert drive(6, 0).returncode == 0
    failed = drive(30, 2500)
    assert failed.returncode != 0
    journal = _journal(storage)
    assert f"could not write '{journal}'" in failed.stderr
    assert "resume=True" in failed.stderr
    _assert_whole(journal)  # no torn line for the resume to trip on
    assert drive(30, 0).returncode == 0
    results = rs.load(os.path.join(storage, "exp"))
    frame = results.dataframe()
    assert len(frame) == 30 and set(frame.status) == {"TERMINATED"}
    for trial_id, rows in results.history().groupby("trial_id"):
        assert list(rows.training_iteration) == [1, 2, 3, 4, 5], trial_id


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only directories")
def test_a_read_only_experiment_directory_is_a_clear_error(storage):
    _run(storage, num_samples=2)
    path = os.path.join(storage, "exp")
    os.chmod(path, 0o555)
    try:
        with pytest.raises(OSError, match="could not write .*not writable"):
            _run(storage, num_samples=3, resume=True)
    finally:
        os.chmod(path, 0o755)
    _assert_whole(_journal(storage))


SLOW_DRIVER = textwrap.dedent("""
    import sys, time
    import raysweep as rs

    def objective(config):
        for step in range(100):
            time.sleep(0.05)
            rs.report({"loss": config["x"] + step})

    rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=2, name="exp",
           storage_path=sys.argv[1], executor="inline", verbose=0)
""")


def test_a_second_driver_on_a_running_experiment_is_refused(storage, tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(SLOW_DRIVER)
    proc = subprocess.Popen([sys.executable, str(script), storage],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (
                not os.path.exists(_journal(storage)) or
                '"e":"r"' not in open(_journal(storage)).read()):
            time.sleep(0.02)
        lines_before = open(_journal(storage)).read().count("\n")
        with pytest.raises(ExperimentLocked, match=f"already being run by pid {proc.pid}"):
            _run(storage, resume=True, num_samples=2, seed=None)
        with pytest.raises(ExperimentLocked, match=f"already exists: it is already being run "
                                                   f"by pid {proc.pid}"):
            _run(storage, num_samples=2, seed=None)  # not "pass resume=True": it is running
        assert proc.poll() is None  # the first driver goes on; we wrote nothing
        journal = open(_journal(storage)).read()
        assert journal.count("\n") >= lines_before and journal.count('"kind":"start"') == 1
    finally:
        proc.kill()
        proc.wait(timeout=30)
