"""Every scheduler through ``rs.run`` on the in-process executor (no Ray): real controller,
real checkpoints, real journal and restore."""

from __future__ import annotations

import os
import warnings

import pytest

import raysweep as rs
from raysweep.errors import MissingMetric
from raysweep.schedulers.bohb import BOHBSearcher

MAX_T = 9


def curve(config):
    """loss = x + 1/epoch: lower x is better at every epoch; checkpoints every epoch."""
    state = rs.get_checkpoint() or {"epoch": 0}
    for epoch in range(state["epoch"], MAX_T):
        rs.report({"loss": config["x"] + 1.0 / (epoch + 1)}, checkpoint={"epoch": epoch + 1})


SPACE = {"x": rs.uniform(0, 1)}

SCHEDULERS = {
    "fifo": lambda: "fifo",
    "asha": lambda: rs.schedulers.ASHA(max_t=MAX_T),
    "hyperband": lambda: rs.schedulers.Hyperband(max_t=MAX_T),
    "median": lambda: rs.schedulers.MedianStopping(grace_period=2),
    "pbt": lambda: rs.schedulers.PBT(perturbation_interval=3,
                                     hyperparam_mutations={"x": rs.uniform(0, 1)}),
    "bohb": lambda: rs.schedulers.BOHB(max_t=MAX_T),
}


def run(scheduler, storage, **kwargs):
    kwargs.setdefault("num_samples", 14)
    kwargs.setdefault("seed", 0)
    return rs.run(curve, SPACE, metric="loss", mode="min", scheduler=scheduler,
                  executor="inline", verbose=0, storage_path=storage, **kwargs)


def _iterations(results):
    return results.history().groupby("trial_id").training_iteration.apply(list).to_dict()


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_every_scheduler_runs_end_to_end(name, storage):
    results = run(SCHEDULERS[name](), storage)
    frame = results.dataframe()
    assert len(frame) == 14
    assert set(frame.status) == {"TERMINATED"}
    for trial_id, iterations in _iterations(results).items():
        # paused trials resume from their checkpoint: no gap, no repeat
        assert iterations == list(range(1, len(iterations) + 1)), trial_id
    epochs = len(results.history())
    if name in ("asha", "hyperband", "bohb"):
        assert epochs < 14 * MAX_T


def test_hyperband_pauses_and_resumes_through_the_controller(storage):
    results = run(rs.schedulers.Hyperband(max_t=MAX_T), storage, num_samples=9)
    iterations = _iterations(results)
    # one bracket of 9: 9 trials to 1, 3 of them to 3, 1 of them to 9
    assert sorted(len(i) for i in iterations.values()) == [1] * 6 + [3] * 2 + [9]
    with open(os.path.join(results.path, "journal.jsonl")) as handle:
        journal = handle.read()
    assert journal.count('"e":"resume"') >= 2
    assert results.best_result["training_iteration"] == MAX_T


def test_bohb_by_name_uses_its_own_searcher(storage):
    results = run("bohb", storage, num_samples=5)
    assert results.settings["search"] == "bohb"
    assert results.settings["scheduler"] == "bohb"


def test_bohb_refuses_a_grid_searcher(storage):
    with pytest.raises(ValueError, match="BOHB: the Grid searcher cannot feed BOHB"):
        rs.run(curve, {"x": rs.grid([0.1, 0.2])}, metric="loss", scheduler="bohb",
               search="grid", executor="inline", verbose=0, storage_path=storage)


def test_pbt_by_name_asks_for_mutations(storage):
    with pytest.raises(ValueError, match="PBT: hyperparam_mutations must be a non-empty dict"):
        run("pbt", storage)


def test_a_time_attr_the_objective_never_reports_fails_at_the_first_result(storage):
    with pytest.raises(MissingMetric, match=r"ASHA: .* no 'epoch' \(the scheduler's "
                                            r"time_attr\); the objective reported \[.*'loss'"):
        run(rs.schedulers.ASHA(time_attr="epoch"), storage, num_samples=3)


def test_bohb_searcher_with_another_scheduler(storage):
    results = run("asha", storage, search=BOHBSearcher(min_points_in_model=2), num_samples=20)
    assert len(results.dataframe()) == 20


class _Interrupt(rs.Callback):
    """Ctrl-C after ``after`` trial starts (every decision so far has been applied)."""

    def __init__(self, after: int) -> None:
        self.left = after

    def on_trial_start(self, trial):
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt


