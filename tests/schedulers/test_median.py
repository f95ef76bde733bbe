"""The median stopping rule on scripted result streams, against hand-computed medians."""

from __future__ import annotations

import pytest

from raysweep.decisions import Decision
from raysweep.schedulers.median import MedianStopping
from raysweep.trial import Trial, TrialStatus

C, S = Decision.CONTINUE, Decision.STOP


def _report(sched, trial: Trial, iteration: int, loss: float) -> Decision:
    trial.status = TrialStatus.RUNNING
    trial.iteration = iteration
    trial.last_result = {"loss": loss, "training_iteration": iteration, "trial_id": trial.trial_id}
    return sched.on_result(trial, trial.last_result)


def _completed(sched, trial_id: str, losses: list[float]) -> Trial:
    trial = Trial(trial_id, {})
    sched.on_trial_add(trial)
    for iteration, loss in enumerate(losses, start=1):
        _report(sched, trial, iteration, loss)
    trial.status = TrialStatus.TERMINATED
    sched.on_trial_complete(trial)
    return trial


@pytest.fixture
def sched() -> MedianStopping:
    sched = MedianStopping(grace_period=2, min_samples_required=3)
    sched.setup("loss", "min", 0)
    # running averages at step 2: a 0.9, b 1.5, c 0.5 -> median 0.9
    # at step 3: a 0.8, b 1.1667, c 0.5 -> median 0.8; d ended at step 1 with 0.7
    _completed(sched, "a", [1.0, 0.8, 0.6])
    _completed(sched, "b", [2.0, 1.0, 0.5])
    _completed(sched, "c", [0.5, 0.5, 0.5])
    return sched


def test_medians_of_running_averages(sched):
    assert sched.median_running_average(1) == pytest.approx(1.0)  # 1.0, 2.0, 0.5
    assert sched.median_running_average(2) == pytest.approx(0.9)
    assert sched.median_running_average(3) == pytest.approx(0.8)
    assert sched.median_running_average(99) == pytest.approx(0.8)


def test_a_trial_worse_than_the_median_is_stopped_after_the_grace_period(sched):
    d = Trial("d", {})
    assert _report(sched, d, 1, 3.0) == C  # grace period: never judged at step 1
    assert _report(sched, d, 2, 0.95) == S  # best 0.95 > median 0.9


def test_the_best_result_so_far_counts_not_the_last(sched):
    e = Trial("e", {})
    assert _report(sched, e, 1, 0.85) == C
    assert _report(sched, e, 2, 5.0) == C  # best 0.85 <= 0.9
    assert _report(sched, e, 3, 5.0) == S  # best 0.85 > 0.8


def test_equal_to_the_median_continues(sched):
    f = Trial("f", {})
    _report(sched, f, 1, 0.9)
    assert _report(sched, f, 2, 0.9) == C


def test_not_enough_completed_trials():
    sched = MedianStopping(grace_period=1, min_samples_required=3)
    sched.setup("loss", "min", 0)
    _completed(sched, "a", [0.1, 0.1])
    _completed(sched, "b", [0.1, 0.1])
    assert sched.median_running_average(1) is None
    assert _report(sched, Trial("c", {}), 1, 9.0) == C
    _completed(sched, "d", [0.1])
    assert _report(sched, Trial("e", {}), 1, 9.0) == S


def test_trials_that_ended_early_count_with_what_they_reported():
    sched = MedianStopping(grace_period=1, min_samples_required=3)
    sched.setup("loss", "min", 0)
    _completed(sched, "a", [1.0])
    _completed(sched, "b", [3.0])
    _completed(sched, "c", [2.0, 0.0, 0.0, 0.0])
    assert sched.median_running_average(4) == pytest.approx(1.0)  # 1.0, 3.0, 0.5


def test_min_time_slice_spaces_out_the_checks(sched):
    sched.min_time_slice = 2
    g = Trial("g", {})
    assert _report(sched, g, 2, 5.0) == S
    h = Trial("h", {})
    assert _report(sched, h, 2, 0.85) == C  # judged at 2: 0.85 <= 0.9
    assert _report(sched, h, 3, 0.85) == C  # 0.85 > 0.8, but the next check is at 4
    assert _report(sched, h, 4, 0.85) == S


def test_mode_max():
    sched = MedianStopping(grace_period=1, min_samples_required=1)
    sched.setup("acc", "max", 0)
    a = Trial("a", {})
    a.last_result = {"acc": 0.9, "training_iteration": 1}
    sched.on_result(a, a.last_result)
    sched.on_trial_complete(a)
    b = Trial("b", {})
    assert sched.on_result(b, {"acc": 0.95, "training_iteration": 1}) == C
    assert sched.on_result(Trial("c", {}), {"acc": 0.5, "training_iteration": 1}) == S


def test_every_report_may_block():
    assert MedianStopping().blocking_iterations(Trial("a", {})) is None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"grace_period": 0}, r"MedianStopping: grace_period must be a number > 0, got 0"),
    ({"min_samples_required": 0},
     r"MedianStopping: min_samples_required must be an int >= 1, got 0"),
    ({"min_samples_required": 2.5},
     r"MedianStopping: min_samples_required must be an int >= 1, got 2.5"),
    ({"min_time_slice": -1}, r"MedianStopping: min_time_slice must be a number >= 0, got -1"),
    ({"min_time_slice": float("nan")},
     r"MedianStopping: min_time_slice must be a number >= 0, got nan"),
    ({"min_time_slice": float("inf")},
     r"MedianStopping: min_time_slice must be a number >= 0, got inf"),
    ({"min_time_slice": True}, r"MedianStopping: min_time_slice must be a number >= 0, got True"),
    ({"grace_period": float("nan")}, r"MedianStopping: grace_period must be a number > 0, got nan"),
    ({"time_attr": 3}, r"MedianStopping: time_attr must be the name of a result key"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MedianStopping(**kwargs)
