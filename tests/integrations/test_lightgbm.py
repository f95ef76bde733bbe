"""LightGBM's ReportCallback on real boosting (digits, 9 rounds) with real Ray: ASHA stops
training, PBT continues a donor's booster, a killed driver resumes from booster files."""

from __future__ import annotations

import pytest

import raysweep as rs

lgb = pytest.importorskip("lightgbm")  # in the dev extra: runs in CI

from _harness import (  # noqa: E402
    STEPS, StepLog, check_inline_stop, kill_and_resume, sweep_asha, sweep_pbt,
)
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from raysweep.integrations.lightgbm import ReportCallback, load_checkpoint  # noqa: E402

_X, _Y = load_digits(return_X_y=True)
X_TRAIN, X_VALID, Y_TRAIN, Y_VALID = train_test_split(_X, _Y, test_size=0.3, random_state=0)


def _steps(log):
    """Records each round LightGBM really trained (runs before ReportCallback)."""
    def record(env):
        log(env.iteration + 1)
    record.order = 5
    return record


def train(config):
    booster = load_checkpoint()
    done = booster.current_iteration() if booster is not None else 0
    if done >= STEPS:  # resumed from a finished trial's checkpoint (a PBT clone of it)
        return
    dtrain = lgb.Dataset(X_TRAIN, Y_TRAIN)
    dvalid = lgb.Dataset(X_VALID, Y_VALID, reference=dtrain)
    params = {"objective": "multiclass", "num_class": 10, "learning_rate": config["lr"],
              "num_leaves": 4, "num_threads": 1, "verbose": -1}
    lgb.train(params, dtrain, num_boost_round=STEPS - done, init_model=booster,
              valid_sets=[dvalid], valid_names=["valid"],
              callbacks=[_steps(StepLog(config, done)),
                         ReportCallback({"loss": "valid-multi_logloss"}, checkpoint_every=3)])


def space(log):
    return {"lr": rs.loguniform(0.01, 0.6), "log": log}


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_asha_stops_boosting_early(tmp_path):
    results = sweep_asha(train, space, tmp_path)
    best = load_checkpoint(results.best_checkpoint)
    assert best.current_iteration() in (3, 6, 9)


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_pbt_continues_the_donors_booster(tmp_path):
    sweep_pbt(train, space, tmp_path, {"lr": rs.loguniform(0.01, 0.6)}, delay_s=0.03)


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_driver_killed_then_resumed_from_booster_files(tmp_path):
    kill_and_resume(tmp_path, "test_lightgbm", train, space)


def test_bad_arguments_and_missing_metric(tmp_path):
    with pytest.raises(ValueError, match=r"lightgbm.ReportCallback: metrics must be .* got \{\}"):
        ReportCallback({})
    with pytest.raises(ValueError, match=r"checkpoint_at_decisions must be True or False"):
        ReportCallback(checkpoint_at_decisions=1)

    def objective(config):
        dtrain = lgb.Dataset(X_TRAIN, Y_TRAIN)
        lgb.train({"objective": "multiclass", "num_class": 10, "verbose": -1,
                   "num_threads": 1}, dtrain, 2, valid_sets=[dtrain], valid_names=["train"],
                  callbacks=[ReportCallback("valid-multi_logloss")])

    results = rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=1, executor="inline",
                     storage_path=str(tmp_path), verbose=0)
    assert "metric 'valid-multi_logloss' is not among the metrics LightGBM computed this " \
           "step: ['train-multi_logloss']" in results.trials[0].error


@pytest.mark.filterwarnings("ignore:The argument 'eval_set' is deprecated")
def test_a_stop_ends_lgb_train_and_the_sklearn_api_reports(tmp_path):
    ran = []

    def objective(config):
        model = lgb.LGBMClassifier(n_estimators=STEPS, num_leaves=4, n_jobs=1, verbose=-1)
        model.fit(X_TRAIN, Y_TRAIN, eval_set=[(X_VALID, Y_VALID)],
                  callbacks=[ReportCallback({"loss": "valid_0-multi_logloss"})])
        ran.append(model.booster_.current_iteration())  # not reached when stopped

    check_inline_stop(objective, ran, tmp_path, 4)
    # early stopping (LightGBM's own) ends the trial normally; the round it stops at is
    # reported, and the last round carries a checkpoint

    def early(config):
        dtrain = lgb.Dataset(X_TRAIN, Y_TRAIN)
        dvalid = lgb.Dataset(X_VALID, Y_VALID, reference=dtrain)
        lgb.train({"objective": "multiclass", "num_class": 10, "verbose": -1, "num_threads": 1,
                   "learning_rate": 0.5}, dtrain, 3, valid_sets=[dvalid], valid_names=["v"],
                  callbacks=[ReportCallback({"loss": "v-multi_logloss"})])

    results = rs.run(early, {"x": rs.uniform(0, 1)}, num_samples=1, executor="inline",
                     storage_path=str(tmp_path), name="early", verbose=0)
    assert results.trials[0].iteration == 3
    assert load_checkpoint(results.best_checkpoint).current_iteration() == 3
