"""SearchCV with early-stopping schedulers: step-by-step training, reported per step."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import raysweep as rs
from raysweep._sklearn.objective import Strategy, growth_schedule, incremental_strategy
from raysweep.sklearn import SearchCV


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600], y[:600]


class CountingSGD(SGDClassifier):
    """SGDClassifier that counts its partial_fit passes."""

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        self.passes_ = getattr(self, "passes_", 0) + 1
        return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight)


def test_strategies_and_growth_schedules():
    assert incremental_strategy(SGDClassifier()) == Strategy("partial_fit")
    assert incremental_strategy(RandomForestClassifier()) == \
        Strategy("warm_start", "warm_start", "n_estimators")
    assert incremental_strategy(HistGradientBoostingClassifier()) == \
        Strategy("warm_start", "warm_start", "max_iter")
    pipe = Pipeline([("scale", StandardScaler()), ("forest", RandomForestClassifier())])
    assert incremental_strategy(pipe) == \
        Strategy("warm_start", "forest__warm_start", "forest__n_estimators")
    assert incremental_strategy(SVC()) is None
    assert growth_schedule(10, 4, "n") == [3, 5, 8, 10]
    assert growth_schedule(3, 10, "n") == [1, 2, 3]
    with pytest.raises(TypeError, match="n_estimators must be an int"):
        growth_schedule(None, 3, "n_estimators")


def test_partial_fit_with_asha_reports_every_epoch(digits, storage):
    X, y = digits
    space = {"alpha": rs.loguniform(1e-5, 1.0), "penalty": ["l2", "l1"]}
    search = SearchCV(CountingSGD(random_state=0), space, n_trials=12, scheduler="asha",
                      max_iterations=9, cv=3, random_state=0, executor="inline",
                      storage_path=storage).fit(X, y)
    iterations = search.cv_results_["training_iteration"]
    assert len(iterations) == 12 and iterations.max() == 9 and iterations.min() < 9
    history = search.results_.history()
    assert len(history) == iterations.sum()  # one report per epoch
    best = search.best_index_
    assert search.best_estimator_.passes_ == iterations[best]
    assert search.best_score_ == search.cv_results_["mean_test_score"][best]
    assert search.predict(X[:5]).shape == (5,)


def test_warm_start_grows_n_estimators(digits):
    X, y = digits
    grid = {"max_depth": [None, 8, 2, 1], "n_estimators": [9]}  # worse and worse
    search = SearchCV(RandomForestClassifier(random_state=0), grid, search="grid",
                      scheduler=rs.schedulers.ASHA(max_t=3, grace_period=1, reduction_factor=2),
                      cv=3, executor="inline").fit(X, y)
    iterations = search.cv_results_["training_iteration"]
    assert iterations.max() == 3 and iterations.min() < 3  # max_t=3 gives 3 steps: 3, 6, 9
    schedule = growth_schedule(9, 3, "n_estimators")
    reached = schedule[iterations[search.best_index_] - 1]
    assert len(search.best_estimator_.estimators_) == reached
    assert search.best_params_["n_estimators"] == 9


def test_hyperband_pauses_and_resumes_from_checkpoints(digits):
    X, y = digits
    space = {"alpha": [1e-4, 1e-2, 1.0], "penalty": ["l2", "l1"]}
    search = SearchCV(SGDClassifier(random_state=0), space, search="grid",
                      scheduler="hyperband", max_iterations=9, cv=2,
                      executor="inline").fit(X, y)
    frame = search.results_.dataframe()
    assert set(frame.status) == {"TERMINATED"}
    assert search.cv_results_["training_iteration"].max() == 9
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_median_stopping(digits):
    X, y = digits
    search = SearchCV(SGDClassifier(random_state=0), {"alpha": rs.loguniform(1e-5, 1.0)},
                      n_trials=6, scheduler="median", max_iterations=5, cv=2, random_state=2,
                      executor="inline").fit(X, y)
    assert search.cv_results_["training_iteration"].max() == 5


def test_an_estimator_that_cannot_train_step_by_step(digits):
    X, y = digits
    with pytest.raises(ValueError, match=r"needs partial_fit, or warm_start.*SVC has neither"):
        SearchCV(SVC(), {"C": [1, 10]}, scheduler="asha", executor="inline").fit(X, y)


class FailsAtSecondPass(SGDClassifier):
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        self.passes_ = getattr(self, "passes_", 0) + 1
        if self.alpha > 0.01 and self.passes_ == 2:
            raise ArithmeticError("second pass failed")
        return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight)


def test_errors_during_incremental_training(digits):
    X, y = digits
    grid = {"alpha": [1e-4, 0.1]}
    with pytest.warns(FitFailedWarning, match="2 fits failed"):
        search = SearchCV(FailsAtSecondPass(random_state=0), grid, search="grid",
                          scheduler="asha", max_iterations=3, error_score=-5.0, cv=2,
                          executor="inline").fit(X, y)
    assert list(search.cv_results_["mean_test_score"][1:]) == [-5.0]
    assert search.best_params_ == {"alpha": 1e-4}
    with pytest.raises(ArithmeticError, match="second pass failed"):
        SearchCV(FailsAtSecondPass(random_state=0), grid, search="grid", scheduler="asha",
                 max_iterations=3, error_score="raise", cv=2, executor="inline").fit(X, y)
