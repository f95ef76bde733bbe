"""Durability: kill -9 of the driver, torn and corrupt journals, locks, changed settings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import raysweep as rs
from raysweep.errors import CorruptJournal, ExperimentLocked, ResumeMismatch
from raysweep.storage import ExperimentDir

NUM_SAMPLES = 10
STEPS = 6

DRIVER = textwrap.dedent(f"""
    import sys, time
    import raysweep as rs

    def train(config):
        state = rs.get_checkpoint() or {{"step": 0}}
        for step in range(state["step"], {STEPS}):
            time.sleep(0.04)
            rs.report({{"loss": config["x"] * (step + 1)}}, checkpoint={{"step": step + 1}})

    rs.run(train, {{"x": rs.uniform(0, 1)}}, num_samples={NUM_SAMPLES}, seed=7, name="killed",
           storage_path=sys.argv[1], resume=True, address=sys.argv[2], verbose=0,
           max_concurrent=2)
""")


def train(config):
    state = rs.get_checkpoint() or {"step": 0}
    for step in range(state["step"], STEPS):
        time.sleep(0.04)
        rs.report({"loss": config["x"] * (step + 1)}, checkpoint={"step": step + 1})


def _journal_lines(path):
    file = os.path.join(path, "journal.jsonl")
    if not os.path.exists(file):
        return 0
    with open(file, "rb") as handle:
        return handle.read().count(b"\n")


def _snapshot(path):
    results = rs.load(path)
    finished = {t.trial_id: (t.config, t.last_result) for t in results.trials
                if t.status.value == "TERMINATED"}
    history = results.history()
    return finished, history


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
@pytest.mark.parametrize("kill_after_lines", [2, 25, 60])
def test_sigkill_of_the_driver_then_resume_loses_nothing(tmp_path, kill_after_lines):
    import ray

    from raysweep.execution.ray_executor import release_workers

    release_workers()  # the subprocess driver needs the CPUs our idle pool would hold
    storage = str(tmp_path / "results")
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    address = ray.get_runtime_context().gcs_address
    path = os.path.join(storage, "killed")
    proc = subprocess.Popen([sys.executable, str(script), storage, address],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while _journal_lines(path) < kill_after_lines and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert os.path.exists(os.path.join(path, "experiment.json"))
    before, history_before = _snapshot(path)
    time.sleep(1.0)  # let Ray reclaim the killed driver's workers

    results = rs.run(train, {"x": rs.uniform(0, 1)}, num_samples=NUM_SAMPLES, seed=7,
                     name="killed", storage_path=storage, resume=True, verbose=0,
                     max_concurrent=2)
    frame = results.dataframe()
    assert len(frame) == NUM_SAMPLES
    assert set(frame.status) == {"TERMINATED"}
    assert list(frame.training_iteration) == [STEPS] * NUM_SAMPLES
    for trial in results.trials:  # finished before the kill: unchanged
        if trial.trial_id in before:
            config, last = before[trial.trial_id]
            assert trial.config == config
            assert trial.last_result == last
    history = results.history()
    for trial_id, rows in history.groupby("trial_id"):
        assert list(rows.training_iteration) == list(range(1, STEPS + 1)), trial_id
    # reports kept from before the kill (up to each trial's checkpoint) are unchanged
    if len(history_before):
        merged = history_before.merge(history, on=["trial_id", "training_iteration"],
                                      suffixes=("_old", "_new"))
        assert (merged.loss_old == merged.loss_new).all()
    assert not rs.load(path).dataframe().status.isin(["RUNNING", "PENDING"]).any()
    release_workers()


def _quick_run(storage, **kwargs):
    def objective(config):
        for step in range(3):
            rs.report({"loss": config["x"] + step}, checkpoint={"step": step})

    args = dict(num_samples=4, seed=1, name="exp", storage_path=storage, executor="inline",
                verbose=0)
    args.update(kwargs)
    return rs.run(objective, args.pop("space", {"x": rs.uniform(0, 1)}), **args)


def test_torn_last_line_is_ignored_and_resume_completes(storage):
    _quick_run(storage, num_samples=2)
    journal = os.path.join(storage, "exp", "journal.jsonl")
    with open(journal, "a") as handle:
        handle.write('{"e": "new", "id": "00002", "c": {"x"')  # a torn write
    assert len(rs.load(os.path.join(storage, "exp"))) == 2
    results = _quick_run(storage, num_samples=4, resume=True)
    assert len(results) == 4
    assert set(results.dataframe().status) == {"TERMINATED"}
    for line in open(journal):
        json.loads(line)  # the torn fragment was cut before appending


def test_corrupt_journal_line_is_a_clear_error(storage):
    _quick_run(storage)
    journal = os.path.join(storage, "exp", "journal.jsonl")
    lines = open(journal).read().splitlines()
    lines[3] = "{not json"
    open(journal, "w").write("\n".join(lines) + "\n")
    with pytest.raises(CorruptJournal, match="line 4"):
        rs.load(os.path.join(storage, "exp"))
    with pytest.raises(CorruptJournal, match="line 4"):
        _quick_run(storage, resume=True)


def test_resume_with_a_changed_space_or_metric_is_refused(storage):
    _quick_run(storage)
    with pytest.raises(ResumeMismatch, match="space changed"):
        _quick_run(storage, resume=True, space={"x": rs.uniform(0, 2)})
    with pytest.raises(ResumeMismatch, match="metric changed"):
        _quick_run(storage, resume=True, metric="acc")


def test_resume_of_a_finished_experiment_keeps_it_and_can_extend_it(storage):
    first = _quick_run(storage)
    again = _quick_run(storage, resume=True)
    assert [t.last_result for t in again.trials] == [t.last_result for t in first.trials]
    more = _quick_run(storage, resume=True, num_samples=6)
    assert len(more) == 6
    assert [t.config for t in more.trials][:4] == [t.config for t in first.trials]


def test_one_writer_per_experiment(storage):
    holder = ExperimentDir(os.path.join(storage, "exp"))
    holder.lock()
    try:
        with pytest.raises(ExperimentLocked, match="already being run"):
            _quick_run(storage)
        other = _quick_run(storage, name="other")  # a different name is fine
        assert len(other) == 4
    finally:
        holder.close()
    assert len(_quick_run(storage)) == 4  # the lock went with its holder


def test_interrupted_checkpoint_write_leaves_no_trace(storage):
    _quick_run(storage, num_samples=1)
    trial_dir = os.path.join(storage, "exp", "trials", "00000")
    os.makedirs(os.path.join(trial_dir, ".tmp-ckpt-dead"))  # a write cut by kill -9
    results = rs.load(os.path.join(storage, "exp"))
    assert results.get_checkpoint("00000") == {"step": 2}


class PauseAtThree(rs.schedulers.Scheduler):
    """Pauses every trial once at iteration 3; resumes paused trials when slots free up."""

    def setup(self, metric, mode, seed):
        super().setup(metric, mode, seed)
        self.paused = []
        self.done_pausing = set()

    def on_result(self, trial, result):
        if result["training_iteration"] == 3 and trial.trial_id not in self.done_pausing:
            self.done_pausing.add(trial.trial_id)
            self.paused.append(trial.trial_id)
            return rs.schedulers.base.Decision.PAUSE
        return rs.schedulers.base.Decision.CONTINUE

    def next_launch(self, trials, *, exhausted):
        from raysweep.decisions import NEW, WAIT, Resume

        from raysweep.trial import TrialStatus

        ready = [t for t in self.paused if trials[t].status is TrialStatus.PAUSED]
        if ready and (exhausted or len(ready) >= 2):
            self.paused.remove(ready[0])
            return Resume(ready[0])
        return WAIT if exhausted else NEW


class Counter(rs.Trainable):
    max_iterations = 6

    def setup(self, config):
        self.value = 0

    def step(self):
        self.value += 1
        return {"loss": float(self.value)}

    def save(self):
        return {"value": self.value}

    def restore(self, state):
        self.value = state["value"]


def counting(config):
    state = rs.get_checkpoint() or {"value": 0}
    value = state["value"]
    while value < 6:
        value += 1
        rs.report({"loss": float(value)}, checkpoint={"value": value})


@pytest.mark.parametrize("executor", ["inline", pytest.param("ray", marks=pytest.mark.ray)])
@pytest.mark.parametrize("objective", [counting, Counter])
def test_pause_and_resume_continue_without_gap_or_repeat(storage, executor, objective, request):
    if executor == "ray":
        request.getfixturevalue("ray_session")
    results = rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=3, verbose=0,
                     scheduler=PauseAtThree(), executor=executor, storage_path=storage)
    frame = results.dataframe()
    assert set(frame.status) == {"TERMINATED"}
    history = results.history()
    for _, rows in history.groupby("trial_id"):
        assert list(rows.training_iteration) == [1, 2, 3, 4, 5, 6]
        assert list(rows.loss) == [1, 2, 3, 4, 5, 6]  # state continued, not restarted
    journal = open(os.path.join(results.path, "journal.jsonl")).read()
    assert journal.count('"s":"PAUSED"') == 3 and journal.count('"e":"resume"') == 3


CTRL_C_DRIVER = textwrap.dedent("""
    import sys, time
    import raysweep as rs

    def train(config):
        state = rs.get_checkpoint() or {"step": 0}
        for step in range(state["step"], 40):
            time.sleep(0.05)
            rs.report({"loss": config["x"] + step}, checkpoint={"step": step + 1})

    rs.run(train, {"x": rs.uniform(0, 1)}, num_samples=2, seed=3, name="ctrlc",
           storage_path=sys.argv[1], resume=True, executor="inline", verbose=0)
