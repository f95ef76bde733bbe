"""The checks every framework integration goes through, on real training with real Ray.

Each framework's test module defines ``train(config)`` that trains a tiny model on
scikit-learn's digits for ``STEPS`` rounds/epochs with its ``ReportCallback``, and records
every step it really trained in ``config["log"]`` through ``StepLog`` (one JSON line:
trial id, a token for this run of the objective, the step it started from, the step). From
that record the checks see what the framework did, not only what raysweep was told:

- ``check_asha``: ASHA stopped some trials early, and their training stopped there (no step
  trained past the last report).
- ``check_pbt``: PBT cloned trials, and a clone's framework resumed at its donor's
  checkpoint step with its step counter going on from there.
- ``kill_and_resume``: a driver killed with SIGKILL mid-sweep, then ``resume=True``: every
  trial finishes, histories have no gap or repeat, and trials resumed from the framework's
  checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from typing import Any

import raysweep as rs
from raysweep.execution.ray_executor import register_by_value

# raysweep ships the objective's own module to the workers by value; this helper module,
# which the objectives use, too (workers cannot import tests/)
register_by_value(__name__)

STEPS = 9
HERE = os.path.dirname(os.path.abspath(__file__))


class StepLog:
    """Inside the objective: ``log = StepLog(config, start)``, then ``log(step)`` per step."""

    def __init__(self, config: dict[str, Any], start: int) -> None:
        self.path = config["log"]
        self.trial_id = rs.get_trial_id()
        self.run = uuid.uuid4().hex
        self.start = int(start)
        self.delay_s = float(config.get("delay_s", 0.0))  # slows the kill test's training

    def __call__(self, step: int) -> None:
        if self.delay_s:
            time.sleep(self.delay_s)
        with open(self.path, "a", encoding="utf-8") as handle:  # small appends: atomic
            handle.write(json.dumps([self.trial_id, self.run, self.start, int(step)]) + "\n")


def read_runs(path: str) -> dict[tuple[str, str], tuple[int, list[int]]]:
    """(trial id, run token) -> (start step, the steps trained), in order."""
    runs: dict[tuple[str, str], tuple[int, list[int]]] = {}
    if not os.path.exists(path):
        return runs
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                continue  # a write torn by a kill
            trial_id, run, start, step = json.loads(line)
            runs.setdefault((trial_id, run), (start, []))[1].append(step)
    return runs


def trained_steps(path: str) -> dict[str, int]:
    """trial id -> the highest step its framework trained."""
    out: dict[str, int] = {}
    for (trial_id, _), (_, steps) in read_runs(path).items():
        out[trial_id] = max(out.get(trial_id, 0), max(steps))
    return out


def journal(results: Any) -> list[dict]:
    with open(os.path.join(results.path, "journal.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def check_continuous(path: str) -> dict[tuple[str, str], tuple[int, list[int]]]:
    """Every run trained consecutive steps from the step it resumed at."""
    runs = read_runs(path)
    for key, (start, steps) in runs.items():
        assert steps == list(range(start + 1, start + 1 + len(steps))), (key, start, steps)
    return runs


def asha() -> Any:
    return rs.schedulers.ASHA(max_t=STEPS, grace_period=1, reduction_factor=3)


def pbt(mutations: dict[str, Any]) -> Any:
    return rs.schedulers.PBT(perturbation_interval=3, hyperparam_mutations=mutations,
                             quantile_fraction=0.5)


def sweep_asha(train: Any, space: Any, tmp_path: Any) -> Any:
    """Sweep ``train`` with ASHA (8 trials, 2 at a time), run ``check_asha``; the results."""
    log = str(tmp_path / "steps.jsonl")
    results = rs.run(train, space(log), metric="loss", num_samples=8, seed=0, scheduler=asha(),
                     storage_path=str(tmp_path), verbose=0, max_concurrent=2)
    check_asha(results, log)
    return results


def sweep_pbt(train: Any, space: Any, tmp_path: Any, mutations: dict[str, Any],
              delay_s: float) -> Any:
    """Sweep ``train`` with PBT (4 trials, 2 at a time, each step slowed by ``delay_s`` so that
    the two running trials meet at perturbation points), run ``check_pbt``; the results."""
    log = str(tmp_path / "steps.jsonl")
    results = rs.run(train, {**space(log), "delay_s": delay_s}, metric="loss", num_samples=4,
                     seed=1, scheduler=pbt(mutations), storage_path=str(tmp_path), verbose=0,
                     max_concurrent=2)
    check_pbt(results, log)
    return results


def check_inline_stop(objective: Any, ran: list, tmp_path: Any, at: int, **kwargs: Any) -> Any:
    """Run ``objective`` inline with ``stop={"training_iteration": at}``: the trial ends
    TERMINATED at ``at``, and its training call did not return (``ran`` stays empty)."""
    results = rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=1, executor="inline",
                     stop={"training_iteration": at}, storage_path=str(tmp_path), verbose=0,
                     **kwargs)
    assert results.trials[0].iteration == at and ran == []
    assert results.trials[0].status.value == "TERMINATED"
    return results


def check_asha(results: Any, log: str) -> None:
    """Some trials were stopped early by ASHA, and their training really stopped."""
    frame = results.dataframe()
    assert set(frame.status) == {"TERMINATED"}, frame.status.tolist()
    iterations = dict(zip(frame.trial_id, frame.training_iteration))
    assert any(it < STEPS for it in iterations.values()), iterations  # stopped early
    assert any(it == STEPS for it in iterations.values()), iterations  # promoted to the end
    trained = trained_steps(log)
    # the framework trained exactly as far as the trial reported: not one step past the stop
    assert trained == iterations, (trained, iterations)
    check_continuous(log)


def check_pbt(results: Any, log: str) -> None:
    """Trials were cloned, and each clone resumed from its donor's framework checkpoint."""
    frame = results.dataframe()
    # (a trial still paused for a clone when the others finish ends there: not all reach
    # STEPS)
    assert set(frame.status) == {"TERMINATED"}, frame.status.tolist()
    assert (frame.training_iteration == STEPS).any(), frame.training_iteration.tolist()
    forks = [e for e in journal(results) if e["e"] == "fork"]
    assert forks, "PBT cloned no trial"
    runs = check_continuous(log)
    starts = {(trial_id, start) for (trial_id, _), (start, _) in runs.items()}
    resumed = [f for f in forks if f["i"] > 0 and (f["id"], f["i"]) in starts]
    # the clone's model came from the donor's checkpoint: its framework started at the
    # donor's step (not at 0) and counted on from there
    assert resumed, (forks, sorted(starts))


