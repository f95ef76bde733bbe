"""Synchronous Hyperband on scripted result streams, against hand-computed brackets."""

from __future__ import annotations

import pytest
from schedsim import Sim

from raysweep.decisions import NEW, WAIT, Decision, Resume
from raysweep.schedulers.hyperband import Hyperband
from raysweep.trial import Trial, TrialStatus

C, P, S = Decision.CONTINUE, Decision.PAUSE, Decision.STOP


def _hyperband(**kwargs) -> Hyperband:
    sched = Hyperband(**kwargs)
    sched.setup("loss", "min", 0)
    return sched


def _report(sched, trial: Trial, iteration: int, loss: float) -> Decision:
    trial.status = TrialStatus.RUNNING
    trial.iteration = trial.checkpoint_iteration = iteration
    trial.last_result = {"loss": loss, "training_iteration": iteration,
                         "time_total_s": float(iteration), "trial_id": trial.trial_id}
    decision = sched.on_result(trial, trial.last_result)
    if decision == P:
        trial.status = TrialStatus.PAUSED
    elif decision == S:
        trial.status = TrialStatus.TERMINATED
        sched.on_trial_complete(trial)
    return decision


def _add(sched, trials: dict, n: int) -> list[Trial]:
    new = []
    for _ in range(n):
        trial = Trial(f"{len(trials):05d}", {})
        trials[trial.trial_id] = trial
        sched.on_trial_add(trial)
        new.append(trial)
    return new


def test_brackets_follow_the_paper():
    plan = Hyperband(max_t=81, reduction_factor=3).plan()
    assert [(b.s, b.size, b.milestones) for b in plan] == [
        (4, 81, [1, 3, 9, 27, 81]),
        (3, 34, [3, 9, 27, 81]),
        (2, 15, [9, 27, 81]),
        (1, 8, [27, 81]),
        (0, 5, [81]),
    ]
    # successive halving keeps floor(n / eta) at each rung: 81 27 9 3 1 and 34 11 3 1
    assert [(b.size, b.milestones) for b in Hyperband(max_t=8, reduction_factor=2).plan()] == [
        (8, [1, 2, 4, 8]), (6, [2, 4, 8]), (4, [4, 8]), (4, [8])]


def test_a_full_bracket_pauses_at_each_rung_and_promotes_the_best_third():
    sched = _hyperband(max_t=9, reduction_factor=3)  # first bracket: 9 trials, rungs 1, 3, 9
    trials: dict[str, Trial] = {}
    members = _add(sched, trials, 9)
    losses = [0.9, 0.2, 0.8, 0.5, 0.1, 0.7, 0.6, 0.3, 0.4]
    for trial, loss in zip(members[:8], losses[:8]):
        assert _report(sched, trial, 1, loss) == P
        assert sched.next_launch(trials, exhausted=False) == NEW  # rung 1 is not complete
    # the last member completes rung 1: ranked 4(.1) 1(.2) 7(.3) | 8(.4) ...; it is not top 3
    assert _report(sched, members[8], 1, losses[8]) == S
    assert sched.brackets_[0].promoted[0] == ["00004", "00001", "00007"]
    assert sched.next_launch(trials, exhausted=False) == Resume("00004")
    assert sched.next_launch(trials, exhausted=False) == Resume("00001")
    assert sched.next_launch(trials, exhausted=False) == Resume("00007")
    assert sched.next_launch(trials, exhausted=False) == NEW
    # rung 3: the promoted continue from their checkpoints (iteration 2, 3)
    assert _report(sched, trials["00004"], 2, 0.1) == C
    assert _report(sched, trials["00004"], 3, 0.09) == P
    assert _report(sched, trials["00001"], 2, 0.2) == C
    assert _report(sched, trials["00001"], 3, 0.05) == P
    # last arrival at rung 3 loses to 00001: STOP; max(1, floor(3/3)) = 1 promoted
    assert _report(sched, trials["00007"], 2, 0.3) == C
    assert _report(sched, trials["00007"], 3, 0.2) == S
    assert sched.brackets_[0].recorded[1] == {"00004": 0.09, "00001": 0.05, "00007": 0.2}
    assert sched.next_launch(trials, exhausted=False) == Resume("00001")
    for iteration in range(4, 9):
        assert _report(sched, trials["00001"], iteration, 0.04) == C
    assert _report(sched, trials["00001"], 9, 0.01) == S  # max_t
    # the losers stay paused: the experiment ends them
    paused = sorted(t.trial_id for t in trials.values() if t.status == TrialStatus.PAUSED)
    assert paused == ["00000", "00002", "00003", "00004", "00005", "00006"]
    assert sched.next_launch(trials, exhausted=True) == WAIT


