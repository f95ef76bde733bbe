"""``RunSpec``: the argument rules are one table that matches ``rs.run``'s signature, the spec
is frozen, and its defaults come from the searcher (how many trials it plans)."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import raysweep as rs
from raysweep._spec import _PARAMETER_RULES, RunSpec
from raysweep.search import Grid, Random
from raysweep.space import Space


def objective(config):
    return config["x"]


def _spec(space, **kwargs):
    args = {name: p.default for name, p in inspect.signature(rs.run).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}
    args.update(executor="inline", verbose=0)
    args.update(kwargs)
    return RunSpec.from_arguments(objective, space, **args)


def test_every_rule_names_a_parameter_of_run():
    parameters = set(inspect.signature(rs.run).parameters)
    assert {name for name, _ in _PARAMETER_RULES} <= parameters


@pytest.mark.parametrize("name, value, message", [
    ("num_samples", 0, "num_samples must be an int >= 1, got 0"),
    ("seed", -1, "seed must be an int >= 0, got -1"),
    ("verbose", True, "verbose must be an int >= 0, got True"),
    ("time_budget_s", float("inf"), "time_budget_s must be a positive number of seconds, got inf"),
    ("mode", "maximize", "mode must be 'min' or 'max', got 'maximize'"),
    ("metric", "", "metric must be a non-empty string, got ''"),
    ("address", 3, "address must be a string such as 'auto' or 'ray://host:10001', got int"),
    ("callbacks", [object()], "callbacks must be raysweep.Callback instances, got object"),
    ("name", "a\nb", "name must not contain control characters"),
    ("executor", "threads", "executor must be 'ray', 'inline' or an Executor instance, got "
                            "'threads'"),
])
def test_each_rule_says_parameter_rule_and_value(name, value, message):
    with pytest.raises((ValueError, TypeError)) as info:
        _spec({"x": rs.uniform(0, 1)}, **{name: value})
    assert str(info.value).startswith(message)


def test_the_spec_is_frozen_and_resolves_defaults():
    spec = _spec({"x": rs.uniform(0, 1)})
    assert (spec.num_samples, spec.num_samples_given) == (10, False)
    assert isinstance(spec.searcher, Random) and spec.planned_trials() is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.num_samples = 3  # type: ignore[misc]


def test_a_grid_plans_its_points_times_the_passes():
    spec = _spec({"x": rs.grid([1, 2, 3]), "y": rs.uniform(0, 1)})
    assert isinstance(spec.searcher, Grid)
    assert (spec.num_samples, spec.planned_trials()) == (1, 3)  # one pass by default
    assert _spec({"x": rs.grid([1, 2, 3])}, num_samples=2).planned_trials() == 6
    grid = Grid(points_to_evaluate=[{"x": 1}])
    assert grid.planned_trials(Space({"x": rs.grid([1, 2])}), None) == 3
    assert Random().planned_trials(Space({"x": rs.grid([1, 2])}), 5) is None


def test_a_grid_runs_its_plan_and_a_resume_adds_passes(tmp_path):
    results = rs.run(objective, {"x": rs.grid([1, 2, 3])}, num_samples=2, executor="inline",
                     verbose=0, storage_path=str(tmp_path), name="g")
    assert len(results) == 6
    more = rs.restore(str(tmp_path / "g"), objective, num_samples=3,  # one more pass
                      executor="inline", verbose=0)
    assert len(more) == 9


def test_bohb_configures_a_copy_of_the_users_searcher():
    from raysweep.schedulers import BOHB
    from raysweep.schedulers.bohb import BOHBSearcher

    mine = BOHBSearcher()
    spec = _spec({"x": rs.uniform(0, 1)}, search=mine, scheduler=BOHB(max_t=3))
    assert mine.budgets is None
    assert spec.searcher.budgets == [1.0, 3.0]