DRIVER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {here!r})
    import raysweep as rs
    from {module} import train, space

    rs.run(train, {{**space(sys.argv[3]), "delay_s": {delay_s}}}, metric="loss",
           num_samples={n}, seed=3, name="killed", storage_path=sys.argv[1], resume=True,
           address=sys.argv[2], verbose=0, max_concurrent=2)
""")


def kill_and_resume(tmp_path: Any, module: str, train: Any, space: Any, n: int = 4,
                    kill_at_step: int = 5) -> Any:
    """Run a sweep in a driver process, SIGKILL it once a trial trained ``kill_at_step``
    steps (past a checkpoint), resume here; check it finished with nothing lost."""
    import ray

    from raysweep.execution.ray_executor import release_workers

    release_workers()  # the subprocess driver needs the CPUs our idle pool would hold
    storage, log = str(tmp_path / "results"), str(tmp_path / "steps.jsonl")
    script = tmp_path / "driver.py"
    # slowed down: the kill must land while trials are between a checkpoint and their end
    delay_s = 0.15
    script.write_text(DRIVER.format(here=HERE, module=module, n=n, delay_s=delay_s))
    address = ray.get_runtime_context().gcs_address
    proc = subprocess.Popen([sys.executable, str(script), storage, address, log],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                stderr = proc.stderr.read() if proc.stderr else b""
                raise AssertionError("the driver ended before the kill: "
                                     + stderr.decode()[-3000:])
            if max(trained_steps(log).values(), default=0) >= kill_at_step:
                break
            time.sleep(0.02)
        else:
            raise AssertionError("no trial reached the kill point in time")
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    path = os.path.join(storage, "killed")
    before = len(read_runs(log))
    time.sleep(1.0)  # let Ray reclaim the killed driver's workers

    results = rs.run(train, {**space(log), "delay_s": delay_s}, metric="loss", num_samples=n,
                     seed=3, name="killed", storage_path=storage, resume=True, verbose=0,
                     max_concurrent=2)
    frame = results.dataframe()
    assert len(frame) == n and set(frame.status) == {"TERMINATED"}, frame.status.tolist()
    assert (frame.training_iteration == STEPS).all()
    for trial_id, rows in results.history().groupby("trial_id"):
        assert list(rows.training_iteration) == list(range(1, STEPS + 1)), trial_id
    runs = check_continuous(log)
    after = list(runs.items())[before:]
    # at least one trial went on from the checkpoint its framework wrote before the kill
    assert any(start > 0 for _, (start, _) in after), after
    assert not rs.load(path).dataframe().status.isin(["RUNNING", "PENDING"]).any()
    release_workers()
    return results
