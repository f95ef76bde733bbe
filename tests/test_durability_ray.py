"""Failures at the Ray worker boundary: who is charged a dead worker, lost pools, budgets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import raysweep as rs

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]


def _crashing_grid(storage, tmp_path, *, once: bool, max_failures: int):
    """Eight trivial trials, two workers (so trials queue behind each other); trial 5 kills
    its worker process, on its first attempt only when ``once``."""
    marker = str(tmp_path / "crashed")

    def objective(config):
        if config["i"] == 5 and not (once and os.path.exists(marker)):
            open(marker, "w").close()
            os._exit(1)
        return float(config["i"])

    return rs.run(objective, {"i": rs.grid(list(range(8)))}, max_failures=max_failures,
                  verbose=0, storage_path=storage)


def test_a_dead_worker_is_charged_to_the_trial_it_was_running(storage, tmp_path):
    """The next trial is queued on each worker: the one queued behind (or ahead of) the
    culprit must not be charged, even when the culprit dies as soon as it starts."""
    results = _crashing_grid(storage, tmp_path, once=False, max_failures=0)
    frame = results.dataframe().set_index("config/i")
    assert list(frame.index[frame.status == "ERROR"]) == [5]
    assert "max_failures=0" in frame.loc[5, "error"]
    assert [t.num_failures for t in results.trials] == [0, 0, 0, 0, 0, 1, 0, 0]


def test_a_worker_death_on_the_first_attempt_only_is_retried(storage, tmp_path):
    results = _crashing_grid(storage, tmp_path, once=True, max_failures=1)
    frame = results.dataframe()
    assert set(frame.status) == {"TERMINATED"}
    assert [t.num_failures for t in results.trials] == [0, 0, 0, 0, 0, 1, 0, 0]
    assert sorted(frame.loss) == [float(i) for i in range(8)]


def test_every_worker_killed_at_once_is_replaced_and_no_trial_is_left_pending(storage):
    """Both workers are killed by trial timeouts at the same moment; Ray gives their CPUs back
    only later, and the queued trials must still run (they used to stay PENDING)."""
    def objective(config):
        if config["i"] < 2:
            time.sleep(60)
        return float(config["i"])

    results = rs.run(objective, {"i": rs.grid([0, 1, 2, 3])}, trial_timeout_s=1.0, verbose=0,
                     storage_path=storage)
    frame = results.dataframe().set_index("config/i")
    assert list(frame.status) == ["ERROR", "ERROR", "TERMINATED", "TERMINATED"]
    assert not rs.load(results.path).dataframe().status.isin(["RUNNING", "PENDING"]).any()


def test_trial_timeout_stops_a_trial_stuck_in_c_code(storage):
    def objective(config):
        if config["i"] == 0:
            import ctypes

            ctypes.CDLL(None).sleep(60)  # never returns to Python
        return float(config["i"])

    start = time.monotonic()
    results = rs.run(objective, {"i": rs.grid([0, 1, 2])}, trial_timeout_s=1.0, verbose=0,
                     storage_path=storage)
    assert time.monotonic() - start < 30
    frame = results.dataframe().set_index("config/i")
    assert frame.loc[0, "status"] == "ERROR"
    assert "trial 00000 exceeded trial_timeout_s=1.0" in frame.loc[0, "error"]
    assert list(frame.loc[[1, 2], "status"]) == ["TERMINATED", "TERMINATED"]


def test_an_unpicklable_reported_value_is_a_trial_error_not_a_dead_worker(storage):
    def objective(config):
        if config["i"] == 0:
            rs.report({"loss": 1.0, "handle": threading.Lock()})
        return float(config["i"])

    results = rs.run(objective, {"i": rs.grid([0, 1, 2])}, max_failures=2, verbose=0,
                     storage_path=storage)
    frame = results.dataframe().set_index("config/i")
    assert list(frame.status) == ["ERROR", "TERMINATED", "TERMINATED"]
    error = frame.loc[0, "error"]
    assert "trial 00000" in error and "'handle'" in error and "cannot be sent" in error
    assert all(t.num_failures == 0 for t in results.trials)  # no worker died


def test_time_budget_ends_trials_stuck_in_a_long_iteration(storage):
    """Ray Tune ends its trials at time_budget_s; a trial that does not reach a report soon
    after is killed and ends TERMINATED with what it reported (not a missing-metric error)."""
    def objective(config):
        rs.report({"loss": config["x"]})
        time.sleep(60)
        rs.report({"loss": 0.0})

    start = time.monotonic()
    results = rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=4, time_budget_s=1.0,
                     verbose=0, storage_path=storage)
    assert time.monotonic() - start < 30
    frame = results.dataframe()
    assert set(frame.status) == {"TERMINATED"}
    ran = frame[frame.training_iteration == 1]
    assert len(ran) == 2 and (ran.loss > 0).all()  # the two that ran keep their report


def test_a_value_returned_after_the_time_budget_is_the_trials_result(storage):
    """The budget asks running trials to stop; one that then returns its value has finished:
    that value is its result (it used to be dropped and the run failed on a missing metric)."""
    def objective(config):
        time.sleep(1.0)
        return config["x"]

    results = rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=4, time_budget_s=0.3,
                     verbose=0, storage_path=storage, seed=1)
    frame = results.dataframe().set_index("trial_id")
    assert set(frame.status) == {"TERMINATED"}
    finished = frame.dropna(subset=["loss"])
    assert len(finished) == 2  # the two that were running; the queued two never started
    for trial_id, row in finished.iterrows():
        assert row.loss == results[trial_id].config["x"]


PBT_DRIVER = textwrap.dedent("""
    import json, os, sys, time
    import raysweep as rs

    LOG = sys.argv[3] if __name__ == "__main__" else None  # imported: the test sets it

    def train(config):
        me = rs.get_trial_id()
        state = rs.get_checkpoint() or {"step": 0, "owner": me, "w": 0.0}
        with open(LOG, "a") as handle:
            handle.write(json.dumps([me, state["owner"], state["step"]]) + "\\n")
        if state["owner"] != me and not os.path.exists(LOG + ".forked"):
            open(LOG + ".forked", "w").close()
            time.sleep(30)  # the first fork: the driver is killed meanwhile
        w = state["w"]
        for step in range(state["step"], 9):
            time.sleep(0.01)
            w += config["lr"]
            rs.report({"loss": -w}, checkpoint={"step": step + 1, "owner": me, "w": w})

    if __name__ == "__main__":
        pbt = rs.schedulers.PBT(perturbation_interval=3,
                                hyperparam_mutations={"lr": rs.uniform(0, 1)})
        rs.run(train, {"lr": rs.uniform(0, 1)}, num_samples=4, scheduler=pbt, seed=4,
               name="pbt", storage_path=sys.argv[1], resume=True, address=sys.argv[2],
               verbose=0, keep_checkpoints=1, max_concurrent=2)
