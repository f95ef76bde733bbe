"""SearchCV against scikit-learn's own searches, on the in-process executor.

Parity means: the same candidates in the same order, the same splits, the same scorer, so
every score in ``cv_results_`` agrees with ``GridSearchCV`` to 1e-12.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris, make_classification
from sklearn.decomposition import PCA
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC
from sklearn.utils._param_validation import InvalidParameterError

import raysweep as rs
from raysweep.sklearn import SearchCV

TIMES = ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time")


def inline(estimator, param_space, **kwargs):
    kwargs.setdefault("executor", "inline")
    return SearchCV(estimator, param_space, **kwargs)


def assert_same_results(ours: dict, theirs: dict) -> None:
    """Same keys; params identical; every score within 1e-12 (times are not compared)."""
    assert set(ours) == set(theirs)
    assert ours["params"] == theirs["params"]
    for key, expected in theirs.items():
        if key == "params" or key in TIMES or key.endswith("_time"):
            continue
        got = ours[key]
        assert len(got) == len(expected), key
        if key.startswith("param_"):
            assert list(np.ma.getmaskarray(got)) == list(np.ma.getmaskarray(expected)), key
            assert [a for a, m in zip(got, np.ma.getmaskarray(got)) if not m] == \
                [b for b, m in zip(expected, np.ma.getmaskarray(expected)) if not m], key
        elif key.startswith("rank_"):
            np.testing.assert_array_equal(got, expected, err_msg=key)
        else:
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12, err_msg=key)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def test_grid_parity_svc_iris(iris):
    X, y = iris
    param_grid = [{"kernel": ["linear"], "C": [0.01, 0.1, 1, 10]},
                  {"kernel": ["rbf"], "C": [0.1, 1, 10, 100], "gamma": np.logspace(-3, 0, 4)}]
    ours = inline(SVC(), param_grid, search="grid", cv=5).fit(X, y)
    theirs = GridSearchCV(SVC(), param_grid, cv=5).fit(X, y)
    assert_same_results(ours.cv_results_, theirs.cv_results_)
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_index_ == theirs.best_index_
    assert ours.best_score_ == theirs.best_score_
    assert ours.n_splits_ == 5 and ours.multimetric_ is False
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.decision_function(X), theirs.decision_function(X))
    assert ours.score(X, y) == theirs.score(X, y)
    assert list(ours.classes_) == [0, 1, 2] and ours.n_features_in_ == 4
    assert ours.refit_time_ >= 0
    frame = pd.DataFrame(ours.cv_results_)
    assert len(frame) == 20 and frame.rank_test_score.min() == 1
    assert ours.results_.dataframe().status.eq("TERMINATED").all()


def test_clone_get_and_set_params():
    search = SearchCV(SVC(), {"C": [1, 10]}, search="tpe", n_trials=7, random_state=3,
                      scoring="accuracy", callbacks=[print])
    copy = clone(search)
    assert copy is not search
    assert copy.get_params(deep=False).keys() == search.get_params(deep=False).keys()
    assert copy.n_trials == 7 and copy.search == "tpe" and copy.callbacks == [print]
    assert search.get_params()["estimator__C"] == 1.0
    search.set_params(n_trials=3, estimator__C=5.0)
    assert search.n_trials == 3 and search.estimator.C == 5.0
    X, y = load_iris(return_X_y=True)
    fitted = inline(SVC(), {"C": [1, 10]}, search="grid", cv=3).fit(X, y)
    assert not hasattr(clone(fitted), "best_estimator_")


def test_pipeline_step_params_and_estimator_values(iris):
    X, y = iris
    pipe = Pipeline([("scale", StandardScaler()), ("reduce", PCA()), ("svc", SVC())])
    param_grid = {"scale": [StandardScaler(), MinMaxScaler(), "passthrough"],
                  "reduce__n_components": [2, 3], "svc__C": [0.5, 5]}
    ours = inline(pipe, param_grid, search="grid", cv=4).fit(X, y)
    theirs = GridSearchCV(pipe, param_grid, cv=4).fit(X, y)
    assert_same_results(ours.cv_results_, theirs.cv_results_)
    assert ours.best_params_["scale"] is param_grid["scale"][
        [id(s) for s in param_grid["scale"]].index(id(theirs.best_params_["scale"]))]
    assert isinstance(ours.best_estimator_, Pipeline)
    assert ours.best_estimator_.get_params()["reduce__n_components"] == \
        theirs.best_params_["reduce__n_components"]


@pytest.mark.parametrize("refit", ["f1", False])
def test_multi_metric_scoring_and_refit(iris, refit):
    X, y = iris
    scoring = {"accuracy": "accuracy", "f1": "f1_macro"}
    param_grid = {"C": [0.05, 0.5, 5], "gamma": [0.01, 0.1]}
    ours = inline(SVC(), param_grid, search="grid", scoring=scoring, refit=refit,
                  return_train_score=True, cv=3).fit(X, y)
    theirs = GridSearchCV(SVC(), param_grid, scoring=scoring, refit=refit,
                          return_train_score=True, cv=3).fit(X, y)
    assert_same_results(ours.cv_results_, theirs.cv_results_)
    assert ours.multimetric_ is True and set(ours.scorer_) == {"accuracy", "f1"}
    if refit:
        assert ours.best_params_ == theirs.best_params_
        assert ours.best_score_ == theirs.best_score_
        assert ours.score(X, y) == theirs.score(X, y)
    else:
        assert not hasattr(ours, "best_estimator_") and not hasattr(ours, "best_params_")


def test_multi_metric_needs_a_refit_name(iris):
    X, y = iris
    with pytest.raises(ValueError, match="For multi-metric scoring, the parameter refit"):
        inline(SVC(), {"C": [1]}, search="grid",
               scoring=["accuracy", "f1_macro"]).fit(X, y)


class SometimesFails(ClassifierMixin, BaseEstimator):
    """Predicts the majority class; ``fit`` raises when ``mode == "fail"``."""

    def __init__(self, mode="ok", shift=0):
        self.mode = mode
        self.shift = shift

    def fit(self, X, y):
        if self.mode == "fail":
            raise ValueError("SometimesFails: deliberate failure")
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[self.shift % len(self.classes_)])


def test_error_score_raise_raises_the_fit_exception(iris):
    X, y = iris
    with pytest.raises(ValueError, match="deliberate failure"):
        inline(SometimesFails(), {"mode": ["ok", "fail"]}, search="grid",
               error_score="raise", cv=3).fit(X, y)


@pytest.mark.parametrize("error_score", [-1.0, np.nan])
def test_numeric_error_score_matches_scikit_learn(iris, error_score):
    X, y = iris
    grid = {"mode": ["ok", "fail"], "shift": [0, 1]}
    with pytest.warns(FitFailedWarning, match="2 fits failed|6 fits failed"):
        ours = inline(SometimesFails(), grid, search="grid", error_score=error_score,
                      cv=3).fit(X, y)
    with pytest.warns(FitFailedWarning):
        theirs = GridSearchCV(SometimesFails(), grid, error_score=error_score, cv=3).fit(X, y)
    assert_same_results(ours.cv_results_, theirs.cv_results_)
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_params_["mode"] == "ok"


def test_all_fits_failing_is_an_error(iris):
    X, y = iris
    with pytest.raises(ValueError, match="All the 6 fits failed"):
        inline(SometimesFails(), {"mode": ["fail"], "shift": [0, 1]}, search="grid",
               cv=3).fit(X, y)


def test_groups_with_group_kfold():
    X, y = make_classification(n_samples=120, n_features=6, random_state=0)
    groups = np.repeat(np.arange(12), 10)
    grid = {"C": [0.01, 0.1, 1.0, 10.0]}
    ours = inline(LogisticRegression(), grid, search="grid", cv=GroupKFold(n_splits=4)).fit(
        X, y, groups=groups)
    theirs = GridSearchCV(LogisticRegression(), grid, cv=GroupKFold(n_splits=4)).fit(
        X, y, groups=groups)
    assert_same_results(ours.cv_results_, theirs.cv_results_)
    assert ours.best_params_ == theirs.best_params_
    with pytest.raises(ValueError, match="groups"):
        inline(LogisticRegression(), grid, search="grid", cv=GroupKFold(n_splits=4)).fit(X, y)


def test_sample_weight_is_sliced_per_split(iris):
    X, y = iris
    weights = np.linspace(0.5, 2.0, len(y))
    grid = {"C": [0.1, 1.0]}
    ours = inline(SVC(), grid, search="grid", cv=3).fit(X, y, sample_weight=weights)
    theirs = GridSearchCV(SVC(), grid, cv=3).fit(X, y, sample_weight=weights)
    assert_same_results(ours.cv_results_, theirs.cv_results_)


def test_dataframes_and_unsupervised_estimators():
    X, y = load_iris(return_X_y=True, as_frame=True)
    search = inline(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]}, search="grid",
                    cv=3).fit(X, y)
    assert list(search.feature_names_in_) == list(X.columns)
    grid = {"n_clusters": [2, 3, 4]}
    ours = inline(KMeans(n_init=1, random_state=0), grid, search="grid", cv=3).fit(X.values)
    theirs = GridSearchCV(KMeans(n_init=1, random_state=0), grid, cv=3).fit(X.values)
    assert_same_results(ours.cv_results_, theirs.cv_results_)
    assert ours.transform(X.values[:2]).shape == (2, ours.best_params_["n_clusters"])


# -- param_space: distributions, raysweep domains, lazy grids ----------------------------------
def test_random_search_with_lists_never_repeats(iris):
    X, y = iris
    grid = {"C": [0.1, 1, 10, 100], "gamma": [0.001, 0.01, 0.1, 1.0]}
    search = inline(SVC(), grid, n_trials=10, random_state=0, cv=3).fit(X, y)
    params = [tuple(sorted(p.items())) for p in search.cv_results_["params"]]
    assert len(params) == 10 and len(set(params)) == 10
    again = inline(SVC(), grid, n_trials=10, random_state=0, cv=3).fit(X, y)
    assert again.cv_results_["params"] == search.cv_results_["params"]


def test_random_search_over_a_small_grid_is_exhaustive(iris):
    X, y = iris
    with pytest.warns(UserWarning, match="total space of parameters 3 is smaller than n_trials"):
        search = inline(SVC(), {"C": [0.1, 1, 10]}, n_trials=10, cv=3).fit(X, y)
    assert [p["C"] for p in search.cv_results_["params"]] == [0.1, 1, 10]


def test_scipy_distributions_and_raysweep_domains(iris):
    X, y = iris
    space = {"C": stats.loguniform(1e-2, 1e2), "gamma": rs.loguniform(1e-3, 1.0),
             "kernel": ["rbf", "sigmoid"], "shrinking": rs.choice([True, False])}
    for search in ("random", "tpe", "sobol"):
        result = inline(SVC(), space, search=search, n_trials=6, random_state=1,
                        cv=3).fit(X, y)
        assert len(result.cv_results_["params"]) == 6
        for params in result.cv_results_["params"]:
            assert 1e-2 <= params["C"] <= 1e2 and 1e-3 <= params["gamma"] <= 1.0
            assert params["kernel"] in ("rbf", "sigmoid") and params["shrinking"] in (True, False)


def test_list_of_dicts_with_a_model_based_searcher(iris):
    X, y = iris
    param_grid = [{"kernel": ["linear"], "C": [0.1, 1]},
                  {"kernel": ["rbf"], "C": [0.1, 1, 10], "gamma": [0.01, 0.1]}]
    search = inline(SVC(), param_grid, search="tpe", n_trials=5, random_state=0,
                    cv=3).fit(X, y)
    for params in search.cv_results_["params"]:
        assert ("gamma" in params) == (params["kernel"] == "rbf")
    assert np.ma.is_masked(search.cv_results_["param_gamma"]) or \
        all(p["kernel"] == "rbf" for p in search.cv_results_["params"])


def test_a_huge_grid_is_never_enumerated(iris):
    X, y = iris
    huge = {f"p{i}": list(range(10)) for i in range(12)}  # 10**12 points
    huge["C"] = [0.5, 1.0]

    class Ignores(SVC):
        def __init__(self, C=1.0, **ignored):
            super().__init__(C=C)
            self.ignored = ignored

        def set_params(self, **params):
            return super().set_params(C=params.get("C", self.C))

        def get_params(self, deep=True):
            return {"C": self.C, **{f"p{i}": 0 for i in range(12)}}

    for search in ("random", "tpe"):
        result = inline(Ignores(), huge, search=search, n_trials=3, random_state=0,
                        cv=2).fit(X, y)
        assert len(result.cv_results_["params"]) == 3


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("param_space, error, match", [
    ({"C": 1.0}, TypeError, r"param_space\['C'\] must be a list of values.*got 1.0"),
    ({"C": []}, ValueError, r"param_space\['C'\] must be a non-empty list"),
    ({"kernel": "rbf"}, TypeError, r"param_space\['kernel'\].*wrap a single value"),
    ([], ValueError, "param_space must not be an empty list"),
    ([{"C": [1]}, 3], TypeError, r"param_space\[1\] must be a dict"),
    ({"C": np.ones((2, 2))}, ValueError, "one-dimensional"),
])
def test_bad_param_space(iris, param_space, error, match):
    X, y = iris
    with pytest.raises(error, match=match):
        inline(SVC(), param_space, search="grid").fit(X, y)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n_trials": 0}, InvalidParameterError, "'n_trials' parameter of SearchCV must be"),
    ({"executor": "threads"}, InvalidParameterError, "'executor' parameter"),
    ({"search": "annealing"}, ValueError, "search must be one of"),
    ({"scheduler": "sometimes"}, ValueError, "scheduler must be one of"),
    ({"callbacks": [3]}, TypeError, r"callbacks\[0\] must be a raysweep.Callback or a callable"),
    ({"error_score": "ignore"}, InvalidParameterError, "'error_score' parameter"),
    ({"resume": True}, ValueError, "resume=True needs the name="),
])
def test_bad_arguments(iris, kwargs, error, match):
    X, y = iris
    with pytest.raises(error, match=match):
        inline(SVC(), {"C": [1, 2]}, **kwargs).fit(X, y)


# -- callbacks, progress, seeds, resume --------------------------------------------------------
def test_callbacks_and_progress_lines(iris, capsys):
    X, y = iris
    seen, completed = [], []

    class Recorder(rs.Callback):
        def on_trial_complete(self, trial):
            completed.append(trial.trial_id)

    search = inline(SVC(), {"C": [0.1, 1, 10]}, search="grid", cv=3, verbose=2,
                    callbacks=[seen.append, Recorder()]).fit(X, y)
    assert [c["params"] for c in seen] == search.cv_results_["params"]
    assert completed == ["00000", "00001", "00002"]
    first = seen[0]
    assert first["status"] == "TERMINATED" and first["error"] is None
    assert math.isclose(first["mean_test_score"], search.cv_results_["mean_test_score"][0],
                        abs_tol=1e-12)
    assert len(first["test_scores"]) == 3 and first["fit_time"] >= 0
    out = capsys.readouterr().out
    assert "Fitting 3 folds for each of 3 candidates, totalling 9 fits" in out
    assert out.count("[SearchCV] candidate") == 3 and "params={'C': 10}" in out


def test_interrupted_fit_resumes_where_it_stopped(iris, storage):
    X, y = iris
    grid = {"C": [0.05, 0.5, 5, 50], "gamma": [0.01, 0.1]}

    class Stop(Exception):
        pass

    def interrupt_after_three(candidate):
        if candidate["trial_id"] == "00002":
            raise Stop

    with pytest.raises(Stop):
        inline(SVC(), grid, search="grid", cv=3, name="svc", storage_path=storage,
               callbacks=[interrupt_after_three]).fit(X, y)
    evaluated = []
    resumed = inline(SVC(), grid, search="grid", cv=3, name="svc", storage_path=storage,
                     resume=True, callbacks=[evaluated.append]).fit(X, y)
    assert len(evaluated) == 5  # the three finished candidates were kept
    theirs = GridSearchCV(SVC(), grid, cv=3).fit(X, y)
    assert_same_results(resumed.cv_results_, theirs.cv_results_)
    assert resumed.best_params_ == theirs.best_params_
    assert rs.load(resumed.results_.path).dataframe().shape[0] == 8
    with pytest.raises(ValueError, match="already exists"):
        inline(SVC(), grid, search="grid", name="svc", storage_path=storage).fit(X, y)


def test_scratch_experiments_are_removed(iris, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        search = inline(KNeighborsClassifier(), {"n_neighbors": [1, 5]}, search="grid",
                        cv=3).fit(X, y)
    assert list(tmp_path.iterdir()) == []
    assert len(search.results_) == 2
