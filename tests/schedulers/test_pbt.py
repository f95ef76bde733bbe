"""PBT on scripted result streams: quantiles, exploit (Fork) and explore (mutations)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats
from schedsim import Sim

from raysweep.decisions import NEW, WAIT, Decision, Fork, Resume
from raysweep.schedulers.pbt import PBT
from raysweep.space import choice, loguniform, qrandint, randint, uniform
from raysweep.trial import Trial, TrialStatus

C, P = Decision.CONTINUE, Decision.PAUSE


def _pbt(**kwargs) -> PBT:
    kwargs.setdefault("hyperparam_mutations", {"lr": [0.001, 0.01, 0.1]})
    sched = PBT(**kwargs)
    sched.setup("loss", "min", 0)
    return sched


def _report(sched, trial: Trial, iteration: int, loss: float) -> Decision:
    trial.status = TrialStatus.RUNNING
    trial.iteration = trial.checkpoint_iteration = iteration
    trial.last_result = {"loss": loss, "training_iteration": iteration, "trial_id": trial.trial_id}
    decision = sched.on_result(trial, trial.last_result)
    if decision == P:
        trial.status = TrialStatus.PAUSED
    return decision


def _population(sched, n: int) -> dict[str, Trial]:
    trials = {f"{i:05d}": Trial(f"{i:05d}", {"lr": 0.01}) for i in range(n)}
    for trial in trials.values():
        sched.on_trial_add(trial)
    return trials


def test_a_bottom_trial_pauses_and_forks_from_a_top_trial():
    sched = _pbt(perturbation_interval=2, quantile_fraction=0.25)
    trials = _population(sched, 4)
    a, b, c, d = trials.values()
    for trial in trials.values():
        assert _report(sched, trial, 1, 9.0) == C  # no perturbation point yet
    assert _report(sched, a, 2, 0.1) == C  # alone: quantiles are empty
    assert _report(sched, b, 2, 0.5) == P  # 2 ranked: ceil(0.5) = 1 each side; b is bottom
    assert sched.waiting_ == ["00001"]
    # b still ranks while it waits: a .1, c .3, b .5 -> size ceil(3/4) = 1, b is bottom
    assert _report(sched, c, 2, 0.3) == C
    assert _report(sched, d, 2, 0.7) == P  # a, c, b, d -> size 1: d is bottom
    assert sched.waiting_ == ["00001", "00003"]
    launch = sched.next_launch(trials, exhausted=False)
    assert isinstance(launch, Fork)
    assert (launch.trial_id, launch.parent_id) == ("00001", "00000")
    assert launch.config["lr"] in (0.001, 0.01, 0.1)
    assert "00001" not in sched.scores_  # ranked again at its next perturbation point
    assert sched.last_time_["00001"] == 2.0  # the donor's checkpoint iteration
    trials["00001"].status = TrialStatus.RUNNING
    assert sched.next_launch(trials, exhausted=False) == Fork("00003", "00000", {"lr": 0.001})
    assert sched.next_launch(trials, exhausted=False) == NEW


def test_quantiles_are_a_fraction_of_the_ranked_population():
    sched = _pbt(perturbation_interval=1, quantile_fraction=0.25)
    trials = _population(sched, 8)
    for i, trial in enumerate(trials.values()):
        sched.scores_[trial.trial_id] = float(i)
    assert sched.quantiles() == (["00006", "00007"], ["00000", "00001"])  # ceil(8 / 4) = 2
    sched.quantile_fraction = 0.5
    assert sched.quantiles() == (["00004", "00005", "00006", "00007"],
                                 ["00000", "00001", "00002", "00003"])
    sched.ended_.add("00000")  # finished trials are neither donors nor recipients
    _bottom, top = sched.quantiles()
    assert "00000" not in top and len(top) == 3


def test_perturbation_points_are_crossings_of_the_interval():
    sched = _pbt(perturbation_interval=3)
    trials = _population(sched, 2)
    a = trials["00000"]
    decisions = [_report(sched, a, i, 1.0) for i in range(1, 8)]
    assert decisions == [C] * 7
    assert sched.scores_ == {"00000": 1.0}  # scored at 3 and 6
    assert sched.blocking_iterations(a)[:4] == (3, 6, 9, 12)


def test_exploit_prefers_a_donor_with_a_checkpoint():
    sched = _pbt(perturbation_interval=1, quantile_fraction=0.5)
    trials = _population(sched, 4)
    for trial, loss in zip(reversed(trials.values()), [0.4, 0.3, 0.2, 0.1]):
        assert _report(sched, trial, 1, loss) == C  # each ranks in the top when it reports
    assert _report(sched, trials["00003"], 2, 0.4) == P  # bottom half: 00002, 00003
    trials["00000"].checkpoint_iteration = None  # the best has nothing to copy
    assert sched.next_launch(trials, exhausted=False).parent_id == "00001"


def test_without_checkpoints_pbt_still_forks():
    sched = _pbt(perturbation_interval=1, quantile_fraction=0.5)
    trials = _population(sched, 2)
    _report(sched, trials["00000"], 1, 0.1)
    _report(sched, trials["00001"], 1, 0.9)
    for trial in trials.values():
        trial.checkpoint_iteration = None
    launch = sched.next_launch(trials, exhausted=True)  # the controller warns about it
    assert launch.parent_id == "00000"
    assert sched.last_time_["00001"] == 0.0


def test_a_paused_trial_with_no_donor_left_resumes():
    sched = _pbt(perturbation_interval=1, quantile_fraction=0.5)
    trials = _population(sched, 2)
    _report(sched, trials["00000"], 1, 0.1)
    _report(sched, trials["00001"], 1, 0.9)
    trials["00000"].status = TrialStatus.TERMINATED
    sched.on_trial_complete(trials["00000"])
    assert sched.next_launch(trials, exhausted=True) == Resume("00001")
    assert sched.next_launch(trials, exhausted=True) == WAIT
    assert sched.next_launch(trials, exhausted=False) == NEW


def test_explore_perturbs_lists_to_a_neighbour():
    sched = _pbt(hyperparam_mutations={"bs": [16, 32, 64, 128]}, resample_probability=0)
    seen = {sched.explore({"bs": 32})["bs"] for _ in range(50)}
    assert seen == {16, 64}
    assert {sched.explore({"bs": 16})["bs"] for _ in range(50)} == {16, 32}  # clamped


def test_explore_multiplies_numbers_and_clips_to_the_domain():
    sched = _pbt(hyperparam_mutations={"lr": loguniform(1e-4, 1e-1), "m": uniform(0, 1)},
                 resample_probability=0, perturbation_factors=(0.5, 2.0))
    seen = {sched.explore({"lr": 0.01, "m": 0.9})["lr"] for _ in range(50)}
    assert sorted(seen) == pytest.approx([0.005, 0.02])
    assert {sched.explore({"lr": 0.01, "m": 0.9})["m"] for _ in range(50)} == {0.45, 1.0}


def test_explore_rounds_ints_and_always_moves_them():
    sched = _pbt(hyperparam_mutations={"k": randint(1, 30), "q": qrandint(0, 100, 10)},
                 resample_probability=0)
    ks = {sched.explore({"k": 2, "q": 50})["k"] for _ in range(50)}
    assert ks == {1, 3}  # 2 * 0.8 and 2 * 1.2 both round back to 2
    qs = {sched.explore({"k": 10, "q": 50})["q"] for _ in range(50)}
    assert qs == {40, 60}
    assert all(isinstance(sched.explore({"k": 10, "q": 50})["k"], int) for _ in range(5))


def test_explore_resamples_with_the_given_probability():
    sched = _pbt(hyperparam_mutations={"lr": uniform(0, 1)}, resample_probability=1.0)
    values = [sched.explore({"lr": 0.5})["lr"] for _ in range(20)]
    assert len(set(values)) == 20 and all(0 <= v <= 1 for v in values)


def test_explore_handles_nested_keys_categoricals_and_scipy():
    sched = _pbt(hyperparam_mutations={"opt": {"lr": scipy.stats.loguniform(1e-4, 1e-1)},
                                       "act/kind": choice(["relu", "tanh"])},
                 resample_probability=0)
    config = {"opt": {"lr": 0.01, "momentum": 0.9}, "act": {"kind": "relu"}, "seed": 1}
    new = sched.explore(config)
    assert new["opt"]["momentum"] == 0.9 and new["seed"] == 1
    assert new["opt"]["lr"] in (pytest.approx(0.008), pytest.approx(0.012))
    assert new["act"]["kind"] in ("relu", "tanh")
    assert config["opt"]["lr"] == 0.01  # the donor's config is not touched
    assert sched.explore({"opt": {}})["opt"]["lr"] > 0  # a missing value is sampled


def test_pbt_tracks_a_moving_optimum_better_than_fixed_configs():
    """The best learning rate falls during training: PBT's schedule beats each fixed one."""
    lrs = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3]

    def step(config, state, iteration):
        loss = 1.0 if state is None else state
        best_lr = 0.1 if iteration <= 10 else 0.003
        gain = np.exp(-abs(np.log(config["lr"] / best_lr)))  # 1 at the best lr
        loss = loss * (1 - 0.2 * gain)
        return {"loss": loss}, loss

    configs = [{"lr": lrs[i % len(lrs)]} for i in range(8)]
    fixed = Sim(PBT(perturbation_interval=1000, hyperparam_mutations={"lr": lrs}), configs,
                step, slots=8, max_iter=30).run()
    pbt = Sim(PBT(perturbation_interval=2, hyperparam_mutations={"lr": lrs}), configs,
              step, slots=8, max_iter=30).run()
    forks = [x for x in pbt.launches if isinstance(x, Fork)]
    assert forks
    assert pbt.best() < fixed.best()


