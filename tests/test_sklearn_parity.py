"""SearchCV next to scikit-learn on what its users rely on: RandomizedSearchCV's own
candidates for a random_state, set_params errors for bad parameter names, an empty cv."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sklearn
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import raysweep as rs
from raysweep.sklearn import SearchCV

SPACES = {
    "lists": {"C": [0.1, 1, 10, 100], "kernel": ["linear", "rbf"], "gamma": [0.01, 0.1, 1.0]},
    "distributions": {"C": stats.loguniform(1e-2, 1e2), "kernel": ["linear", "rbf"],
                      "degree": stats.randint(1, 4)},
    "list of dicts": [{"kernel": ["linear"], "C": [1, 2]},
                      {"kernel": ["rbf"], "C": stats.uniform(0.1, 5), "gamma": [0.1, 1.0]}],
    "arrays": {"C": np.array([0.5, 1.0, 2.0, 4.0]), "kernel": np.array(["linear", "rbf"])},
}


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def inline(estimator, param_space, **kwargs):
    return SearchCV(estimator, param_space, executor="inline", **kwargs)


@pytest.mark.parametrize("space", list(SPACES), ids=list(SPACES))
def test_random_search_draws_randomized_search_cvs_candidates(iris, space):
    """Same random_state, same candidates in the same order, so the same cv_results_."""
    X, y = iris
    theirs = RandomizedSearchCV(SVC(), SPACES[space], n_iter=6, random_state=3, cv=3).fit(X, y)
    ours = inline(SVC(), SPACES[space], n_trials=6, random_state=3, cv=3).fit(X, y)
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]
    for key in ("mean_test_score", "std_test_score", "split0_test_score"):
        np.testing.assert_allclose(ours.cv_results_[key], theirs.cv_results_[key],
                                   rtol=0, atol=1e-12, err_msg=key)
    np.testing.assert_array_equal(ours.cv_results_["rank_test_score"],
                                  theirs.cv_results_["rank_test_score"])
    assert ours.best_params_ == theirs.best_params_
    again = inline(SVC(), SPACES[space], n_trials=6, random_state=3, cv=3).fit(X, y)
    assert again.cv_results_["params"] == ours.cv_results_["params"]


def test_a_random_state_object_gives_the_same_draws_as_scikit_learn(iris):
    X, y = iris
    space = SPACES["distributions"]
    theirs = RandomizedSearchCV(SVC(), space, n_iter=4, cv=3,
                                random_state=np.random.RandomState(7)).fit(X, y)
    ours = inline(SVC(), space, n_trials=4, cv=3,
                  random_state=np.random.RandomState(7)).fit(X, y)
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]


@pytest.mark.ray
def test_the_randomized_alias_matches_and_names_n_iter(iris, ray_session):
    from raysweep.sklearn import RandomizedSearchCV as RaysweepRandomized

    X, y = iris
    space = SPACES["distributions"]
    theirs = RandomizedSearchCV(SVC(), space, n_iter=5, random_state=0, cv=3).fit(X, y)
    ours = RaysweepRandomized(SVC(), space, n_iter=5, random_state=0, cv=3,
                              n_jobs=2).fit(X, y)
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"],
                               theirs.cv_results_["mean_test_score"], rtol=0, atol=1e-12)
    with pytest.warns(UserWarning, match=r"smaller than n_iter=10\. .*use GridSearchCV"):
        RaysweepRandomized(SVC(), {"C": [1, 2]}, n_iter=10, cv=3, n_jobs=1).fit(X, y)


def test_raysweep_domains_still_use_raysweeps_sampler(iris):
    X, y = iris
    space = {"C": rs.loguniform(1e-2, 1e2), "kernel": ["linear", "rbf"]}
    first = inline(SVC(), space, n_trials=4, random_state=0, cv=3).fit(X, y)
    again = inline(SVC(), space, n_trials=4, random_state=0, cv=3).fit(X, y)
    assert first.cv_results_["params"] == again.cv_results_["params"]
    assert all(1e-2 <= p["C"] <= 1e2 for p in first.cv_results_["params"])


def test_an_interrupted_random_search_resumes_with_the_same_candidates(iris, storage):
    X, y = iris
    space = SPACES["distributions"]

    class Stop(Exception):
        pass

    def interrupt(candidate):
        if candidate["trial_id"] == "00001":
            raise Stop

    with pytest.raises(Stop):
        inline(SVC(), space, n_trials=5, cv=3, name="rand", storage_path=storage,
               callbacks=[interrupt]).fit(X, y)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="raysweep restore")  # a different replay
        resumed = inline(SVC(), space, n_trials=5, cv=3, name="rand", storage_path=storage,
                         resume=True).fit(X, y)
    assert len(resumed.cv_results_["params"]) == 5


# -- bad parameter names: set_params' own error, before any trial, as GridSearchCV raises it ---
PIPE = Pipeline([("scale", StandardScaler()), ("clf", SVC())])


@pytest.mark.parametrize("estimator, space, match", [
    (SVC(), {"foo": [1]}, r"Invalid parameter 'foo' for estimator SVC\(\)"),
    (SVC(), {"C": stats.uniform(0, 1), "Gamma": stats.uniform(0, 1)}, "Invalid parameter 'Gamma'"),
    (PIPE, {"clf__foo": [1, 2]}, r"Invalid parameter 'foo' for estimator SVC\(\)"),
    (PIPE, {"nope__C": [1]}, "Invalid parameter 'nope' for estimator Pipeline"),
    (PIPE, {"clf": [KNeighborsClassifier()], "clf__C": [1]},
     r"Invalid parameter 'C' for estimator KNeighborsClassifier\(\)"),
    (SVC(), [{"C": [1]}, {"kernel": ["rbf"], "gama": [0.1]}], "Invalid parameter 'gama'"),
])
@pytest.mark.parametrize("search", ["grid", "random", "tpe"])
@pytest.mark.filterwarnings("ignore:The total space of parameters")
def test_bad_parameter_names_raise_before_any_trial(iris, estimator, space, match, search):
    X, y = iris
    if search == "grid" and not isinstance(space, list) and \
            any(hasattr(v, "rvs") for v in space.values()):
        pytest.skip("a grid takes lists only")
    if search == "grid":
        with pytest.raises(ValueError, match=match):
            GridSearchCV(estimator, space, cv=3).fit(X, y)
    started = []
    with pytest.raises(ValueError, match=match):
        inline(estimator, space, search=search, n_trials=2, cv=3,
               callbacks=[started.append]).fit(X, y)
    assert started == []


def test_a_name_only_some_listed_steps_have_raises_when_their_candidate_runs(iris):
    """The check accepts clf__C since SVC has it; the KNN candidate raises like sklearn's."""
    X, y = iris
    space = {"clf": [SVC(), KNeighborsClassifier()], "clf__C": [1]}
    match = r"Invalid parameter 'C' for estimator KNeighborsClassifier\(\)"
    with pytest.raises(ValueError, match=match):
        GridSearchCV(PIPE, space, cv=3).fit(X, y)
    for error_score in (np.nan, 0.0):
        with pytest.raises(ValueError, match=match):
            inline(PIPE, space, search="grid", cv=3, error_score=error_score).fit(X, y)


