"""What scikit-learn users see through the GridSearchCV/RandomizedSearchCV aliases on Ray:
warnings raised in fits on the workers, scikit-learn's verbose lines, its callbacks."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from raysweep.sklearn import GridSearchCV, SearchCV

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_session")]


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=120, n_features=20, random_state=0)


def test_a_warning_in_a_fit_on_a_worker_is_reissued_with_its_category(data):
    X, y = data
    search = GridSearchCV(LogisticRegression(max_iter=1), {"C": [1.0, 10.0]}, cv=2)
    with pytest.warns(ConvergenceWarning):
        search.fit(X, y)
    with warnings.catch_warnings():  # -W error: the warning stops the fit (error_score)
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ValueError, match="All the 4 fits failed"):
            GridSearchCV(LogisticRegression(max_iter=1), {"C": [1.0, 10.0]}, cv=2).fit(X, y)


def test_verbose_prints_scikit_learns_lines_in_the_callers_process(data, capsys):
    X, y = data
    GridSearchCV(LinearSVC(), {"C": [0.1, 1.0]}, cv=3, verbose=3,
                 return_train_score=True).fit(X, y)
    out = capsys.readouterr().out
    assert "Fitting 3 folds for each of 2 candidates, totalling 6 fits" in out
    assert len(re.findall(r"\[CV \d/3\] END \.*C=\d\.\d;, score=\(train=[\d.]+, test=[\d.]+\)",
                          out)) == 6
    assert "[SearchCV]" not in out


def test_callbacks_get_scikit_learns_hook_counts(data):
    pytest.importorskip("sklearn.callback")
    from sklearn.callback.tests._utils import RecordingCallback

    X, y = data
    callback = RecordingCallback()
    search = GridSearchCV(LinearSVC(), {"C": [0.1, 1.0, 10.0]}, cv=2).set_callbacks(callback)
    search.fit(X, y)
    # root + search + refit + 3 candidates x 2 splits, each begun and ended once
    assert callback.count_hooks("setup") == callback.count_hooks("teardown") == 1
    assert callback.count_hooks("on_fit_task_begin") == 9
    assert callback.count_hooks("on_fit_task_end") == 9
    names = {entry["context"].task_name for entry in callback.record}
    assert {"search", "candidate-split-evaluation", "refit-with-best-params"} <= names


def test_callbacks_with_an_early_stopping_scheduler_are_refused(data):
    pytest.importorskip("sklearn.callback")
    from sklearn.callback.tests._utils import RecordingCallback
    from sklearn.linear_model import SGDClassifier

    X, y = data
    search = SearchCV(SGDClassifier(), {"alpha": [1e-4, 1e-3]}, scheduler="asha",
                      n_trials=2).set_callbacks(RecordingCallback())
    with pytest.raises(ValueError, match="set_callbacks.*scheduler=None"):
        search.fit(X, y)


def test_the_aliases_have_scikit_learns_fitted_attributes_only(data):
    X, y = data
    search = GridSearchCV(LinearSVC(), {"C": [0.1, 1.0]}, cv=2).fit(X, y)
    assert not hasattr(search, "results_")
    assert np.isfinite(search.best_score_)
