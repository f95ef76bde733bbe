"""ASHA on scripted result streams, against hand-computed rung contents."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from schedsim import Sim

from raysweep.decisions import Decision
from raysweep.schedulers.asha import ASHA, _KeptFraction
from raysweep.schedulers.fifo import FIFO
from raysweep.trial import Trial, TrialStatus

C, S = Decision.CONTINUE, Decision.STOP


def _asha(**kwargs) -> ASHA:
    sched = ASHA(**kwargs)
    sched.setup("loss", "min", 0)
    return sched


def _report(sched, trial: Trial, iteration: int, loss: float, **extra) -> Decision:
    trial.status = TrialStatus.RUNNING
    trial.iteration = iteration
    trial.last_result = {"loss": loss, "training_iteration": iteration,
                         "time_total_s": float(iteration), "trial_id": trial.trial_id, **extra}
    return sched.on_result(trial, trial.last_result)


def _trials(sched, n: int) -> list[Trial]:
    trials = [Trial(f"{i:05d}", {}) for i in range(n)]
    for trial in trials:
        sched.on_trial_add(trial)
    return trials


def test_rungs_follow_grace_period_and_reduction_factor():
    assert ASHA().milestones() == [1, 3, 9, 27, 81]  # below max_t=100
    assert ASHA(max_t=81).milestones() == [1, 3, 9, 27]  # max_t itself stops, it is no rung
    assert ASHA(max_t=100, grace_period=4, reduction_factor=2).milestones() == [4, 8, 16, 32, 64]
    assert ASHA(max_t=5, grace_period=5).milestones() == []


def test_first_rung_keeps_the_top_third_of_what_it_has_seen():
    sched = _asha(max_t=9, grace_period=1, reduction_factor=3)
    a, b, c, d, e = _trials(sched, 5)
    # rung 1 after each report: n values, keep the best ceil(n / 3)
    assert _report(sched, a, 1, 0.5) == C  # {a:.5}, keep 1: a is best
    assert _report(sched, b, 1, 0.7) == S  # {a:.5, b:.7}, keep 1
    assert _report(sched, c, 1, 0.3) == C  # keep 1: c is best
    assert _report(sched, d, 1, 0.4) == C  # n=4, keep 2: only c is better
    assert _report(sched, e, 1, 0.6) == S  # n=5, keep 2: a, c, d are better
    assert sched.rungs_[0][0] == {"00000": 0.5, "00001": 0.7, "00002": 0.3, "00003": 0.4,
                                  "00004": 0.6}
    # between rungs nothing is judged; rung 3 starts empty
    assert _report(sched, a, 2, 9.0) == C
    assert _report(sched, a, 3, 0.2) == C  # {a:.2}
    assert _report(sched, c, 2, 0.3) == C
    assert _report(sched, c, 3, 0.25) == S  # {a:.2, c:.25}, keep 1
    assert _report(sched, d, 3, 0.1) == C  # n=3, keep 1: d is best
    assert sched.rungs_[0][1] == {"00000": 0.2, "00002": 0.25, "00003": 0.1}
    for iteration in range(4, 9):
        assert _report(sched, d, iteration, 0.1) == C
    assert _report(sched, d, 9, 0.05) == S  # max_t


def test_ties_favour_the_trial_being_judged():
    sched = _asha(max_t=9, reduction_factor=2)
    a, b = _trials(sched, 2)
    assert _report(sched, a, 1, 0.5) == C
    assert _report(sched, b, 1, 0.5) == C  # n=2, keep 1, nobody strictly better


def test_mode_max_keeps_the_largest():
    sched = ASHA(max_t=9)
    sched.setup("acc", "max", 0)
    a, b = _trials(sched, 2)
    for trial, acc in ((a, 0.9), (b, 0.8)):
        trial.iteration = 1
        trial.last_result = {"acc": acc, "training_iteration": 1}
    assert sched.on_result(a, a.last_result) == C
    assert sched.on_result(b, b.last_result) == S


def test_a_result_past_several_rungs_is_recorded_at_each():
    sched = _asha(time_attr="time_total_s", max_t=100, grace_period=1)
    (a,) = _trials(sched, 1)
    a.last_result = {"loss": 0.3, "training_iteration": 1, "time_total_s": 10.0}
    assert sched.on_result(a, a.last_result) == C
    assert [len(rung) for rung in sched.rungs_[0]] == [1, 1, 1, 0, 0]  # 1, 3, 9 passed


def test_a_restarted_trial_is_not_recorded_twice():
    sched = _asha(max_t=9)
    a, _b = _trials(sched, 2)
    assert _report(sched, a, 1, 0.5) == C
    assert _report(sched, a, 1, 0.9) == C  # replayed after a worker loss: already in rung
    assert sched.rungs_[0][0] == {"00000": 0.5}


@given(st.sampled_from([2, 3, 4, 1.5, 2.7]),
       st.lists(st.one_of(st.floats(0, 1), st.sampled_from([0.0, -0.0, 0.5, math.inf])),
                min_size=1, max_size=80))
def test_kept_fraction_matches_ranking_the_whole_rung(reduction_factor, losses):
    ranked = _KeptFraction(reduction_factor)
    for n, loss in enumerate(losses, 1):
        seen = losses[:n]
        keep = math.ceil(n / reduction_factor - 1e-9)
        strictly_better = sum(other < loss for other in seen)
        assert ranked.add(loss) == (strictly_better < keep), (seen, loss)
    assert len(ranked) == len(losses)


def test_brackets_share_trials_like_hyperband():
    sched = _asha(max_t=27, brackets=3)
    assert [sched.milestones(b) for b in range(3)] == [[1, 3, 9], [3, 9], [9]]
    _trials(sched, 8)
    # weights 3**3/4, 3**2/3, 3/2; each trial joins the bracket with the lowest (count+1)/w
    assert [sched.bracket_of_[f"{i:05d}"] for i in range(8)] == [0, 0, 1, 0, 0, 1, 2, 0]
    assert sched.blocking_iterations(Trial("00002", {})) == (3, 9, 27)
    assert sched.blocking_iterations(Trial("00000", {})) == (1, 3, 9, 27)


def test_asha_spends_far_fewer_epochs_than_fifo_for_the_same_best():
    def curve(config, state, iteration):  # better x is better at every epoch
        return {"loss": config["x"] + 1.0 / iteration}, iteration

    configs = [{"x": (i * 37 % 64) / 64} for i in range(64)]
    fifo = Sim(FIFO(), configs, curve, slots=4, max_iter=27).run()
    asha = Sim(ASHA(max_t=27), configs, curve, slots=4, max_iter=27).run()
    assert asha.best() <= fifo.best() * 1.02
    assert asha.epochs <= fifo.epochs / 3


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"max_t": 1, "grace_period": 3}, (r"ASHA: max_t must be >= grace_period, got max_t=1 < "
                                      r"grace_period=3")),
    ({"reduction_factor": 1}, r"ASHA: reduction_factor must be a number > 1, got 1"),
    ({"reduction_factor": "3"}, r"ASHA: reduction_factor must be a number > 1, got '3'"),
    ({"grace_period": 0}, r"ASHA: grace_period must be a number > 0, got 0"),
    ({"max_t": -5}, r"ASHA: max_t must be a number > 0, got -5"),
    ({"brackets": 0}, r"ASHA: brackets must be an int >= 1, got 0"),
    ({"max_t": 9, "brackets": 4}, r"ASHA: brackets must be <= 3 .*, got 4"),
    ({"time_attr": ""}, r"ASHA: time_attr must be the name of a result key"),
    ({"brackets": True}, r"ASHA: brackets must be an int >= 1, got True"),
    ({"brackets": 2.0}, r"ASHA: brackets must be an int >= 1, got 2.0"),
    ({"max_t": float("inf")}, r"ASHA: max_t must be a number > 0, got inf"),
    ({"grace_period": float("nan")}, r"ASHA: grace_period must be a number > 0, got nan"),
    ({"reduction_factor": True}, r"ASHA: reduction_factor must be a number > 1, got True"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ASHA(**kwargs)


def test_numpy_integers_are_integers():
    from raysweep.schedulers.median import MedianStopping

    assert ASHA(max_t=np.int64(27), brackets=np.int64(2)).brackets == 2
    assert MedianStopping(min_samples_required=np.int64(2)).min_samples_required == 2
