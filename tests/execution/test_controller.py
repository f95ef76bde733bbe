"""The controller driven directly: no ``rs.run``, a real searcher and scheduler, the inline or
the simulated executor. Launch, poll, judge and persist; a pause and its resume; a PBT fork; a
lost worker; the sample and time budgets."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import raysweep as rs
from raysweep import storage as _storage
from raysweep.decisions import Decision
from raysweep.execution.controller import Controller
from raysweep.execution.inline import InlineExecutor
from raysweep.execution.messages import Ended, Lost, Report
from raysweep.execution.simulated import Simulated
from raysweep.schedulers import make_scheduler
from raysweep.search import make_searcher
from raysweep.space import Space
from raysweep.trial import TrialStatus

SPACE = {"x": rs.uniform(0, 1)}


def curve(config, iteration):
    """One virtual second per iteration; the loss falls with the iteration, lower for small x."""
    return 1.0, {"loss": config["x"] + 1.0 / iteration}


def iterative(config):
    for step in range(1, 10):
        rs.report({"loss": config["x"] + 1.0 / step}, checkpoint=step)


class Recorder(rs.Callback):
    def __init__(self):
        self.starts, self.reports, self.completes = [], [], []

    def on_trial_start(self, trial):
        self.starts.append(trial.trial_id)

    def on_trial_result(self, trial, result):
        self.reports.append((trial.trial_id, result["training_iteration"]))

    def on_trial_complete(self, trial):
        self.completes.append((trial.trial_id, trial.status))


def drive(executor, *, search="random", scheduler="fifo", num_samples=6, path=None,
          objective=None, seed=0, **kwargs):
    """What ``rs.run`` does around the controller, and nothing more: set the algorithms and
    the executor up, open the journal when ``path`` is given, run, shut down."""
    searcher_obj, scheduler_obj = make_searcher(search), make_scheduler(scheduler)
    search_seed, scheduler_seed = np.random.SeedSequence(seed).spawn(2)
    searcher_obj.setup(Space(SPACE), "loss", "min", search_seed, num_samples)
    scheduler_obj.setup("loss", "min", scheduler_seed)
    executor.setup(objective, metric="loss", mode="min", stop=None)
    directory = None
    if path is not None:
        directory = _storage.ExperimentDir(str(path))
        directory.lock()
        directory.open_journal()
    controller = Controller(executor=executor, searcher=searcher_obj, scheduler=scheduler_obj,
                            metric="loss", mode="min", num_samples=num_samples,
                            storage=directory, **kwargs)
    try:
        controller.run()
    finally:
        executor.shutdown()
        if directory is not None:
            directory.flush(True)
            directory.close()
    return controller


def journal(path):
    with open(os.path.join(path, _storage.JOURNAL_FILE), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_launch_poll_judge_and_persist_with_the_inline_executor(tmp_path):
    recorder = Recorder()
    controller = drive(InlineExecutor(), scheduler=rs.schedulers.ASHA(max_t=9, grace_period=1),
                       num_samples=8, path=tmp_path, objective=iterative,
                       callbacks=[recorder])
    trials = controller.trials
    assert sorted(trials) == [f"{i:05d}" for i in range(8)]  # launched exactly num_samples
    assert {t.status for t in trials.values()} == {TrialStatus.TERMINATED}
    iterations = [t.iteration for t in trials.values()]
    assert max(iterations) == 9 and min(iterations) < 9  # ASHA judged: some stopped early
    # every report reached the callbacks, in order, and the journal holds the same ones
    assert len(recorder.reports) == sum(iterations)
    for trial_id, trial in trials.items():
        assert [i for t, i in recorder.reports if t == trial_id] == \
            list(range(1, trial.iteration + 1))
        assert trial.checkpoint_iteration == trial.iteration  # each report saved one
    events = journal(tmp_path)
    assert sorted(e["id"] for e in events if e["e"] == "new") == sorted(trials)
    reported = [(e["id"], e["r"]["training_iteration"]) for e in events if e["e"] == "r"]
    assert reported == recorder.reports
    ended = {e["id"]: e["s"] for e in events if e["e"] == "s"}
    assert ended == {trial_id: "TERMINATED" for trial_id in trials}
    assert sorted(recorder.completes) == sorted((t, TrialStatus.TERMINATED) for t in trials)


def test_a_paused_trial_resumes_where_it_stopped(tmp_path):
    recorder = Recorder()
    controller = drive(Simulated(3, curve, max_iterations=9),
                       scheduler=rs.schedulers.Hyperband(max_t=9, reduction_factor=3),
                       num_samples=9, path=tmp_path, callbacks=[recorder])
    events = journal(tmp_path)
    paused = {e["id"] for e in events if e["e"] == "s" and e["s"] == "PAUSED"}
    resumed = {e["id"] for e in events if e["e"] == "resume"}
    assert paused and resumed <= paused and resumed
    for trial_id in resumed:  # started again, and went on from the pause: no gap, no repeat
        assert recorder.starts.count(trial_id) >= 2
        assert [i for t, i in recorder.reports if t == trial_id] == \
            list(range(1, controller.trials[trial_id].iteration + 1))
    assert {t.status for t in controller.trials.values()} == {TrialStatus.TERMINATED}


def test_pbt_forks_a_trial_from_a_better_ones_checkpoint(tmp_path):
    def drifting(config, iteration):
        return 10.0, {"loss": abs(config["x"] - 0.3) + 1.0 / iteration}

    pbt = rs.schedulers.PBT(perturbation_interval=4, hyperparam_mutations={"x": rs.uniform(0, 1)})
    controller = drive(Simulated(4, drifting, max_iterations=20, checkpoints="blocking"),
                       scheduler=pbt, num_samples=8, path=tmp_path)
    forked = [t for t in controller.trials.values() if t.parent_id is not None]
    assert forked, "PBT forked no trial"
    forks = [e for e in journal(tmp_path) if e["e"] == "fork"]
    assert {e["id"] for e in forks} == {t.trial_id for t in forked}
    for trial in forked:  # the trial keeps its id, runs on from the donor's iteration
        assert trial.parent_id in controller.trials and trial.parent_id != trial.trial_id
        assert trial.iteration == 20
    assert len(controller.trials) == 8
    assert {t.status for t in controller.trials.values()} == {TrialStatus.TERMINATED}


class Waits(rs.schedulers.FIFO):
    """FIFO that waits for its decision after every report (so the simulated executor saves a
    checkpoint at each one, with ``checkpoints="blocking"``)."""

    def blocking_iterations(self, trial):
        return None


class LosesAWorker(Simulated):
    """The simulated executor, except that the worker running ``victim`` dies when it
    reaches ``at`` the first time: the run ends there and the driver hears ``Lost``."""

    def __init__(self, *args, victim="00000", at=3, **kwargs):
        super().__init__(*args, **kwargs)
        self.victim, self.at, self.lost = victim, at, False

    def poll(self, timeout_s):
        events = []
        for event in super().poll(timeout_s):
            events.append(event)
            if not self.lost and type(event) is Report and event.trial_id == self.victim \
                    and event.result["training_iteration"] == self.at:
                self.lost = True
                ended = self.kill(self.victim, "worker died")
                assert [type(e) for e in ended] == [Ended]  # its run is gone
                events.append(Lost(self.victim, "the worker process died", True))
        return events


@pytest.mark.parametrize("max_failures", [0, 1])
def test_a_lost_worker_is_retried_within_max_failures(tmp_path, max_failures):
    executor = LosesAWorker(2, curve, max_iterations=6, checkpoints="blocking")
    recorder = Recorder()
    controller = drive(executor, scheduler=Waits(), num_samples=3, path=tmp_path,
                       max_failures=max_failures, callbacks=[recorder])
    victim = controller.trials["00000"]
    assert executor.lost and victim.num_failures == 1
    events = journal(tmp_path)
    if max_failures == 0:
        assert victim.status is TrialStatus.ERROR
        assert "the worker process died (failed 1 time(s); max_failures=0)" in victim.error
        assert not [e for e in events if e["e"] == "restart"]
    else:  # restarted from its latest checkpoint (or the start), and finished
        assert victim.status is TrialStatus.TERMINATED and victim.iteration == 6
        restarts = [(e["id"], e["why"], e["i"]) for e in events if e["e"] == "restart"]
        assert len(restarts) == 1 and restarts[0][:2] == ("00000", "failure")
        since = restarts[0][2]
        assert 0 <= since <= 3
        ran = [i for t, i in recorder.reports if t == "00000"]
        assert ran == [1, 2, 3, *range(since + 1, 7)]  # the lost steps again, then on
    others = [t for t in controller.trials.values() if t.trial_id != "00000"]
    assert {t.status for t in others} == {TrialStatus.TERMINATED}  # the sweep went on


def test_the_time_budget_ends_the_sweep_in_virtual_time():
    executor = Simulated(2, curve, max_iterations=5)
    controller = drive(executor, num_samples=None, time_budget_s=30.0)
    trials = list(controller.trials.values())
    assert 2 <= len(trials) < 20  # unlimited samples, bounded by the budget
    assert all(t.status.is_finished for t in trials)
    assert executor.now() <= 30.0 + 5.0  # nothing ran on long after the budget
    assert sum(t.iteration for t in trials) <= 2 * 30  # two workers, one second per step


def test_a_stop_decision_ends_the_trial_at_its_report():
    class StopAtTwo(Waits):
        def on_result(self, trial, result):
            return Decision.STOP if result["training_iteration"] >= 2 else Decision.CONTINUE

    controller = drive(Simulated(2, curve, max_iterations=9), scheduler=StopAtTwo(),
                       num_samples=4)
    assert [t.iteration for t in controller.trials.values()] == [2, 2, 2, 2]
    assert {t.status for t in controller.trials.values()} == {TrialStatus.TERMINATED}
