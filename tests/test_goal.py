"""The one rule for "better" (raysweep._goal.Goal): losses, comparisons, the best trial."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from raysweep._goal import METRIC_RESULT, Goal, check_scope, metric_value, metric_values
from raysweep.trial import Trial, TrialStatus


def _trial(trial_id, last=None, best=None, status=TrialStatus.TERMINATED, kept=None):
    trial = Trial(trial_id, {"x": trial_id})
    trial.status = status
    trial.last_result = last
    trial.best_result = best if best is not None else last
    if kept is not None:
        trial.extra[METRIC_RESULT] = kept
    return trial


# ------------------------------------------------------------------------------- values
@pytest.mark.parametrize("value, expected", [
    (0.5, 0.5), (3, 3.0), (np.float32(0.25), 0.25), (np.int64(7), 7.0), ("0.5", 0.5),
    (-0.0, 0.0),
])
def test_metric_values_are_finite_reals(value, expected):
    assert metric_value(value) == expected


@pytest.mark.parametrize("value", [
    None, True, False, np.bool_(True), float("nan"), float("inf"), -float("inf"), "abc",
    [1.0], {"a": 1}, object(), 10 ** 400,
])
def test_everything_else_counts_as_missing(value):
    assert math.isnan(metric_value(value))


@pytest.mark.parametrize("mode, sign", [("min", 1.0), ("max", -1.0)])
def test_loss_is_sign_times_value_and_inf_when_missing(mode, sign):
    goal = Goal.of("acc", mode)
    assert goal.sign == sign and goal.minimize is (mode == "min")
    assert goal.loss({"acc": 0.25}) == sign * 0.25
    assert goal.loss_of(2) == sign * 2.0
    assert goal.value_of(goal.loss({"acc": 0.25})) == 0.25
    for result in (None, {}, {"other": 1.0}, {"acc": None}, {"acc": True}, {"acc": False},
                   {"acc": np.bool_(False)}, {"acc": math.nan}, {"acc": math.inf},
                   {"acc": -math.inf}, {"acc": "n/a"}):
        assert goal.loss(result) == math.inf, result


def test_better_is_strict_and_follows_the_mode():
    low, high = {"m": 1.0}, {"m": 2.0}
    assert Goal.of("m", "min").better(low, high) and not Goal.of("m", "min").better(high, low)
    assert Goal.of("m", "max").better(high, low) and not Goal.of("m", "max").better(low, high)
    for mode in ("min", "max"):
        goal = Goal.of("m", mode)
        assert not goal.better(low, dict(low))  # a tie is not better
        assert goal.better(low, {}) and goal.better(high, {"m": math.nan})
        assert not goal.better({}, low) and not goal.better({"m": True}, high)
        assert not goal.better({}, {})  # missing is never better than missing


# -------------------------------------------------------------------------------- trials
@pytest.mark.parametrize("mode", ["min", "max"])
def test_best_trial_by_last_result_ties_keep_the_first(mode):
    goal = Goal.of("m", mode)
    good = 1.0 if mode == "min" else 9.0
    trials = [_trial("a", {"m": 5.0}), _trial("b", {"m": good}), _trial("c", {"m": good}),
              _trial("d", {"m": 5.0})]
    assert goal.best(trials).trial_id == "b"
    assert goal.best(reversed(trials)).trial_id == "c"


def test_best_skips_errors_missing_nan_inf_and_bools():
    goal = Goal.of("m", "min")
    trials = [_trial("err", {"m": -100.0}, status=TrialStatus.ERROR),
              _trial("missing", {"other": -50.0}), _trial("nan", {"m": math.nan}),
              _trial("inf", {"m": -math.inf}), _trial("flag", {"m": False}),
              _trial("none", None), _trial("ok", {"m": 3.0})]
    assert goal.best(trials).trial_id == "ok"
    assert goal.best(trials[:-1]) is None
    assert goal.best([]) is None
    assert goal.trial_loss(trials[0]) == math.inf


def test_scope_last_and_all():
    goal = Goal.of("m", "max")
    # a: peaked at 9 and ended at 1; b: ended at 5; c's final report lacked the metric.
    a = _trial("a", {"m": 1.0}, best={"m": 9.0})
    b = _trial("b", {"m": 5.0}, best={"m": 5.0})
    c = _trial("c", {"note": "done"}, best={"m": 4.0}, kept={"m": 6.0})
    assert goal.best([a, b, c], "last").trial_id == "c"  # judged by its last metric value
    assert goal.result_of(c, "last") == {"m": 6.0}
    assert goal.best([a, b, c], "all").trial_id == "a"
    assert goal.result_of(a, "all") == {"m": 9.0}
    with pytest.raises(ValueError, match="scope must be 'last' or 'all', got 'best'"):
        goal.best([a], "best")
    assert check_scope("all") == "all"


def test_best_with_a_key_replaces_the_trial_loss():
    goal = Goal.of("m", "min")
    trials = [_trial("a", {"m": 1.0}), _trial("b", {"m": 2.0})]
    assert goal.best(trials, key=lambda t: -t.last_result["m"]).trial_id == "b"


# ------------------------------------------------------------------------ columns of values
def test_arrays_order_and_running_best():
    column = pd.Series([3.0, None, True, "x", 1.0, math.inf, 2.0, 1.0], dtype=object)
    values = metric_values(column)
    np.testing.assert_array_equal(np.isnan(values),
                                  [False, True, True, True, False, True, False, False])
    assert Goal.of("m", "min").order(column).tolist()[:4] == [4, 7, 6, 0]
    assert Goal.of("m", "max").order(column).tolist()[:4] == [0, 6, 4, 7]
    np.testing.assert_array_equal(Goal.of("m", "min").loss_array([1, 2, np.nan]),
                                  [1.0, 2.0, np.inf])
    running = Goal.of("m", "min").running_best([np.nan, 3.0, np.nan, 1.0, 2.0])
    np.testing.assert_array_equal(running, [np.nan, 3.0, 3.0, 1.0, 1.0])
    running = Goal.of("m", "max").running_best([np.nan, 3.0, np.nan, 1.0, 4.0])
    np.testing.assert_array_equal(running, [np.nan, 3.0, 3.0, 3.0, 4.0])
    ints = metric_values(np.array([1, 2]))
    assert ints.dtype == float and ints.tolist() == [1.0, 2.0]


# ------------------------------------------------------------------ several metrics, input
def test_several_metrics_fit_and_single_metric_questions_say_so():
    goal = Goal.of(["acc", "latency"], ["max", "min"])
    assert goal.is_multi and goal.signs == (-1.0, 1.0)
    assert goal.losses({"acc": 0.9, "latency": 3}) == (-0.9, 3.0)
    assert goal.losses({"acc": True}) == (math.inf, math.inf)
    assert Goal.of(["a", "b"], "max").modes == ("max", "max")
    for name in ("sign", "metric", "mode"):
        with pytest.raises(ValueError, match=r"needs a single metric; this goal has 2: "
                                             r"\['acc', 'latency'\]"):
            getattr(goal, name)
    with pytest.raises(ValueError, match="single metric"):
        goal.loss({"acc": 1.0})
    with pytest.raises(ValueError, match="single metric"):
        goal.best([])
    one = Goal.of("acc", "max")
    assert one.losses({"acc": 2.0}) == (one.loss({"acc": 2.0}),)
    assert one == Goal(("acc",), ("max",)) and hash(one) == hash(Goal.of(["acc"], ["max"]))
    with pytest.raises(AttributeError):
        one.metrics = ("x",)  # frozen


@pytest.mark.parametrize("metric, mode, error, message", [
    ("", "min", TypeError, "metric must be a non-empty string, got"),
    (None, "min", TypeError, "metric must be a non-empty string, got None"),
    ([], "min", TypeError, r"metric must be a non-empty string, got \[\]"),
    (["a", 3], "min", TypeError, "metric must be a non-empty string"),
    ("m", "maximize", ValueError, "mode must be 'min' or 'max', got 'maximize'"),
    ("m", None, ValueError, "mode must be 'min' or 'max', got None"),
    (["a", "b"], ["min"], ValueError, r"mode must be one mode per metric \(2\), got"),
    (["a", "a"], "min", ValueError, r"metric names must be distinct, got \['a'\] twice"),
])
def test_bad_goals_are_refused_with_the_rule_and_the_value(metric, mode, error, message):
    with pytest.raises(error, match=message):
        Goal.of(metric, mode)


# ------------------------------------------------- every consumer applies the same rule
@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("scope", ["last", "all"])
def test_results_top_and_progress_agree_with_the_goal(mode, scope):
    from raysweep import progress
    from raysweep.results import Results

    def trials():
        return [_trial("a", {"m": 2.0}, best={"m": 0.5}), _trial("b", {"m": True}),
                _trial("c", {"m": 1.0}), _trial("d", {"m": -9.0}, status=TrialStatus.ERROR),
                _trial("e", {"m": 3.0}, best={"m": 3.0}), _trial("f", {"m": math.nan}),
                _trial("g", {"m": 1.0})]

    expected = Goal.of("m", mode).best(trials(), scope).trial_id
    assert expected == {("min", "last"): "c", ("min", "all"): "a",
                        ("max", "last"): "e", ("max", "all"): "e"}[mode, scope]
    results = Results(trials(), metric="m", mode=mode, scope=scope)
    assert results.best_trial.trial_id == expected
    assert results.top(1)["trial_id"].tolist() == [expected]
    assert results.top(7)["trial_id"].tolist()[-3:] == ["b", "d", "f"]  # no values: last
    tracker = progress._Tracker("m", mode, scope, total=None, time_budget_s=None)
    snapshot = tracker.scan({t.trial_id: t for t in trials()}, slots=1)
    assert snapshot.best_trial == expected
    assert snapshot.best_value == results.best_result["m"]


def test_results_get_best_by_another_metric_or_mode():
    from raysweep.results import Results

    trials = [_trial("a", {"m": 2.0, "n": 5.0}), _trial("b", {"m": 1.0, "n": True}),
              _trial("c", {"m": 3.0, "n": 4.0})]
    results = Results(trials, metric="m", mode="min")
    assert results.best_trial.trial_id == "b"
    assert results.get_best(mode="max").trial_id == "c"
    assert results.get_best("n").trial_id == "c"  # the experiment's mode; b's bool is no value
    assert results.get_best("n", "max", scope="all").trial_id == "a"
    with pytest.raises(ValueError, match="mode must be 'min' or 'max', got 'up'"):
        results.get_best(mode="up")
    with pytest.raises(ValueError, match="scope must be 'last' or 'all', got 'every'"):
        results.get_best(scope="every")