""")


def test_ctrl_c_saves_state_prints_how_to_resume_and_resume_finishes(tmp_path):
    storage = str(tmp_path / "results")
    script = tmp_path / "driver.py"
    script.write_text(CTRL_C_DRIVER)
    path = os.path.join(storage, "ctrlc")
    proc = subprocess.Popen([sys.executable, str(script), storage], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while _journal_lines(path) < 8 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert "resume with" in err and "resume=True" in err
    journal = open(os.path.join(path, "journal.jsonl")).read()
    assert '"kind":"interrupted"' in journal
    proc = subprocess.run([sys.executable, str(script), storage], timeout=120)
    assert proc.returncode == 0
    results = rs.load(path)
    assert set(results.dataframe().status) == {"TERMINATED"}
    for _, rows in results.history().groupby("trial_id"):
        assert list(rows.training_iteration) == list(range(1, 41))


def test_keep_checkpoints_bounds_disk_use(storage):
    def objective(config):
        for step in range(10):
            rs.report({"loss": float(step)}, checkpoint={"step": step})

    results = rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=2, keep_checkpoints=3,
                     executor="inline", verbose=0, storage_path=storage)
    for trial in results.trials:
        kept = sorted(os.listdir(os.path.join(results.path, "trials", trial.trial_id)))
        assert kept == ["checkpoint_000008", "checkpoint_000009", "checkpoint_000010"]
        assert results.get_checkpoint(trial.trial_id) == {"step": 9}