def test_a_waiting_trial_that_climbed_to_the_top_resumes_instead_of_forking_from_itself():
    # Two trials judged in the same poll: b pauses at the bottom, then a falls below it, so by
    # the time a slot frees b is the best of the population.
    sched = _pbt(perturbation_interval=3)
    trials = _population(sched, 2)
    a, b = trials.values()
    assert _report(sched, a, 3, 0.5) == C
    assert _report(sched, b, 3, 0.9) == P
    assert _report(sched, a, 6, 1.0) == P
    assert sched.quantiles() == (["00000"], ["00001"])
    assert sched.next_launch(trials, exhausted=True) == Resume("00001")
    b.status = TrialStatus.RUNNING
    launch = sched.next_launch(trials, exhausted=True)
    assert isinstance(launch, Fork)
    assert (launch.trial_id, launch.parent_id) == ("00000", "00001")


def test_mutations_may_be_functions_as_in_ray_tune():
    draws = iter(range(100, 200))
    sched = _pbt(hyperparam_mutations={"lr": lambda: 0.5, "layers": lambda: next(draws)},
                 resample_probability=0.0, perturbation_factors=(0.8, 1.2))
    new = sched.explore({"lr": 0.01, "layers": 4})
    assert new["lr"] in (pytest.approx(0.008), pytest.approx(0.012))  # perturbed, not drawn
    assert new["layers"] in (3, 5) and isinstance(new["layers"], int)  # an int moves, stays int
    drawn = sched.explore({})  # a missing value is drawn
    assert drawn["lr"] == 0.5 and drawn["layers"] == 100
    sched.resample_probability = 1.0
    assert sched.explore({"lr": 0.01, "layers": 4}) == {"lr": 0.5, "layers": 101}


