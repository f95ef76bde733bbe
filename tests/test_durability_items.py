"""Regression tests written from the reproductions of issue 15 (one per item)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import raysweep as rs
from raysweep.decisions import NEW, WAIT, Decision, Fork
from raysweep.schedulers.base import Scheduler

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, HERE, env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def _journal(path):
    with open(os.path.join(path, "journal.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


# -- item 1: fast reports, a checkpoint per report, the driver killed mid-sweep ------------
FAST_DRIVER = textwrap.dedent("""
    import os, signal, sys, time
    import raysweep as rs

    KILL_AT = int(sys.argv[3])

    def objective(config):
        state = rs.get_checkpoint() or {"it": 0}
        for it in range(state["it"], 40):
            time.sleep(0.0005)
            rs.report({"loss": config["x"] + it, "own": it + 1}, checkpoint={"it": it + 1})

    class Killer(rs.Callback):
        def on_trial_result(self, trial, result):
            if trial.trial_id == "00000" and result["training_iteration"] == KILL_AT and \\
                    not os.path.exists(sys.argv[1] + ".killed"):
                open(sys.argv[1] + ".killed", "w").close()
                os.kill(os.getpid(), signal.SIGKILL)

    rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=3, seed=1, name="fast",
           storage_path=sys.argv[1], resume=True, executor="inline", verbose=0,
           scheduler=sys.argv[2], callbacks=[Killer()])
""")


@pytest.mark.parametrize("scheduler,kill_at", [("fifo", 5), ("fifo", 20), ("asha", 20)])
def test_no_report_is_lost_when_the_driver_dies_between_a_checkpoint_and_its_journal_line(
        tmp_path, scheduler, kill_at):
    script = tmp_path / "fast.py"
    script.write_text(FAST_DRIVER)
    storage = str(tmp_path / "r")
    argv = [sys.executable, str(script), storage, scheduler, str(kill_at)]
    first = subprocess.run(argv, env=_env(), capture_output=True, text=True, timeout=300)
    assert first.returncode == -signal.SIGKILL, first.stderr
    second = subprocess.run(argv, env=_env(), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    history = rs.load(os.path.join(storage, "fast")).history()
    for trial_id, rows in history.groupby("trial_id"):
        iterations = list(rows.training_iteration)
        assert iterations == list(range(1, len(iterations) + 1)), (trial_id, iterations)
        assert list(rows.own) == iterations


# -- item 2: a PBT-style fork from a checkpoint that is the end of training ---------------
class _ForkFromTheFinished(Scheduler):
    """Trial 00001 pauses at its first report and is forked from trial 00000's last
    checkpoint (the end of its training)."""

    name = "fork-from-finished"
    pauses = True

    def on_result(self, trial, result):
        if trial.trial_id == "00001" and result["training_iteration"] == 1 and \
                not trial.extra.get("forked"):
            trial.extra["forked"] = True
            return Decision.PAUSE
        return Decision.CONTINUE

    def next_launch(self, trials, *, exhausted):
        paused = trials.get("00001")
        if paused is not None and paused.status.value == "PAUSED":
            return Fork("00001", "00000", {**trials["00000"].config, "lr": 0.123})
        return WAIT if exhausted else NEW


def _counting(config):
    state = rs.get_checkpoint() or {"it": 0}
    for it in range(state["it"], 3):
        rs.report({"loss": -config["lr"] * (it + 1), "lr_used": config["lr"]},
                  checkpoint={"it": it + 1})


def test_a_fork_that_produces_nothing_keeps_the_config_that_made_the_result(storage):
    results = rs.run(_counting, {"lr": rs.uniform(0.2, 0.9)}, num_samples=2, seed=3,
                     scheduler=_ForkFromTheFinished(), executor="inline", verbose=0,
                     storage_path=storage, name="pbt")
    for loaded in (results, rs.load(results.path)):
        trial = loaded["00001"]
        assert trial.status.value == "TERMINATED"
        assert trial.last_result["lr_used"] == trial.config["lr"] != 0.123
        assert trial.last_result["training_iteration"] == 1
        assert trial.parent_id is None
        assert loaded.pbt_schedule("00001") == [
            {"training_iteration": 0, "config": trial.config, "parent_id": None}]
        assert list(loaded.history().query("trial_id == '00001'").training_iteration) == [1]
    kinds = [e["e"] for e in _journal(results.path) if e.get("id") == "00001"]
    assert kinds[-3:] == ["fork", "unfork", "s"]


# -- item 3: a fatal error leaves no trial RUNNING ---------------------------------------
def _misspelled(config):
    state = rs.get_checkpoint() or {"it": 0}
    for it in range(state["it"], 3):
        rs.report({"los": config["x"] + it}, checkpoint={"it": it + 1})


def _right(config):
    state = rs.get_checkpoint() or {"it": 0}
    for it in range(state["it"], 3):
        rs.report({"loss": config["x"] + it}, checkpoint={"it": it + 1})


def test_a_fatal_error_leaves_every_trial_final_or_resumable(storage, capsys):
    from raysweep.cli import main
    from raysweep.errors import MissingMetric

    args = dict(num_samples=4, seed=1, name="fatal", storage_path=storage, verbose=0)
    three_workers = rs.Simulated(workers=3, curve=lambda config, it: (1.0 + config["x"],
                                                                      {"los": it}),
                                 max_iterations=3)
    with pytest.raises(MissingMetric):  # the first report lacks the metric: 3 trials run
        rs.run(_misspelled, {"x": rs.uniform(0, 1)}, executor=three_workers, **args)
    path = os.path.join(storage, "fatal")
    statuses = list(rs.load(path).dataframe().status)
    assert "RUNNING" not in statuses and statuses.count("PENDING") >= 2, statuses
    assert main(["ls", storage]) == 0
    row = capsys.readouterr().out.splitlines()[1]
    assert "running" not in row and "pending" in row and "interrupted" in row
    results = rs.run(_right, {"x": rs.uniform(0, 1)}, resume=True, executor="inline", **args)
    assert len(results) == 4 and "PENDING" not in set(results.dataframe().status)
    assert not set(results.dataframe().status) - {"TERMINATED", "ERROR"}


# -- item 5: the journal's own error is the one raised, not a logger's --------------------
FULL_DISK_DRIVER = textwrap.dedent("""
    import os, resource, signal, sys
    import raysweep as rs

    def objective(config):
        for step in range(5):
            rs.report({"loss": config["x"] + step}, checkpoint={"step": step + 1})

    storage, num_samples, room = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if room:  # every file may grow to the journal's size + room: the disk is full
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        limit = os.path.getsize(os.path.join(storage, "exp", "journal.jsonl")) + room
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    class FullDiskLogger(rs.callbacks.JSONLLogger):  # its last write fails as on a full disk
        def close(self):
            super().close()
            if room:
                raise OSError(28, "No space left on device")

    rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=num_samples, seed=3, name="exp",
           storage_path=storage, executor="inline", verbose=0, resume=True,
           callbacks=[FullDiskLogger(os.path.join(storage, "extra"))])