def test_the_last_arrival_continues_without_a_pause_when_promoted():
    sched = _hyperband(max_t=9)
    trials: dict[str, Trial] = {}
    members = _add(sched, trials, 9)
    for i, trial in enumerate(members[:8]):
        assert _report(sched, trial, 1, 1.0 + i) == P
    assert _report(sched, members[8], 1, 0.0) == C  # best of rung 1: goes straight on
    assert sched.position_["00008"] == (0, 1)
    assert sched.next_launch(trials, exhausted=False) == Resume("00000")
    assert sched.next_launch(trials, exhausted=False) == Resume("00001")
    assert sched.next_launch(trials, exhausted=False) == NEW


def test_new_trials_fill_the_brackets_in_turn():
    sched = _hyperband(max_t=9)
    trials: dict[str, Trial] = {}
    _add(sched, trials, 9 + 5 + 3 + 1)
    assert [(b.s, len(b.members)) for b in sched.brackets_] == [(2, 9), (1, 5), (0, 3), (2, 1)]
    assert sched.blocking_iterations(trials["00000"]) == (1, 3, 9)
    assert sched.blocking_iterations(trials["00009"]) == (3, 9)
    assert sched.blocking_iterations(trials["00014"]) == (9,)


def test_when_exhausted_an_incomplete_bracket_promotes_what_it_has():
    sched = _hyperband(max_t=9)
    trials: dict[str, Trial] = {}
    members = _add(sched, trials, 5)  # the budget ran out after 5 of 9
    for trial, loss in zip(members, [0.5, 0.4, 0.3, 0.2, 0.1]):
        assert _report(sched, trial, 1, loss) == P
    assert sched.next_launch(trials, exhausted=False) == NEW  # 4 more may come
    assert sched.brackets_[0].promoted[0] is None  # and NEW changed nothing
    # no more trials: floor(5/3) = 1 promoted
    assert sched.next_launch(trials, exhausted=True) == Resume("00004")
    assert sched.next_launch(trials, exhausted=True) == WAIT


def test_a_trial_that_fails_before_its_rung_leaves_the_contest():
    sched = _hyperband(max_t=9)
    trials: dict[str, Trial] = {}
    members = _add(sched, trials, 9)
    for i, trial in enumerate(members[:7]):
        assert _report(sched, trial, 1, 0.1 * (i + 1)) == P
    members[7].status = TrialStatus.ERROR
    sched.on_trial_complete(members[7])
    assert _report(sched, members[8], 1, 0.05) == C  # rung complete: 8 recorded, keep 2
    assert sched.brackets_[0].promoted[0] == ["00008", "00000"]
    assert sched.next_launch(trials, exhausted=False) == Resume("00000")


def test_no_iteration_is_run_twice():
    # bracket s=2: 9 x 1 + 3 x 2 + 1 x 6; s=1: 5 x 3 + 1 x 6; s=0: 3 x 9
    configs = [{"x": (i * 7 % 17) / 17} for i in range(17)]
    sim = Sim(Hyperband(max_t=9), configs, slots=4, max_iter=9).run()
    assert sim.epochs == (9 + 6 + 6) + (15 + 6) + 27
    finished_at_max = [t for t in sim.trials.values() if t.iteration == 9]
    assert len(finished_at_max) == 1 + 1 + 3


def test_time_attr_budgets_need_not_be_whole():
    sched = _hyperband(time_attr="time_total_s", max_t=2.5, reduction_factor=2)
    assert [b.milestones for b in sched.plan()] == [[1.25, 2.5], [2.5]]
    assert sched.blocking_iterations(Trial("00000", {})) is None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"reduction_factor": 1}, r"Hyperband: reduction_factor must be a number > 1, got 1"),
    ({"reduction_factor": 0.5}, r"Hyperband: reduction_factor must be a number > 1, got 0.5"),
    ({"max_t": 0}, r"Hyperband: max_t must be a number > 0, got 0"),
    ({"max_t": float("inf")}, r"Hyperband: max_t must be a number > 0, got inf"),
    ({"time_attr": None}, r"Hyperband: time_attr must be the name of a result key"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Hyperband(**kwargs)
