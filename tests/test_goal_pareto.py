"""Goal with several metrics and constraints: violation, dominance, Pareto ranks."""

from __future__ import annotations

import math

import pytest

from raysweep._goal import CONSTRAINTS, Goal
from raysweep.trial import Trial, TrialStatus

GOAL = Goal.of(["acc", "latency"], ["max", "min"])


def _trial(trial_id, last, status=TrialStatus.TERMINATED):
    trial = Trial(trial_id, {"x": trial_id})
    trial.status = status
    trial.last_result = trial.best_result = last
    return trial


@pytest.mark.parametrize("result, expected", [
    ({"acc": 0.9, "latency": 3}, 0.0),
    ({"acc": 0.9, "latency": 3, CONSTRAINTS: [-1.0, 0.0]}, 0.0),
    ({"acc": 0.9, "latency": 3, CONSTRAINTS: [0.5, -2, 1]}, 1.5),
    ({"acc": 0.9, "latency": 3, CONSTRAINTS: [float("nan")]}, math.inf),
    ({"acc": 0.9, "latency": 3, CONSTRAINTS: ["x"]}, math.inf),
    ({"acc": 0.9, "latency": 3, CONSTRAINTS: 1.0}, math.inf),
    ({"acc": 0.9}, math.inf),                      # a metric missing
    ({"acc": True, "latency": 3}, math.inf),       # a bool is no value
    (None, math.inf),
])
def test_violation(result, expected):
    assert GOAL.violation(result) == expected
    assert GOAL.feasible(result) == (expected == 0.0)


def test_dominates():
    a = {"acc": 0.9, "latency": 3}
    assert GOAL.dominates(a, {"acc": 0.8, "latency": 3})
    assert not GOAL.dominates(a, a)
    assert not GOAL.dominates(a, {"acc": 0.95, "latency": 4})  # a trade-off
    infeasible = {"acc": 1.0, "latency": 0, CONSTRAINTS: [0.1]}
    assert GOAL.dominates({"acc": 0.1, "latency": 9}, infeasible)  # feasible first
    assert GOAL.dominates(infeasible, {"acc": 0.1, "latency": 9, CONSTRAINTS: [0.2]})
    assert GOAL.dominates(infeasible, {"acc": 0.5})  # missing a metric: worst
    # one metric: better, feasible first
    single = Goal.of("loss")
    assert single.dominates({"loss": 1}, {"loss": 2})
    assert not single.dominates({"loss": 1, CONSTRAINTS: [1]}, {"loss": 2})


def test_pareto_ranks():
    trials = [
        _trial("a", {"acc": 0.9, "latency": 3}),
        _trial("b", {"acc": 0.8, "latency": 1}),
        _trial("c", {"acc": 0.7, "latency": 3}),                 # dominated by a and b
        _trial("d", {"acc": 0.99, "latency": 0, CONSTRAINTS: [2]}),
        _trial("e", {"acc": 0.99, "latency": 0}, TrialStatus.ERROR),
        _trial("f", {"acc": 0.5}),
        _trial("g", None),
    ]
    assert GOAL.pareto_ranks(trials) == [1, 1, 2, 3, 4, 4, 4]
    assert GOAL.pareto_ranks([]) == []
    with pytest.raises(ValueError, match="scope='all'"):
        GOAL.pareto_ranks(trials, scope="all")
    single = Goal.of("acc", "max")
    assert single.pareto_ranks(trials[:3], scope="all") == [1, 2, 3]


@pytest.mark.parametrize("call", [
    lambda: GOAL.loss({"acc": 1}), lambda: GOAL.best([]), lambda: GOAL.better({}, {}),
    lambda: GOAL.sign,
])
def test_single_metric_methods_still_refuse_several_metrics(call):
    with pytest.raises(ValueError, match=r"needs a single metric.*\['acc', 'latency'\]"):
        call()
