"""scikit-learn integration: ``SearchCV``, a drop-in for ``GridSearchCV`` and
``RandomizedSearchCV`` that evaluates candidates in parallel on raysweep, and thin
``GridSearchCV``/``RandomizedSearchCV`` with scikit-learn's exact signatures, and
scikit-learn's successive halving (``HalvingGridSearchCV``, ``HalvingRandomSearchCV``) with
each iteration's candidates in parallel on Ray.

Example:
    >>> from sklearn.svm import SVC
    >>> from raysweep.sklearn import SearchCV
    >>> search = SearchCV(SVC(), {"C": [0.1, 1, 10], "gamma": ["scale", 0.01]},
    ...                   search="grid", cv=5)
    >>> search.fit(X, y)  # doctest: +SKIP
    >>> search.best_params_, search.cv_results_["mean_test_score"]  # doctest: +SKIP
"""

from __future__ import annotations

from raysweep._sklearn.aliases import GridSearchCV, RandomizedSearchCV
from raysweep._sklearn.halving import HalvingGridSearchCV, HalvingRandomSearchCV
from raysweep._sklearn.search import SearchCV

__all__ = ["GridSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV",
           "RandomizedSearchCV", "SearchCV"]
