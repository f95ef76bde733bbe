"""One contract suite over every scheduler: the protocol rules the controller relies on."""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
from schedsim import Sim, replay, state_of

from raysweep import schedulers
from raysweep.decisions import NEW, WAIT, Decision, Fork, New, Resume, Wait
from raysweep.errors import MissingMetric
from raysweep.schedulers import make_scheduler
from raysweep.schedulers.asha import ASHA
from raysweep.schedulers.bohb import BOHB
from raysweep.schedulers.fifo import FIFO
from raysweep.schedulers.hyperband import Hyperband
from raysweep.schedulers.median import MedianStopping
from raysweep.schedulers.pbt import PBT
from raysweep.trial import Trial, TrialStatus

X_VALUES = [round(0.1 * i, 1) for i in range(10)]

FACTORIES = {
    "fifo": lambda time_attr="training_iteration": FIFO(),
    "asha": lambda time_attr="training_iteration": ASHA(
        time_attr=time_attr, max_t=27, grace_period=1, reduction_factor=3),
    "asha-brackets": lambda time_attr="training_iteration": ASHA(
        time_attr=time_attr, max_t=27, grace_period=1, reduction_factor=3, brackets=3),
    "hyperband": lambda time_attr="training_iteration": Hyperband(
        time_attr=time_attr, max_t=9, reduction_factor=3),
    "median": lambda time_attr="training_iteration": MedianStopping(
        time_attr=time_attr, grace_period=2, min_samples_required=3),
    "bohb": lambda time_attr="training_iteration": BOHB(
        time_attr=time_attr, max_t=9, reduction_factor=3),
    "pbt": lambda time_attr="training_iteration": PBT(
        time_attr=time_attr, perturbation_interval=3,
        hyperparam_mutations={"x": X_VALUES}, resample_probability=0.25),
    # the first ranking at 4, past the burn-in, is not a multiple of the interval
    "pbt-burn-in": lambda time_attr="training_iteration": PBT(
        time_attr=time_attr, perturbation_interval=3, burn_in_period=3.5,
        hyperparam_mutations={"x": X_VALUES}, custom_explore_fn=dict),
}


def _configs(n: int = 24, seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"x": float(rng.choice(X_VALUES))} for _ in range(n)]


