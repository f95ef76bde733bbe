"""Successive halving on Ray next to scikit-learn's: the same candidates kept at every
iteration (ties included), the same cv_results_, for both resources."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import HalvingGridSearchCV as SklearnHalvingGrid
from sklearn.model_selection import HalvingRandomSearchCV as SklearnHalvingRandom
from sklearn.tree import DecisionTreeClassifier

from raysweep.sklearn import HalvingGridSearchCV, HalvingRandomSearchCV

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=400, n_features=8, random_state=0)


def assert_same_search(ours, theirs):
    for attr in ("n_iterations_", "n_candidates_", "n_resources_", "n_remaining_candidates_",
                 "min_resources_", "max_resources_", "best_index_", "best_params_"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert ours.cv_results_.keys() == theirs.cv_results_.keys()
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]
    for key in ("iter", "n_resources", "rank_test_score"):
        np.testing.assert_array_equal(ours.cv_results_[key], theirs.cv_results_[key], key)
    for key in ("mean_test_score", "mean_train_score", "split0_test_score"):
        np.testing.assert_allclose(ours.cv_results_[key], theirs.cv_results_[key],
                                   rtol=0, atol=1e-12, err_msg=key)


def test_halving_grid_on_samples_keeps_scikit_learns_candidates_ties_included(data):
    X, y = data
    # tol barely matters here: many candidates tie, and the tie-break decides who is kept
    grid = {"C": [0.01, 0.1, 1, 10], "tol": [1e-2, 1e-3, 1e-4]}
    args = dict(factor=2, cv=3, random_state=0)
    ours = HalvingGridSearchCV(LogisticRegression(), grid, **args).fit(X, y)
    theirs = SklearnHalvingGrid(LogisticRegression(), grid, **args).fit(X, y)
    scores = theirs.cv_results_["mean_test_score"]
    assert len(np.unique(scores)) < len(scores)  # the ties this test is about
    assert_same_search(ours, theirs)


def test_halving_random_with_a_parameter_as_resource_draws_and_keeps_the_same(data):
    X, y = data
    space = {"max_depth": stats.randint(1, 8), "min_samples_leaf": [1, 5, 20]}
    args = dict(resource="n_estimators", max_resources=12, min_resources=3, factor=2,
                n_candidates=8, cv=2, random_state=3, aggressive_elimination=True)
    forest = RandomForestClassifier(random_state=0)
    ours = HalvingRandomSearchCV(forest, space, **args).fit(X, y)
    theirs = SklearnHalvingRandom(forest, space, **args).fit(X, y)
    assert_same_search(ours, theirs)
    assert ours.best_estimator_.n_estimators == theirs.best_estimator_.n_estimators


def test_halving_signature_and_validation_are_scikit_learns():
    import inspect

    for ours, theirs in ((HalvingGridSearchCV, SklearnHalvingGrid),
                         (HalvingRandomSearchCV, SklearnHalvingRandom)):
        assert str(inspect.signature(ours)) == str(inspect.signature(theirs))  # nan != nan
    with pytest.raises(ValueError, match="The 'factor' parameter of HalvingGridSearchCV"):
        HalvingGridSearchCV(DecisionTreeClassifier(), {"max_depth": [1]}, factor=-1).fit(
            [[0], [1]] * 10, [0, 1] * 10)
