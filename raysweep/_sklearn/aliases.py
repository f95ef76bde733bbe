"""``GridSearchCV`` and ``RandomizedSearchCV`` with scikit-learn's own signatures, so that
changing the import is the whole migration. Both are ``SearchCV`` with fixed settings: the
grid searches every point once, the randomized one draws ``n_iter`` candidates; ``n_jobs``
caps the candidates evaluated at once (None or negative: every CPU of the Ray cluster) and
``pre_dispatch`` is accepted and ignored (raysweep dispatches one candidate per free worker).
Through these names the rest is scikit-learn's too: the errors of an ill-formed grid, the
``verbose`` levels and lines, the callback hooks, and no fitted attribute of raysweep's own
(``SearchCV`` has ``results_``).
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.model_selection import ParameterGrid, ParameterSampler

from raysweep._sklearn.search import SearchCV

_SHARED = {key: value for key, value in SearchCV._parameter_constraints.items()
           if key in ("estimator", "scoring", "cv", "refit", "return_train_score",
                      "error_score", "verbose")}
_DISPATCH = {"n_jobs": [Integral, None], "pre_dispatch": [str, Integral, None]}


class _Fixed(SearchCV):
    """What ``SearchCV.fit`` reads that these signatures leave out (class defaults)."""

    scheduler = None
    resources_per_trial = None
    name = None
    storage_path = None
    resume = False
    callbacks = None
    max_iterations = None
    executor = "ray"
    _sklearn_output = True

    def _concurrency(self) -> int | None:
        n_jobs = self.n_jobs
        return int(n_jobs) if isinstance(n_jobs, Integral) and int(n_jobs) > 0 else None

    def _validate_params(self) -> None:
        if self.n_jobs == 0:
            raise ValueError("n_jobs == 0 has no meaning; use None, a positive number, or -1 "
                             "for every CPU")
        super()._validate_params()


class GridSearchCV(_Fixed):
    """``sklearn.model_selection.GridSearchCV`` on raysweep (same arguments, same fitted
    attributes): every point of ``param_grid`` is one trial, evaluated in parallel on Ray.

    Example:
        >>> from raysweep.sklearn import GridSearchCV   # was: from sklearn.model_selection
        >>> search = GridSearchCV(SVC(), {"C": [0.1, 1, 10]}, cv=5)  # doctest: +SKIP
    """

    _parameter_constraints: ClassVar[dict] = {**_SHARED, **_DISPATCH,
                                              "param_grid": [dict, list]}
    search = "grid"
    n_trials = 1
    random_state = None

    def __init__(self, estimator: Any, param_grid: Any, *, scoring: Any = None,
                 n_jobs: int | None = None, refit: Any = True, cv: Any = None,
                 verbose: int = 0, pre_dispatch: Any = "2*n_jobs", error_score: Any = np.nan,
                 return_train_score: bool = False) -> None:
        self.estimator = estimator
        self.param_grid = param_grid
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.refit = refit
        self.cv = cv
        self.verbose = verbose
        self.pre_dispatch = pre_dispatch
        self.error_score = error_score
        self.return_train_score = return_train_score

    @property
    def param_space(self) -> Any:
        return self.param_grid

    def _check_space(self) -> None:
        ParameterGrid(self.param_grid)  # scikit-learn's own errors, types and messages


class RandomizedSearchCV(_Fixed):
    """``sklearn.model_selection.RandomizedSearchCV`` on raysweep (same arguments, same
    fitted attributes): ``n_iter`` candidates drawn from ``param_distributions`` (lists and
    ``scipy.stats`` distributions; a space of lists only is drawn without repeats).

    Example:
        >>> from raysweep.sklearn import RandomizedSearchCV
        >>> search = RandomizedSearchCV(SVC(), {"C": stats.loguniform(1e-2, 1e2)},
        ...                             n_iter=20, random_state=0)  # doctest: +SKIP
    """

    _parameter_constraints: ClassVar[dict] = {
        **_SHARED, **_DISPATCH, "param_distributions": [dict, list],
        "n_iter": SearchCV._parameter_constraints["n_trials"],
        "random_state": SearchCV._parameter_constraints["random_state"]}
    _budget_name: ClassVar[str] = "n_iter"
    search = "random"

    def __init__(self, estimator: Any, param_distributions: Any, *, n_iter: int = 10,
                 scoring: Any = None, n_jobs: int | None = None, refit: Any = True,
                 cv: Any = None, verbose: int = 0, pre_dispatch: Any = "2*n_jobs",
                 random_state: Any = None, error_score: Any = np.nan,
                 return_train_score: bool = False) -> None:
        self.estimator = estimator
        self.param_distributions = param_distributions
        self.n_iter = n_iter
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.refit = refit
        self.cv = cv
        self.verbose = verbose
        self.pre_dispatch = pre_dispatch
        self.random_state = random_state
        self.error_score = error_score
        self.return_train_score = return_train_score

    @property
    def param_space(self) -> Any:
        return self.param_distributions

    def _check_space(self) -> None:
        ParameterSampler(self.param_distributions, self.n_iter)  # scikit-learn's errors

    def _budget(self) -> int:
        return self.n_iter