def test_a_mutation_function_must_take_no_arguments():
    with pytest.raises(ValueError, match=r"PBT: hyperparam_mutations\['lr'\] must be a "
                                         r"function of no arguments"):
        PBT(hyperparam_mutations={"lr": lambda config: 0.1})


def test_custom_explore_fn_edits_every_explored_config():
    def clamp(config):
        config["lr"] = min(config["lr"], 0.01)
        config["tag"] = "explored"
        return config

    sched = _pbt(hyperparam_mutations={"lr": [0.001, 0.01, 0.1]}, custom_explore_fn=clamp)
    for _ in range(20):
        new = sched.explore({"lr": 0.1})
        assert new["lr"] <= 0.01 and new["tag"] == "explored"
    only = _pbt(hyperparam_mutations=None, custom_explore_fn=lambda c: dict(c, lr=c["lr"] / 2))
    assert only.explore({"lr": 0.1}) == {"lr": 0.05}
    broken = _pbt(custom_explore_fn=lambda c: None)
    with pytest.raises(TypeError, match="PBT: custom_explore_fn must return the config dict, "
                                        "got NoneType"):
        broken.explore({"lr": 0.1})


def test_burn_in_period_delays_the_first_ranking():
    sched = _pbt(perturbation_interval=2, burn_in_period=5)
    trials = _population(sched, 2)
    a, b = trials.values()
    for iteration in (1, 2, 3, 4):  # 2 and 4 are multiples of the interval, but burning in
        assert _report(sched, a, iteration, 0.1) == C
        assert _report(sched, b, iteration, 0.9) == C
    assert sched.scores_ == {}
    assert _report(sched, a, 5, 0.1) == C  # the first result past the burn-in is ranked
    assert _report(sched, b, 5, 0.9) == P
    assert 5 in sched.blocking_iterations(a) and 6 in sched.blocking_iterations(a)
    launch = sched.next_launch(trials, exhausted=False)
    assert isinstance(launch, Fork) and (launch.trial_id, launch.parent_id) == ("00001", "00000")