""")


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_a_full_disk_reports_the_journals_error_first(storage, tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(FULL_DISK_DRIVER)

    def drive(num_samples, room):
        return subprocess.run([sys.executable, str(script), storage, str(num_samples),
                               str(room)], capture_output=True, text=True, timeout=120)

    assert drive(6, 0).returncode == 0
    failed = drive(30, 2500)
    assert failed.returncode != 0
    last = [line for line in failed.stderr.splitlines() if line.strip()]
    raised = next(line for line in reversed(last) if line.startswith("OSError"))
    journal = os.path.join(storage, "exp", "journal.jsonl")
    assert raised.startswith("OSError") and f"could not write '{journal}'" in raised, \
        failed.stderr[-3000:]
    assert "while ending the run, OSError: [Errno 28] No space left" in failed.stderr
    assert drive(30, 0).returncode == 0
    results = rs.load(os.path.join(storage, "exp"))
    frame = results.dataframe()
    assert len(frame) == 30 and set(frame.status) == {"TERMINATED"}
    for trial_id, rows in results.history().groupby("trial_id"):  # no checkpoint deleted
        assert list(rows.training_iteration) == [1, 2, 3, 4, 5], trial_id  # past the failure


def _quick(config):
    state = rs.get_checkpoint() or {"it": 0}
    for it in range(state["it"], 2):
        rs.report({"loss": config["x"] + it}, checkpoint={"it": it + 1})


def _quick_run(storage, **kwargs):
    args = dict(num_samples=2, seed=1, name="exp", storage_path=storage, executor="inline",
                verbose=0)
    args.update(kwargs)
    return rs.run(_quick, {"x": rs.uniform(0, 1)}, **args)


# -- item 4: a journal without its settings is refused ------------------------------------
def test_a_journal_without_experiment_json_is_refused(storage):
    results = _quick_run(storage)
    os.remove(os.path.join(results.path, "experiment.json"))
    before = open(os.path.join(results.path, "journal.jsonl"), "rb").read()
    for resume in (False, True):
        with pytest.raises(ValueError, match=r"holds a journal .* but no experiment.json.*"
                                             r"move the directory aside"):
            _quick_run(storage, seed=5, resume=resume)
    assert open(os.path.join(results.path, "journal.jsonl"), "rb").read() == before


# -- item 6: every malformed journal line is CorruptJournal naming file and line ----------
@pytest.mark.parametrize("line", [
    '{"e":"r","id":"00001","r":"oops"}', '{"e":"new","id":3,"c":{}}', '[1, 2]',
    '{"e":"s","id":"00000","s":"DONE"}', '{"e":"fork","id":"00000","p":"00001","c":{},"i":"x"}',
    '{"e":"r","id":"00001","r":{"training_iteration":"2"}}', 'not json at all'])
@pytest.mark.parametrize("where", ["middle", "last"])
def test_a_malformed_journal_line_is_corrupt_journal_from_every_reader(storage, capsys, line,
                                                                       where):
    from raysweep.cli import main
    from raysweep.errors import CorruptJournal

    results = _quick_run(storage)
    journal = os.path.join(results.path, "journal.jsonl")
    lines = open(journal, encoding="utf-8").read().splitlines()
    at = 3 if where == "middle" else len(lines)
    lines.insert(at, line)
    torn = where == "last" and line == "not json at all"  # no newline: a torn last write
    with open(journal, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + ("" if torn else "\n"))
    if torn:  # the event never happened
        assert len(rs.load(results.path)) == 2
        return
    expected = rf"{journal}: line {at + 1} is not a valid journal event"
    with pytest.raises(CorruptJournal, match=expected):
        rs.load(results.path)
    with pytest.raises(CorruptJournal, match=expected):
        _quick_run(storage, resume=True)
    with pytest.raises(CorruptJournal, match=expected):
        rs.restore(results.path, _quick, executor="inline", verbose=0)
    assert main(["show", results.path]) != 0
    assert f"line {at + 1} is not a valid journal event" in capsys.readouterr().err


# -- item 8: control characters in names ---------------------------------------------------
def test_names_with_control_characters_are_refused_and_printed_escaped(storage, capsys):
    from raysweep.cli import main

    evil = "ok\x1b[2J\x1b]0;title\x07"
    with pytest.raises(ValueError, match="name must not contain control characters"):
        _quick_run(storage, name=evil)
    results = _quick_run(storage, name="fine")
    os.rename(results.path, os.path.join(storage, evil))  # made on disk by other means
    assert main(["ls", storage]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "ok\\x1b[2J\\x1b]0;title\\x07" in out


# -- item 9: every file follows the umask ---------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_every_file_of_an_experiment_follows_the_umask(storage, umask):
    from raysweep.cli import main

    previous = os.umask(umask)
    try:
        results = _quick_run(storage)
        assert main(["export", results.path, "--out", os.path.join(storage, "t.csv")]) == 0
        assert main(["export", results.path, "--out", os.path.join(storage, "t.json")]) == 0
    finally:
        os.umask(previous)
    modes = {}
    for directory, _, files in os.walk(storage):
        for name in files:
            if name != ".lock":
                file = os.path.join(directory, name)
                modes[os.path.relpath(file, storage)] = os.stat(file).st_mode & 0o777
    assert {"exp/journal.jsonl", "exp/experiment.json", "exp/results.csv", "exp/progress.csv",
            "exp/run_args.pkl", "exp/progress.jsonl", "t.csv", "t.json"} <= set(modes)
    assert set(modes.values()) == {0o666 & ~umask}, modes


# -- item 7: Ctrl-C while the workers start --------------------------------------------------
SLOW_START_DRIVER = textwrap.dedent("""
    import os, signal, sys, threading, time
    import raysweep as rs
    from raysweep.execution.inline import InlineExecutor

    class SlowStart(InlineExecutor):  # workers that take a while to come up: Ctrl-C then
        def setup(self, *args, **kwargs):
            threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
            time.sleep(30)
            super().setup(*args, **kwargs)

    rs.run(lambda config: config["x"], {"x": rs.uniform(0, 1)}, num_samples=2, name="slow",
           storage_path=sys.argv[1], executor=SlowStart(), verbose=0)
