"""SearchCV on a real local Ray (the shared session, num_cpus=2)."""

from __future__ import annotations

import os

import cloudpickle
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from threadpoolctl import threadpool_limits

import raysweep as rs
from raysweep._sklearn.data import RayData
from raysweep.sklearn import SearchCV

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


def test_knn_k_1_to_30_on_digits_matches_grid_search_cv(digits):
    X, y = digits
    grid = {"n_neighbors": list(range(1, 31))}
    ours = SearchCV(KNeighborsClassifier(), grid, search="grid", cv=5).fit(X, y)
    # k-NN breaks distance ties depending on the OpenMP thread count, and Ray runs a 1-CPU
    # worker with one thread: compare with GridSearchCV under the same limit.
    with threadpool_limits(limits=1):
        theirs = GridSearchCV(KNeighborsClassifier(), grid, cv=5).fit(X, y)
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_index_ == theirs.best_index_
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]
    for key in ("mean_test_score", "std_test_score", *(f"split{i}_test_score" for i in range(5))):
        np.testing.assert_allclose(ours.cv_results_[key], theirs.cv_results_[key],
                                   rtol=0, atol=1e-12, err_msg=key)
    np.testing.assert_array_equal(ours.cv_results_["rank_test_score"],
                                  theirs.cv_results_["rank_test_score"])


def test_fit_data_travels_by_object_store_reference(ray_session):
    data = np.arange(2_000_000, dtype=np.float64)  # 16 MB
    handle = RayData((data, None))
    blob = cloudpickle.dumps(handle)
    assert len(blob) < 10_000  # a reference, not the data

    @ray_session.remote(num_cpus=0)
    def total(blob):
        return float(cloudpickle.loads(blob).get()[0].sum())

    assert ray_session.get(total.remote(blob), timeout=120) == float(data.sum())
    handle.release()
    assert handle._shared._pins == 0


def accuracy_and_pid(estimator, X, y):
    return {"accuracy": float(np.mean(estimator.predict(X) == y)), "pid": float(os.getpid())}


def test_early_stopping_on_ray_workers(digits):
    X, y = digits
    seen = []
    search = SearchCV(SGDClassifier(random_state=0), {"alpha": rs.loguniform(1e-5, 1.0)},
                      n_trials=8, scheduler="asha", max_iterations=4, cv=3, random_state=0,
                      scoring=accuracy_and_pid, refit="accuracy",
                      callbacks=[seen.append]).fit(X, y)
    iterations = search.cv_results_["training_iteration"]
    assert iterations.max() == 4 and len(seen) == 8
    assert search.best_score_ == max(search.cv_results_["mean_test_accuracy"])
    pids = set(search.cv_results_["mean_test_pid"])
    assert os.getpid() not in pids and 1 <= len(pids) <= 2  # two reused worker processes


def test_grid_and_randomized_aliases_are_drop_in_replacements():
    """Change the import, keep the code: scikit-learn's signatures, clone, same results."""
    from scipy import stats
    from sklearn import model_selection as ms
    from sklearn.base import clone
    from sklearn.datasets import load_iris
    from sklearn.svm import SVC

    from raysweep.sklearn import GridSearchCV as RsGrid
    from raysweep.sklearn import RandomizedSearchCV as RsRandom

    X, y = load_iris(return_X_y=True)
    grid = {"C": [0.1, 1, 10], "kernel": ["linear", "rbf"]}
    for ours_cls, theirs_cls, space in ((RsGrid, ms.GridSearchCV, grid),
                                        (RsRandom, ms.RandomizedSearchCV, grid)):
        ours_params = ours_cls(SVC(), space).get_params(deep=False)
        theirs_params = theirs_cls(SVC(), space).get_params(deep=False)
        assert {k: repr(v) for k, v in ours_params.items()} == \
            {k: repr(v) for k, v in theirs_params.items()}
    ours = RsGrid(SVC(), grid, cv=5, n_jobs=-1, return_train_score=True)
    ours = clone(ours).fit(X, y)
    theirs = ms.GridSearchCV(SVC(), grid, cv=5, return_train_score=True).fit(X, y)
    assert ours.best_params_ == theirs.best_params_
    assert set(ours.cv_results_) == set(theirs.cv_results_)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"],
                               theirs.cv_results_["mean_test_score"], rtol=0, atol=1e-12)
    assert ours.score(X, y) == theirs.score(X, y)

    randomized = RsRandom(SVC(), {"C": stats.loguniform(1e-2, 1e2), "kernel": ["rbf"]},
                          n_iter=4, n_jobs=1, random_state=0, cv=3)
    first = randomized.fit(X, y).cv_results_["params"]
    assert len(first) == 4
    assert clone(randomized).fit(X, y).cv_results_["params"] == first  # seeded
    with pytest.raises(ValueError, match="n_jobs == 0"):
        RsGrid(SVC(), grid, n_jobs=0).fit(X, y)