def test_a_mutation_missing_from_the_config_is_warned_about_once():
    sched = _pbt(hyperparam_mutations={"lr": [0.1, 0.2], "opt": {"momentum": [0.8, 0.9]}})
    with pytest.warns(UserWarning, match=r"PBT: hyperparam_mutations \['opt/momentum'\] are "
                                         r"not in the config of trial 00000"):
        sched.on_trial_add(Trial("00000", {"lr": 0.1, "opt": {}}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.on_trial_add(Trial("00001", {}))  # once is enough
        _pbt().on_trial_add(Trial("00000", {"lr": 0.1}))  # nothing missing


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, r"PBT: hyperparam_mutations must be a non-empty dict .* got None"),
    ({"hyperparam_mutations": {}}, r"PBT: hyperparam_mutations must be a non-empty dict"),
    ({"hyperparam_mutations": {"lr": 0.1}},
     r"PBT: hyperparam_mutations\['lr'\] must be a raysweep domain .*, got 0.1"),
    ({"hyperparam_mutations": {"lr": []}}, r"PBT: hyperparam_mutations\['lr'\]: choice"),
    ({"hyperparam_mutations": {"opt": {}}},
     r"PBT: hyperparam_mutations\['opt'\] must be a non-empty dict, got \{\}"),
    ({"perturbation_interval": 0}, r"PBT: perturbation_interval must be a number > 0, got 0"),
    ({"quantile_fraction": 0.75}, r"PBT: quantile_fraction must be a number in \(0, 0.5\]"),
    ({"resample_probability": 2}, r"PBT: resample_probability must be a number in \[0, 1\]"),
    ({"perturbation_factors": ()}, r"PBT: perturbation_factors must be a non-empty sequence"),
    ({"perturbation_factors": (0.8, -1)}, r"PBT: perturbation_factors must be .* > 0"),
    ({"perturbation_factors": (0.8, float("nan"))}, r"PBT: perturbation_factors must be"),
    ({"quantile_fraction": 0}, r"PBT: quantile_fraction must be a number in \(0, 0.5\], got 0"),
    ({"quantile_fraction": True}, r"PBT: quantile_fraction must be .*, got True"),
    ({"resample_probability": float("nan")}, r"PBT: resample_probability must be .*, got nan"),
    ({"burn_in_period": -1}, r"PBT: burn_in_period must be a number >= 0, got -1"),
    ({"burn_in_period": float("inf")}, r"PBT: burn_in_period must be a number >= 0, got inf"),
    ({"burn_in_period": True}, r"PBT: burn_in_period must be a number >= 0, got True"),
    ({"custom_explore_fn": 3}, r"PBT: custom_explore_fn must be None or a function"),
    ({"hyperparam_mutations": {"lr": {1, 2}}},
     r"PBT: hyperparam_mutations\['lr'\] must be a raysweep domain"),
    ({"hyperparam_mutations": {"lr": 0.1}, "custom_explore_fn": lambda c: c},
     r"PBT: hyperparam_mutations\['lr'\] must be a raysweep domain"),
])
def test_bad_arguments(kwargs, message):
    if "hyperparam_mutations" not in kwargs and kwargs:
        kwargs["hyperparam_mutations"] = {"lr": [0.1, 0.2]}
    with pytest.raises(ValueError, match=message):
        PBT(**kwargs)