""")


def test_a_forked_trial_resumes_from_its_donors_checkpoint_after_a_kill(tmp_path):
    """Killed right after a PBT exploit, before the recipient saved a checkpoint of its own:
    on resume it must start from the donor's checkpoint (kept despite keep_checkpoints=1), not
    from its own older one."""
    import ray

    from raysweep.execution.ray_executor import release_workers

    release_workers()  # the subprocess driver needs the CPUs our idle pool would hold
    storage, log = str(tmp_path / "results"), str(tmp_path / "starts.jsonl")
    script = tmp_path / "pbt_fork_driver.py"
    script.write_text(PBT_DRIVER)
    address = ray.get_runtime_context().gcs_address
    proc = subprocess.Popen([sys.executable, str(script), storage, address, log],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while not os.path.exists(log + ".forked") and time.monotonic() < deadline:
            assert proc.poll() is None, "the driver ended before any fork"
            time.sleep(0.01)
        time.sleep(0.5)  # the fork is journaled; the recipient sleeps
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    starts = [json.loads(line) for line in open(log)]
    forked = next(s for s in starts if s[0] != s[1])
    before = len(starts)
    time.sleep(1.0)  # let Ray reclaim the killed driver's workers

    sys.path.insert(0, str(tmp_path))
    try:
        import importlib

        driver = importlib.import_module("pbt_fork_driver")
        driver.LOG = log
        pbt = rs.schedulers.PBT(perturbation_interval=3,
                                hyperparam_mutations={"lr": rs.uniform(0, 1)})
        results = rs.run(driver.train, {"lr": rs.uniform(0, 1)}, num_samples=4, scheduler=pbt,
                         seed=4, name="pbt", storage_path=storage, resume=True, verbose=0,
                         keep_checkpoints=1, max_concurrent=2)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("pbt_fork_driver", None)
    resumed = [json.loads(line) for line in open(log)][before:]
    again = next(s for s in resumed if s[0] == forked[0])
    assert again == forked  # same donor, same iteration
    frame = results.dataframe()
    assert len(frame) == 4 and set(frame.status) == {"TERMINATED"}
    assert not rs.load(results.path).dataframe().status.isin(["RUNNING", "PENDING"]).any()
    release_workers()


CTRL_C_DRIVER = textwrap.dedent("""
    import sys, time
    import raysweep as rs

    def train(config):
        state = rs.get_checkpoint() or {"step": 0}
        for step in range(state["step"], 30):
            time.sleep(0.03)
            rs.report({"loss": config["x"] + step}, checkpoint={"step": step + 1})

    rs.run(train, {"x": rs.uniform(0, 1)}, num_samples=4, seed=3, name="ctrlc",
           storage_path=sys.argv[1], resume=True, address=sys.argv[2], verbose=0)
""")


def test_ctrl_c_on_ray_saves_state_stops_the_workers_and_resume_finishes(tmp_path):
    import ray

    from raysweep.execution.ray_executor import release_workers

    release_workers()
    storage = str(tmp_path / "results")
    script = tmp_path / "driver.py"
    script.write_text(CTRL_C_DRIVER)
    address = ray.get_runtime_context().gcs_address
    journal = os.path.join(storage, "ctrlc", "journal.jsonl")
    proc = subprocess.Popen([sys.executable, str(script), storage, address],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None and (
            not os.path.exists(journal) or open(journal).read().count('"e":"r"') < 10):
        time.sleep(0.02)
    interrupted_at = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - interrupted_at < 20
    assert "interrupted; state saved" in err and "resume=True" in err
    assert '"kind":"interrupted"' in open(journal).read()
    try:
        from ray._private import state as ray_state  # the GCS view, without a dashboard

        ours = ray.get_runtime_context().get_job_id()  # this test session's own pool
        workers = [a for a in ray_state.actors().values()
                   if a["ActorClassName"] == "_WorkerActor" and a["State"] != "DEAD"
                   and a.get("JobID") != ours]
    except Exception:  # noqa: BLE001 - private API moved: the rest still holds
        workers = []
    assert not workers
    done = subprocess.run([sys.executable, str(script), storage, address], timeout=120,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    results = rs.load(os.path.join(storage, "ctrlc"))
    assert len(results) == 4 and set(results.dataframe().status) == {"TERMINATED"}
    for trial_id, rows in results.history().groupby("trial_id"):
        assert list(rows.training_iteration) == list(range(1, 31)), trial_id