""")


def test_ctrl_c_while_the_workers_start_says_nothing_was_saved(tmp_path):
    script = tmp_path / "slow.py"
    script.write_text(SLOW_START_DRIVER)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "r")], env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode in (130, -signal.SIGINT), (done.returncode, done.stderr)
    assert "no trial ran, nothing was saved" in done.stderr
    assert "Traceback" not in done.stderr and "state saved" not in done.stderr
    assert not os.path.exists(tmp_path / "r" / "slow")



# -- item 10: max_concurrent=1 is one at a time for a learning searcher --------------------
def _instant(config):
    return (config["x"] - 0.3) ** 2 + config["y"]


@pytest.mark.ray
def test_max_concurrent_one_is_one_at_a_time_and_the_seed_gives_the_same_configs(
        ray_session, storage):
    configs = []
    for run in range(2):
        results = rs.run(_instant, {"x": rs.uniform(0, 1), "y": rs.uniform(0, 1)},
                         search="tpe", seed=3, max_concurrent=1, num_samples=16, verbose=0,
                         storage_path=storage, name=f"tpe{run}")
        unfinished = 0
        for event in _journal(results.path):
            if event["e"] == "new":
                assert unfinished == 0, "a trial was proposed while another was unfinished"
                unfinished += 1
            elif event["e"] == "s" and event["s"] in ("TERMINATED", "ERROR"):
                unfinished -= 1
        configs.append([t.config for t in results.trials])
    assert configs[0] == configs[1]
