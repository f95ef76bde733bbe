"""Every scheduler end to end on real Ray (two workers), and PBT's exploit across processes."""

from __future__ import annotations

import json
import os
import time

import pytest

import raysweep as rs

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]

MAX_T = 9


def curve(config):
    state = rs.get_checkpoint() or {"epoch": 0}
    for epoch in range(state["epoch"], MAX_T):
        time.sleep(0.005)
        rs.report({"loss": config["x"] + 1.0 / (epoch + 1)}, checkpoint={"epoch": epoch + 1})


class Curve(rs.Trainable):
    """The same curve as a Trainable: it checkpoints at the scheduler's blocking points."""

    max_iterations = MAX_T

    def setup(self, config):
        self.x, self.epoch = config["x"], 0

    def step(self):
        time.sleep(0.005)
        self.epoch += 1
        return {"loss": self.x + 1.0 / self.epoch}

    def save(self):
        return {"epoch": self.epoch}

    def restore(self, state):
        self.epoch = state["epoch"]


SCHEDULERS = {
    "asha": lambda: rs.schedulers.ASHA(max_t=MAX_T),
    "hyperband": lambda: rs.schedulers.Hyperband(max_t=MAX_T),
    "median": lambda: rs.schedulers.MedianStopping(grace_period=2),
    "pbt": lambda: rs.schedulers.PBT(perturbation_interval=3,
                                     hyperparam_mutations={"x": rs.uniform(0, 1)}),
    "bohb": lambda: rs.schedulers.BOHB(max_t=MAX_T),
}


@pytest.mark.parametrize("objective", [curve, Curve], ids=["function", "trainable"])
@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_every_scheduler_on_ray(name, objective, storage):
    results = rs.run(objective, {"x": rs.uniform(0, 1)}, metric="loss", mode="min",
                     num_samples=12, seed=1, scheduler=SCHEDULERS[name](), verbose=0,
                     max_concurrent=2, storage_path=storage)
    frame = results.dataframe()
    assert len(frame) == 12 and set(frame.status) == {"TERMINATED"}
    history = results.history()
    for trial_id, rows in history.groupby("trial_id"):
        iterations = list(rows.training_iteration)
        if name != "pbt":  # a fork moves a trial to its donor's iteration
            assert iterations == list(range(1, len(iterations) + 1)), trial_id
    if name in ("asha", "hyperband", "bohb"):
        assert len(history) < 12 * MAX_T


def grow(config):
    """``w`` grows by ``lr`` per step; the checkpoint carries ``w``."""
    state = rs.get_checkpoint() or {"step": 0, "w": 0.0}
    for step in range(state["step"], 12):
        w_before = state["w"]
        time.sleep(0.01)
        state = {"step": step + 1, "w": w_before + config["lr"]}
        rs.report({"loss": -state["w"], "w": state["w"], "w_before": w_before},
                  checkpoint=state)


def test_pbt_exploit_continues_from_the_donors_checkpoint(storage):
    pbt = rs.schedulers.PBT(perturbation_interval=2, hyperparam_mutations={
        "lr": [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]})
    results = rs.run(grow, {"lr": [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]}, metric="loss",
                     mode="min", num_samples=4, seed=3, scheduler=pbt, verbose=0,
                     max_concurrent=2, storage_path=storage)
    forks = [(trial_id, entry) for trial_id in results.dataframe().trial_id
             for entry in results.pbt_schedule(trial_id) if entry["parent_id"] is not None]
    assert forks, "no exploit happened"
    assert all(entry["config"]["lr"] in pbt.hyperparam_mutations["lr"] for _, entry in forks)
    # Walk the journal: each fork's first report continues from the donor's state at the
    # checkpoint it was forked from (the donor's latest report at that iteration).
    latest_w: dict[tuple[str, int], float] = {}
    waiting: dict[str, tuple[int, float]] = {}
    checked = 0
    with open(os.path.join(results.path, "journal.jsonl")) as handle:
        for event in map(json.loads, handle):
            if event["e"] == "fork":
                waiting[event["id"]] = (event["i"], latest_w[(event["p"], event["i"])])
            elif event["e"] == "r":
                result, trial_id = event["r"], event["id"]
                if trial_id in waiting:
                    at, donor_w = waiting.pop(trial_id)
                    assert result["training_iteration"] == at + 1
                    assert result["w_before"] == pytest.approx(donor_w)
                    checked += 1
                latest_w[(trial_id, result["training_iteration"])] = result["w"]
    assert checked >= 1