def _sim(name: str, *, seed: int = 0, time_attr: str = "training_iteration", **options) -> Sim:
    options.setdefault("max_iter", 27 if name.startswith("asha") else 9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Sim(FACTORIES[name](time_attr), _configs(), seed=seed, slots=3,
                   **options).run()


names = pytest.mark.parametrize("name", sorted(FACTORIES))


@names
def test_experiment_ends_with_every_trial_finished(name):
    sim = _sim(name)
    assert len(sim.trials) == 24
    assert all(t.status.is_finished for t in sim.trials.values())
    assert isinstance(sim.launches[-1], Wait)


@names
def test_same_seed_same_decisions(name):
    first, second = _sim(name, seed=3), _sim(name, seed=3)
    assert first.decisions == second.decisions
    assert first.launches == second.launches
    assert state_of(first.scheduler) == state_of(second.scheduler)


@names
@pytest.mark.parametrize("no_config_every", [0, 3])
def test_replaying_the_journal_rebuilds_the_state(name, no_config_every):
    sim = _sim(name, seed=5, no_config_every=no_config_every, fail_at={"00004": 2})
    fresh = FACTORIES[name]()
    replay(fresh, sim.journal, seed=5)
    assert state_of(fresh) == state_of(sim.scheduler)


@names
def test_new_and_wait_leave_the_state_alone(name):
    sched = FACTORIES[name]()
    original = sched.next_launch
    checked = []

    def checking_next_launch(trials, *, exhausted):
        before = state_of(sched)
        launch = original(trials, exhausted=exhausted)
        if isinstance(launch, (New, Wait)):
            assert state_of(sched) == before, f"{launch!r} changed the state"
            checked.append(launch)
        return launch

    sched.next_launch = checking_next_launch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Sim(sched, _configs(), slots=3, max_iter=9, no_config_every=4).run()
    assert any(isinstance(x, New) for x in checked) and any(isinstance(x, Wait) for x in checked)


@names
def test_failed_trials_do_not_block_the_experiment(name):
    sim = _sim(name, fail_at={"00000": 1, "00001": 2, "00002": 4})
    assert sim.trials["00000"].status == TrialStatus.ERROR
    assert all(t.status.is_finished for t in sim.trials.values())


@names
def test_mode_max_mirrors_mode_min(name):
    def negated(config, state, iteration):
        return {"score": -(config["x"] + 1.0 / iteration)}, iteration

    as_min = _sim(name, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        as_max = Sim(FACTORIES[name](), _configs(), negated, metric="score", mode="max",
                     seed=2, slots=3, max_iter=as_min.max_iter).run()
    assert as_max.decisions == as_min.decisions
    assert as_max.launches == as_min.launches


@names
def test_time_attr_other_than_iterations(name):
    sim = _sim(name, time_attr="time_total_s")
    assert all(t.status.is_finished for t in sim.trials.values())
    if name != "fifo":
        assert sim.scheduler.blocking_iterations(sim.trials["00000"]) is None


@names
def test_blocking_iterations_are_finite_whole_iterations(name):
    sched = FACTORIES[name]()
    sched.setup("loss", "min", 0)
    trial = Trial("00000", {"x": 0.5})
    sched.on_trial_add(trial)
    blocking = sched.blocking_iterations(trial)
    if blocking is not None:
        assert isinstance(blocking, tuple)
        assert all(isinstance(i, int) and i >= 1 for i in blocking)
        assert list(blocking) == sorted(set(blocking))


@names
def test_decisions_only_block_where_announced(name):
    """A worker runs ahead between blocking iterations: PAUSE/STOP must land on one."""
    sim = _sim(name)
    for trial_id, iteration, decision in sim.decisions:
        if decision == Decision.CONTINUE:
            continue
        blocking = sim.scheduler.blocking_iterations(sim.trials[trial_id])
        if blocking is not None and name != "pbt":  # a PBT fork changes the trial's history
            assert iteration in blocking, (trial_id, iteration, decision)


@names
def test_a_decision_sticks_when_the_trial_reports_again(name):
    """Restore replays the last report of a trial that was running, but the controller may
    restart it instead of applying the decision: its next report gets the same answer."""
    sim = _sim(name)
    last = {trial_id: (iteration, decision) for trial_id, iteration, decision in sim.decisions}
    for trial_id, (iteration, decision) in last.items():
        if decision == Decision.CONTINUE:
            continue
        trial = copy.copy(sim.trials[trial_id])
        trial.status = TrialStatus.RUNNING
        trial.iteration = iteration + 1
        trial.last_result = dict(trial.last_result, training_iteration=iteration + 1,
                                 time_total_s=float(iteration + 1))
        assert sim.scheduler.on_result(trial, trial.last_result) in (decision, Decision.STOP)


@names
def test_launches_are_for_paused_trials_only(name):
    sim = _sim(name)  # Sim raises ProtocolViolation otherwise
    for launch in sim.launches:
        assert isinstance(launch, (New, Resume, Fork, Wait))


@pytest.mark.parametrize("name", sorted(set(FACTORIES) - {"fifo"}))
def test_missing_metric_names_the_key_and_lists_the_reported_ones(name):
    sched = FACTORIES[name]()
    sched.setup("loss", "min", 0)
    trial = Trial("00000", {"x": 0.5}, status=TrialStatus.RUNNING, iteration=1)
    sched.on_trial_add(trial)
    result = {"accuracy": 0.9, "training_iteration": 1, "time_total_s": 1.0, "trial_id": "00000"}
    with pytest.raises(MissingMetric, match=r"'loss'.*\['accuracy', 'time_total_s', "
                                           r"'training_iteration', 'trial_id'\]"):
        sched.on_result(trial, result)


@pytest.mark.parametrize("name", sorted(set(FACTORIES) - {"fifo"}))
def test_missing_time_attr_is_a_clear_error(name):
    sched = FACTORIES[name]("epoch")
    sched.setup("loss", "min", 0)
    trial = Trial("00000", {"x": 0.5}, status=TrialStatus.RUNNING, iteration=1)
    sched.on_trial_add(trial)
    with pytest.raises(MissingMetric, match=r"'epoch' \(the scheduler's time_attr\)"):
        sched.on_result(trial, {"loss": 1.0, "training_iteration": 1, "trial_id": "00000"})


def test_fifo_needs_no_metric():
    sched = FIFO()
    sched.setup("loss", "min", 0)
    assert sched.on_result(Trial("0", {}), {"training_iteration": 1}) == Decision.CONTINUE
    assert sched.next_launch({}, exhausted=False) == NEW
    assert sched.next_launch({}, exhausted=True) == WAIT


@pytest.mark.parametrize("name", ["fifo", "asha", "hyperband", "median", "bohb"])
def test_every_scheduler_is_selectable_by_name(name):
    sched = make_scheduler(name)
    assert sched.name == name
    assert type(sched).__name__ in schedulers.__all__


@pytest.mark.parametrize(("alias", "name"), [
    ("async_hyperband", "asha"), ("AsyncHyperBand", "asha"), ("median_stopping_rule", "median"),
    ("hb_bohb", "bohb")])
def test_ray_tune_scheduler_names_are_understood(alias, name):
    assert make_scheduler(alias).name == name


def test_pbt_by_name_says_what_is_missing():
    with pytest.raises(ValueError, match="PBT: hyperparam_mutations must be a non-empty dict"):
        make_scheduler("pbt")


@names
def test_nan_metric_is_treated_as_worst(name):
    def nan_for_one(config, state, iteration):
        value = math.nan if config["x"] == 0.0 else config["x"] + 1.0 / iteration
        return {"loss": value}, iteration

    configs = [{"x": 0.0}] + [{"x": x} for x in X_VALUES[1:]] * 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim = Sim(FACTORIES[name](), copy.deepcopy(configs), nan_for_one, slots=2,
                  max_iter=9).run()
    assert all(t.status.is_finished for t in sim.trials.values())
