"""XGBoost's ReportCallback on real boosting (digits, 9 rounds) with real Ray: ASHA stops
training, PBT continues a donor's booster, a killed driver resumes from booster files."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import raysweep as rs

xgb = pytest.importorskip("xgboost")  # in the dev extra (xgboost-cpu): runs in CI

from _harness import (  # noqa: E402
    STEPS, StepLog, check_inline_stop, kill_and_resume, sweep_asha, sweep_pbt,
)
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from raysweep.integrations.xgboost import ReportCallback, load_checkpoint  # noqa: E402

_X, _Y = load_digits(return_X_y=True)
X_TRAIN, X_VALID, Y_TRAIN, Y_VALID = train_test_split(_X, _Y, test_size=0.3, random_state=0)


class _Steps(xgb.callback.TrainingCallback):  # type: ignore[name-defined]
    """Records each round XGBoost really trained (runs before ReportCallback)."""

    def __init__(self, log):
        super().__init__()
        self.steps = log

    def after_iteration(self, model, epoch, evals_log):
        self.steps(model.num_boosted_rounds())
        return False


def train(config):
    booster = load_checkpoint()
    done = booster.num_boosted_rounds() if booster is not None else 0
    dtrain = xgb.DMatrix(X_TRAIN, Y_TRAIN)
    dvalid = xgb.DMatrix(X_VALID, Y_VALID)
    params = {"objective": "multi:softprob", "num_class": 10, "eta": config["eta"],
              "max_depth": 2, "nthread": 1, "eval_metric": "mlogloss"}
    xgb.train(params, dtrain, num_boost_round=STEPS - done, xgb_model=booster,
              evals=[(dvalid, "valid")], verbose_eval=False,
              callbacks=[_Steps(StepLog(config, done)),
                         ReportCallback({"loss": "valid-mlogloss"}, checkpoint_every=3)])


def space(log):
    return {"eta": rs.loguniform(0.01, 0.6), "log": log}


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_asha_stops_boosting_early(tmp_path):
    results = sweep_asha(train, space, tmp_path)
    best = load_checkpoint(results.best_checkpoint)  # a booster file the user can load
    assert best.num_boosted_rounds() in (3, 6, 9)


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_pbt_continues_the_donors_booster(tmp_path):
    sweep_pbt(train, space, tmp_path, {"eta": rs.loguniform(0.01, 0.6)}, delay_s=0.03)


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_driver_killed_then_resumed_from_booster_files(tmp_path):
    kill_and_resume(tmp_path, "test_xgboost", train, space)


def test_stop_outside_of_rs_run_and_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"xgboost.ReportCallback: metrics must be .* got 3"):
        ReportCallback(3)
    with pytest.raises(ValueError, match=r"checkpoint_every must be None .* got 0"):
        ReportCallback(checkpoint_every=0)
    with pytest.raises(ValueError, match=r"filename must be a plain file name"):
        ReportCallback(filename="a/b.ubj")
    dtrain = xgb.DMatrix(X_TRAIN[:50], Y_TRAIN[:50])
    with pytest.raises(RuntimeError, match=r"raysweep.report\(\) can only be called inside"):
        xgb.train({"objective": "multi:softprob", "num_class": 10}, dtrain, 2,
                  evals=[(dtrain, "train")], verbose_eval=False, callbacks=[ReportCallback()])


def test_a_metric_xgboost_did_not_compute_is_a_clear_error(tmp_path):
    def objective(config):
        dtrain = xgb.DMatrix(X_TRAIN[:100], Y_TRAIN[:100])
        xgb.train({"objective": "multi:softprob", "num_class": 10, "nthread": 1}, dtrain, 2,
                  evals=[(dtrain, "train")], verbose_eval=False,
                  callbacks=[ReportCallback({"loss": "valid-mlogloss"})])

    results = rs.run(objective, {"x": rs.uniform(0, 1)}, num_samples=1, executor="inline",
                     storage_path=str(tmp_path), verbose=0)
    error = results.trials[0].error
    assert "metric 'valid-mlogloss' is not among the metrics XGBoost computed this step: " \
           "['train-mlogloss']" in error


def test_inline_stop_ends_xgb_train_and_the_sklearn_api_works(tmp_path):
    ran = []

    def objective(config):
        model = xgb.XGBClassifier(n_estimators=STEPS, max_depth=2, n_jobs=1,
                                  callbacks=[ReportCallback({"loss": "validation_0-mlogloss"})])
        model.fit(X_TRAIN, Y_TRAIN, eval_set=[(X_VALID, Y_VALID)], verbose=False)
        ran.append(model.get_booster().num_boosted_rounds())  # not reached when stopped

    # fit did not return: the stop unwound the objective, like rs.report
    check_inline_stop(objective, ran, tmp_path, 4)


def test_importing_raysweep_imports_no_framework():
    code = ("import sys, raysweep, raysweep.integrations, raysweep.callbacks; "
            "print(sorted(m for m in ('xgboost', 'lightgbm', 'keras', 'torch', 'lightning', "
            "'transformers', 'wandb') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()}, check=True)
    assert out.stdout.strip() == "[]"