def test_steps_replaced_by_the_space_are_accepted(iris):
    X, y = iris
    space = [{"clf": [KNeighborsClassifier()], "clf__n_neighbors": [3, 5]},
             {"clf__C": [1, 2]}, {"scale": ["passthrough"], "clf__C": [1]}]
    ours = inline(PIPE, space, search="grid", cv=3).fit(X, y)
    theirs = GridSearchCV(PIPE, space, cv=3).fit(X, y)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"],
                               theirs.cv_results_["mean_test_score"], rtol=0, atol=1e-12)
    assert PIPE.get_params()["clf"].get_params()["C"] == 1.0  # the user's objects untouched


def test_an_empty_cv_iterable_is_scikit_learns_error(iris):
    X, y = iris
    with pytest.raises(ValueError, match="No fits were performed"):
        GridSearchCV(SVC(), {"C": [1]}, cv=[]).fit(X, y)
    with pytest.raises(ValueError, match="No fits were performed.*cv=\\[\\] gave no splits"):
        inline(SVC(), {"C": [1]}, search="grid", cv=[]).fit(X, y)


# -- scikit-learn's configuration (thread-local) reaches the trials, as joblib's n_jobs does --
class DataKind(ClassifierMixin, BaseEstimator):
    """Scores 1.0 when it was fitted on a DataFrame, else 0.0."""

    def __init__(self, a=0):
        self.a = a

    def fit(self, X, y):
        self.kind_ = type(X).__name__
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])

    def score(self, X, y):
        return float(self.kind_ == "DataFrame")


@pytest.mark.parametrize("executor", ["inline", pytest.param("ray", marks=pytest.mark.ray)])
def test_set_config_reaches_the_trials(iris, executor, request):
    if executor == "ray":
        request.getfixturevalue("ray_session")
    X, y = iris
    pipe = make_pipeline(StandardScaler(), DataKind())
    with sklearn.config_context(transform_output="pandas"):
        theirs = GridSearchCV(pipe, {"datakind__a": [0, 1]}, cv=3, n_jobs=2).fit(X, y)
        ours = SearchCV(pipe, {"datakind__a": [0, 1]}, search="grid", cv=3,
                        executor=executor).fit(X, y)
    assert list(theirs.cv_results_["mean_test_score"]) == [1.0, 1.0]
    assert list(ours.cv_results_["mean_test_score"]) == [1.0, 1.0]
    assert ours.best_estimator_[-1].kind_ == "DataFrame"


@pytest.mark.parametrize("value", [stats.uniform(0, 1), rs.loguniform(1e-2, 1.0)],
                         ids=["scipy", "raysweep"])
def test_a_grid_of_distributions_is_gridsearchcvs_type_error(iris, value):
    """GridSearchCV refuses a distribution; so do search='grid' and the GridSearchCV alias
    (rather than sampling it once)."""
    from raysweep.sklearn import GridSearchCV as RaysweepGrid

    X, y = iris
    match = r"Parameter grid for parameter 'C' needs to be a list or a numpy array"
    with pytest.raises(TypeError, match=match):
        GridSearchCV(SVC(), {"C": value}, cv=3).fit(X, y)
    with pytest.raises(TypeError, match=match):
        inline(SVC(), [{"kernel": ["rbf"]}, {"C": value}], search="grid", cv=3).fit(X, y)
    with pytest.raises(TypeError, match=match):
        RaysweepGrid(SVC(), {"C": value, "kernel": ["rbf"]}, cv=3).fit(X, y)
    finite = inline(SVC(), {"C": rs.grid([0.5, 2.0])}, search="grid", cv=3).fit(X, y)
    assert [p["C"] for p in finite.cv_results_["params"]] == [0.5, 2.0]