@pytest.mark.parametrize("name", ["asha", "hyperband", "bohb", "median", "pbt"])
def test_an_interrupted_sweep_resumes_to_the_same_result(name, storage):
    reference = run(SCHEDULERS[name](), storage, name="reference")
    with pytest.raises(KeyboardInterrupt):
        run(SCHEDULERS[name](), storage, name="resumed", callbacks=[_Interrupt(9)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed = run(SCHEDULERS[name](), storage, name="resumed", resume=True)
    replay = [str(w.message) for w in caught if "restore" in str(w.message)]
    assert not replay  # scheduler and searcher agreed with the journal on replay

    def summary(results):
        frame = results.dataframe()
        return sorted(zip(frame.trial_id, frame.status, frame.training_iteration,
                          frame["config/x"]))

    assert summary(resumed) == summary(reference)
    assert _iterations(resumed) == _iterations(reference)


def test_a_report_journaled_but_not_judged_before_a_crash_is_judged_again(storage):
    """Ctrl-C right after a report is journaled, before ASHA's STOP reaches the trial: on
    resume replay recomputes the STOP and the controller carries it out."""
    reference = run(SCHEDULERS["asha"](), storage, name="reference")

    class AfterReport(rs.Callback):
        def __init__(self):
            self.left = 30

        def on_trial_result(self, trial, result):
            self.left -= 1
            if self.left == 0:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(SCHEDULERS["asha"](), storage, name="resumed", callbacks=[AfterReport()])
    resumed = run(SCHEDULERS["asha"](), storage, name="resumed", resume=True)
    assert _iterations(resumed) == _iterations(reference)


def test_hyperband_with_an_objective_shorter_than_max_t(storage):
    def short(config):
        state = rs.get_checkpoint() or {"epoch": 0}
        for epoch in range(state["epoch"], 3):
            rs.report({"loss": config["x"] + 1.0 / (epoch + 1)}, checkpoint={"epoch": epoch + 1})

    results = rs.run(short, SPACE, metric="loss", num_samples=9, seed=0, verbose=0,
                     scheduler=rs.schedulers.Hyperband(max_t=MAX_T), executor="inline",
                     storage_path=storage)
    # the best trial pauses at rung 3, is promoted, and has nothing left to run
    assert set(results.dataframe().status) == {"TERMINATED"}


def test_pbt_with_ray_tune_style_mutations_forks_on_the_simulator(storage):
    """Function mutations (Ray Tune's form), a burn-in and custom_explore_fn, end to end."""

    def sim_curve(config, iteration):
        return 1.0, {"loss": config["x"] + 1.0 / iteration}

    pbt = rs.schedulers.PBT(perturbation_interval=2, burn_in_period=3, resample_probability=1.0,
                            hyperparam_mutations={"x": lambda: 0.05},
                            custom_explore_fn=lambda c: dict(c, explored=True))
    results = rs.run(curve, SPACE, metric="loss", num_samples=8, seed=0, verbose=0,
                     scheduler=pbt, storage_path=storage,
                     executor=rs.Simulated(workers=4, curve=sim_curve, max_iterations=12,
                                           checkpoints="blocking"))
    forks = [step for trial_id in results.dataframe().trial_id
             for step in results.pbt_schedule(trial_id)[1:]]
    assert forks
    for step in forks:
        assert step["config"]["x"] == 0.05 and step["config"]["explored"] is True
        assert step["parent_id"] is not None
        assert step["training_iteration"] >= 3  # nobody is ranked during the burn-in


@pytest.mark.parametrize("interrupt_after", [None, 3, 6])
def test_hyperband_under_a_searchers_max_concurrent_does_not_stall(storage, interrupt_after):
    """Paused trials count as running for the searcher, so with max_concurrent=2 it stops
    suggesting while Hyperband waits for a rung of 9 to fill. The controller then asks the
    scheduler to promote what the rung has (journaled, so a restore asks the same)."""
    def hyperband():
        return rs.schedulers.Hyperband(max_t=MAX_T)

    def random():
        return rs.search.Random(max_concurrent=2)

    reference = run(hyperband(), storage, name="reference", search=random(), num_samples=9)
    frame = reference.dataframe()
    assert len(frame) == 9 and set(frame.status) == {"TERMINATED"}
    for trial_id, iterations in _iterations(reference).items():
        assert iterations == list(range(1, len(iterations) + 1)), trial_id
    if interrupt_after is None:
        return
    with pytest.raises(KeyboardInterrupt):
        run(hyperband(), storage, name="resumed", search=random(), num_samples=9,
            callbacks=[_Interrupt(interrupt_after)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed = run(hyperband(), storage, name="resumed", search=random(), num_samples=9,
                      resume=True)
    assert not [str(w.message) for w in caught if "restore" in str(w.message)]
    assert sorted(zip(resumed.dataframe().trial_id, resumed.dataframe().training_iteration)) \
        == sorted(zip(frame.trial_id, frame.training_iteration))
