"""Bad input: a clear error naming the parameter, raised before any trial starts."""

from __future__ import annotations

import pytest

import raysweep as rs


def objective(config):
    return config["x"]


SPACE = {"x": rs.uniform(0, 1)}


def _run(**kwargs):
    args = {"executor": "inline", "verbose": 0, "num_samples": 1}
    args.update(kwargs)
    objective_ = args.pop("objective", objective)
    space = args.pop("space", SPACE)
    return rs.run(objective_, space, **args)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"mode": "maximize"}, ValueError, "mode must be 'min' or 'max'"),
    ({"num_samples": 0}, ValueError, "num_samples must be an int >= 1"),
    ({"num_samples": 2.5}, ValueError, "num_samples"),
    ({"search": "bayes"}, ValueError, r"search must be one of \[.*'random'.*\]"),
    ({"scheduler": "sha"}, ValueError, r"scheduler must be one of \[.*'asha'.*\]"),
    ({"search": 3}, TypeError, "search must be a name"),
    ({"space": [1, 2]}, TypeError, "space must be a dict"),
    ({"objective": 42}, TypeError, "objective must be a callable"),
    ({"objective": lambda: 1}, TypeError, "cannot be called with a config dict"),
    ({"objective": lambda a, b: 1}, TypeError, "cannot be called with a config dict"),
    ({"max_concurrent": 0}, ValueError, "max_concurrent"),
    ({"time_budget_s": -1}, ValueError, "time_budget_s must be a positive"),
    ({"trial_timeout_s": 0}, ValueError, "trial_timeout_s"),
    ({"stop": 5}, TypeError, "stop must be a dict"),
    ({"stop": {"training_iteration": "ten"}}, ValueError, r"stop\['training_iteration'\]"),
    ({"resources_per_trial": {"cpu": -1}}, ValueError, r"resources_per_trial\['cpu'\]"),
    ({"resources_per_trial": 2}, TypeError, "resources_per_trial must be a dict"),
    ({"scope": "best"}, ValueError, "scope must be 'last' or 'all'"),
    ({"resume": True}, ValueError, "resume=True needs the name="),
    ({"executor": "threads"}, ValueError, "executor must be"),
])
def test_bad_arguments_raise_before_any_trial(kwargs, error, match, storage):
    calls = []

    def tracked(config):
        calls.append(config)
        return 0.0

    kwargs.setdefault("objective", tracked)
    with pytest.raises(error, match=match):
        _run(storage_path=storage, **kwargs)
    assert calls == []


@pytest.mark.parametrize("make, match", [
    (lambda: rs.uniform(1, 1), "uniform: low must be < high"),
    (lambda: rs.loguniform(0, 1), "loguniform.*low"),
    (lambda: rs.choice([]), "choice"),
    (lambda: rs.grid([]), "grid"),
    (lambda: rs.randint(5, 5), "randint"),
])
def test_bad_domains_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_space_leaf_raises_before_trials(storage):
    with pytest.raises(ValueError, match="space"):
        _run(space={"x": rs.choice([{"k": []}])}, storage_path=storage)


def test_bad_quantization_raises():
    with pytest.raises(ValueError, match="q"):
        rs.quniform(0, 1, 0)


def test_existing_experiment_needs_resume(storage):
    _run(storage_path=storage, name="exp")
    with pytest.raises(ValueError, match="already exists; pass resume=True"):
        _run(storage_path=storage, name="exp")


def test_public_api_is_small():
    assert sorted(rs.__all__) == sorted([
        "Callback", "Checkpoint", "Results", "Simulated", "Trainable", "Trial", "TrialStatus",
        "__version__", "choice", "fixed", "get_checkpoint", "get_trial_id", "grid", "load",
        "loguniform", "lograndint", "normal", "qloguniform", "qrandint", "quniform", "randint",
        "report", "restore", "run", "schedulers", "search", "uniform"])
    for name in rs.__all__:
        assert hasattr(rs, name), name


def test_report_outside_a_trial_is_a_clear_error():
    with pytest.raises(RuntimeError, match="inside an objective"):
        rs.report({"loss": 1.0})
