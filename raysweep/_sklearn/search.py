"""``SearchCV``: a drop-in for ``GridSearchCV`` / ``RandomizedSearchCV`` that runs on raysweep."""

from __future__ import annotations

import inspect
import os
import shutil
import tempfile
import time
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.model_selection import check_cv
from sklearn.model_selection._search import BaseSearchCV
from sklearn.model_selection._validation import (
    _insert_error_scores,
    _warn_or_raise_about_fit_failures,
)
from sklearn.utils import indexable
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import _check_method_params

from raysweep._sklearn.callbacks import SklearnCallbacks
from raysweep._sklearn.data import LocalData, RayData, ship_code_by_value
from raysweep._sklearn.echo import driver_filters
from raysweep._sklearn.hooks import CandidateHooks
from raysweep._sklearn.objective import (
    CrossValidate,
    IncrementalCrossValidate,
    candidate_rows,
    fit_with_budget,
    incremental_strategy,
)
from raysweep._sklearn.plan import (
    SearchPlan,
    choose_scheduler,
    plan_search,
    seed_from,
    split_callbacks,
)
from raysweep._sklearn.space import check_parameter_names
from raysweep.callbacks import Callback
from raysweep.schedulers import Scheduler
from raysweep.search import Searcher


class SearchCV(BaseSearchCV):
    """Cross-validated hyperparameter search on raysweep: a drop-in for ``GridSearchCV``
    and ``RandomizedSearchCV``.

    Each candidate (one parameter setting, fitted and scored on every CV split) is a raysweep
    trial, so candidates run in parallel on Ray workers, any raysweep searcher can propose
    them, an early-stopping scheduler can cut the weak ones short, and an interrupted fit
    resumes. The fitted attributes are those of ``GridSearchCV``: ``cv_results_`` has the same
    keys, in the order candidates were proposed (for a grid, ``ParameterGrid`` order), and
    ``predict``, ``score``, ... delegate to ``best_estimator_``.

    Args:
        estimator: A scikit-learn estimator (or Pipeline) to tune.
        param_space: What ``GridSearchCV`` takes as ``param_grid`` (a dict, or a list of
            dicts, of lists of values), what ``RandomizedSearchCV`` takes as
            ``param_distributions`` (lists and ``scipy.stats`` distributions), or raysweep
            domains (``rs.loguniform(1e-3, 1e3)``). Pipeline names (``"svc__C"``) work.
        search: ``"grid"`` (every point of the grid, once; ``n_trials`` is not used; a
            distribution is a TypeError, as in ``GridSearchCV``),
            ``"random"`` (``n_trials`` draws; a space of lists is sampled without repeats,
            and searched exhaustively when it has at most ``n_trials`` points; over lists
            and ``scipy.stats`` distributions the draws are ``RandomizedSearchCV``'s, so the
            same ``random_state`` gives the same candidates in the same order), a
            model-based searcher name (``"tpe"``, ``"gp"``, ``"sobol"``, ...) or a
            ``raysweep.search`` object.
        n_trials: Candidates to evaluate (all searches but the grid).
        scheduler: None (every candidate is fully evaluated), or ``"asha"``,
            ``"hyperband"``, ``"median"`` (or a ``raysweep.schedulers`` object) to stop weak
            candidates early. Early stopping trains estimators step by step: ``partial_fit``
            epochs, or ``warm_start`` with ``n_estimators``/``max_iter`` grown to the
            candidate's value in ``max_iterations`` steps. A score is reported per step.
        scoring: As in ``GridSearchCV``: None (the estimator's ``score``), a scorer name,
            a callable, or a list/dict of them for multi-metric evaluation.
        cv: As in ``GridSearchCV``: None (5-fold), a number of folds, a splitter or an
            iterable of splits. Every candidate is evaluated on the same splits.
        refit: Refit the best candidate on all the data (``True``; with multi-metric
            scoring, the scorer name to choose by); ``False``; or a callable choosing the
            best index from ``cv_results_``. Searchers optimise the refit metric (with
            multi-metric scoring and no scorer name, the first scorer).
        return_train_score: Also score the training folds.
        error_score: Score of a failed fit (a number), or ``"raise"`` to stop the search
            and raise the fit's exception.
        max_concurrent: Candidates evaluated at once (default: every CPU of the Ray cluster).
        resources_per_trial: Resources of one candidate, e.g. ``{"cpu": 2}`` for an estimator
            with ``n_jobs=2``; default ``{"cpu": 1}``.
        random_state: Seeds the search (an int, a ``RandomState`` or None).
        verbose: 0 silent; 1 a progress line every few seconds; 2 a line per candidate.
        name: Experiment name; with ``storage_path`` (default ``~/raysweep_results`` when a
            name is given) the experiment is kept on disk. With neither, it lives in a
            temporary directory removed at the end of ``fit``.
        storage_path: Where experiments are kept.
        resume: Continue the interrupted fit of experiment ``name`` (finished candidates are
            kept; call ``fit`` with the same data). Under an early-stopping scheduler, a named
            experiment checkpoints each candidate's models after every step, so that
            unfinished candidates continue where they were.
        callbacks: Called as each candidate finishes: ``raysweep.Callback`` objects (they
            receive raysweep ``Trial`` records) and plain callables ``f(candidate)``, where
            ``candidate`` is a dict with ``trial_id``, ``params``, ``status``, the metric
            (``mean_test_score``), per-split ``test_scores``, ``fit_time``,
            ``training_iteration`` and ``error``. An exception in a callback stops the fit.
            scikit-learn's own callbacks (``set_callbacks``, scikit-learn >= 1.9) are called
            as ``GridSearchCV`` calls them (with ``scheduler=None``).
        max_iterations: Steps per candidate under an early-stopping scheduler (default: the
            scheduler's ``max_t``, else 10).
        executor: ``"ray"`` (default) or ``"inline"`` (one candidate at a time in this
            process; for debugging).

    What the fits print and warn on the workers is printed and re-issued (same warning
    category) in the caller's process as each candidate finishes. Fits and scorers run on
    copies in the workers' processes: side effects on the caller's objects (a list a scorer
    appends to, a registry, a ``RandomState`` it draws from) do not happen in the caller.

    Attributes:
        cv_results_: A dict of arrays, one entry per candidate (``pd.DataFrame`` ready). With
            an early-stopping scheduler it also has ``training_iteration``: the steps each
            candidate ran before it finished or was stopped.
        best_estimator_, best_params_, best_score_, best_index_, scorer_, n_splits_,
        refit_time_, multimetric_: As in ``GridSearchCV``. The best estimator is refit with
            the budget its candidate reached (the same number of ``partial_fit`` epochs, or
            ``n_estimators``/``max_iter`` at the value it was grown to).
        results_: The ``raysweep.Results`` of the run (per-trial table, report history).

    Example:
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.svm import SVC
        >>> from raysweep.sklearn import SearchCV
        >>> X, y = load_iris(return_X_y=True)
        >>> search = SearchCV(SVC(), {"C": [0.1, 1, 10], "kernel": ["linear", "rbf"]},
        ...                   search="grid", cv=5, executor="inline").fit(X, y)
        >>> search.best_params_
        {'C': 1, 'kernel': 'linear'}
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit"])],
        "param_space": [dict, list, tuple],
        "search": [str, Searcher],
        "n_trials": [Interval(Integral, 1, None, closed="left")],
        "scheduler": [str, Scheduler, None],
        "scoring": BaseSearchCV._parameter_constraints["scoring"],
        "cv": ["cv_object"],
        "refit": ["boolean", str, callable],
        "return_train_score": ["boolean"],
        "error_score": [StrOptions({"raise"}), Real],
        "max_concurrent": [Interval(Integral, 1, None, closed="left"), None],
        "resources_per_trial": [dict, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "name": [str, None],
        "storage_path": [str, os.PathLike, None],
        "resume": ["boolean"],
        "callbacks": [list, tuple, None],
        "max_iterations": [Interval(Integral, 1, None, closed="left"), None],
        "executor": [StrOptions({"ray", "inline"})],
    }
    #: What the budget of candidates is called in messages (``n_iter`` in the alias).
    _budget_name: ClassVar[str] = "n_trials"
    #: scikit-learn's verbose levels and formats, and no ``results_`` (the aliases).
    _sklearn_output: ClassVar[bool] = False

    def __init__(self, estimator: Any, param_space: Any, *, search: Any = "random",
                 n_trials: int = 10, scheduler: Any = None, scoring: Any = None, cv: Any = None,
                 refit: Any = True, return_train_score: bool = False,
                 error_score: Any = np.nan, max_concurrent: int | None = None,
                 resources_per_trial: dict[str, float] | None = None, random_state: Any = None,
                 verbose: int = 0, name: str | None = None,
                 storage_path: str | os.PathLike[str] | None = None, resume: bool = False,
                 callbacks: list[Any] | None = None, max_iterations: int | None = None,
                 executor: str = "ray") -> None:
        self.estimator = estimator
        self.param_space = param_space
        self.search = search
        self.n_trials = n_trials
        self.scheduler = scheduler
        self.scoring = scoring
        self.cv = cv
        self.refit = refit
        self.return_train_score = return_train_score
        self.error_score = error_score
        self.max_concurrent = max_concurrent
        self.resources_per_trial = resources_per_trial
        self.random_state = random_state
        self.verbose = verbose
        self.name = name
        self.storage_path = storage_path
        self.resume = resume
        self.callbacks = callbacks
        self.max_iterations = max_iterations
        self.executor = executor

    def _budget(self) -> int:
        """How many candidates to evaluate (the aliases read ``n_iter``)."""
        return self.n_trials

    def _concurrency(self) -> int | None:
        """How many candidates run at once (the aliases derive it from ``n_jobs``)."""
        return self.max_concurrent

    # ---------------------------------------------------------------------------- fit
    def fit(self, X: Any, y: Any = None, groups: Any = None, **fit_params: Any) -> SearchCV:
        """Evaluate the candidates, then refit the best one on all of ``X``.

        Args:
            X: Training data (array-like, sparse matrix or DataFrame).
            y: Targets, or None for unsupervised estimators.
            groups: Group labels for group-aware splitters (``GroupKFold``).
            **fit_params: Passed to the estimator's ``fit`` (sliced per split when they have
                one value per sample, e.g. ``sample_weight``).

        Returns:
            self
        """
        self._validate_params()
        self._check_space()
        callbacks = SklearnCallbacks(self)
        with callbacks.managed():
            return self._fit(X, y, groups, fit_params, callbacks)

    def _check_space(self) -> None:
        """Errors of an ill-formed ``param_space`` (the aliases raise scikit-learn's)."""

    def _fit(self, X: Any, y: Any, groups: Any, fit_params: dict[str, Any],
             callbacks: SklearnCallbacks) -> SearchCV:
        if self.resume and self.name is None:
            raise ValueError("resume=True needs the name= of the experiment to continue "
                             "(and its storage_path, if it was given)")
        scheduler, steps = choose_scheduler(self.scheduler, self.max_iterations)
        callables, raysweep_callbacks = split_callbacks(self.callbacks)
        scorers, refit_metric = self._scorers()
        names = list(getattr(scorers, "_scorers", None) or [])
        guide = self.refit if isinstance(self.refit, str) else (names[0] if names else None)
        metric = f"mean_test_{guide}" if names else "mean_test_score"
        X, y = indexable(X, y)
        params = dict(fit_params) if groups is None else {**fit_params, "groups": groups}
        params = _check_method_params(X, params=params)
        routed = self._get_routed_params_for_fit(params)
        callbacks.begin(X, y, params.get("sample_weight"), refit=self.refit is not False)
        if callbacks.active and scheduler is not None:
            raise ValueError("set_callbacks: scikit-learn's callbacks are called per fit of a "
                             "candidate on a split; an early-stopping scheduler trains step by "
                             "step instead, so use scheduler=None with callbacks")
        splits = self._splits(X, y, routed.splitter.split)
        base_estimator = clone(self.estimator)
        if scheduler is not None and incremental_strategy(base_estimator) is None:
            raise ValueError(
                f"scheduler={self.scheduler!r} stops candidates early, so the estimator must "
                "train step by step: it needs partial_fit, or warm_start with n_estimators or "
                f"max_iter (for a Pipeline, in its last step); {type(self.estimator).__name__} "
                "has neither. Use scheduler=None to evaluate every candidate fully.")
        plan = plan_search(self.param_space, self.search, self._budget(), scheduler,
                           self.random_state, self._budget_name)
        check_parameter_names(base_estimator, self.param_space)
        if self.verbose > 0:
            prefix = "" if self._sklearn_output else "[SearchCV] "
            print(f"{prefix}Fitting {self.n_splits_} folds for each of {plan.candidates} "
                  f"candidates, totalling {plan.candidates * self.n_splits_} fits", flush=True)
        contexts = callbacks.search_begin(plan.candidates, self.n_splits_)

        handle = self._share((X, y, splits, routed.estimator.fit, routed.scorer.score))
        common = {"metric": metric, "guide": guide, "error_score": self.error_score,
                  "return_train_score": self.return_train_score,
                  "warning_filters": driver_filters()}
        if scheduler is None:
            objective: Any = CrossValidate(
                handle, base_estimator, plan.codec, scorers, **common,
                verbose=self.verbose if self._sklearn_output else 0,
                n_candidates=plan.candidates if self._sklearn_output else None,
                callback_contexts=contexts, caller=self if contexts else None)
        else:
            classes = np.unique(y) if is_classifier(base_estimator) and y is not None else None
            objective = IncrementalCrossValidate(
                handle, base_estimator, plan.codec, scorers, max_iterations=steps,
                classes=classes, **common,
                checkpoint=bool(scheduler.pauses or scheduler.needs_checkpoints or self.name))
        hooks = CandidateHooks(codec=plan.codec, metric=metric, total=plan.candidates,
                               verbose=0 if self._sklearn_output else self.verbose,
                               callables=callables,
                               raise_errors=self.error_score == "raise")
        try:
            experiment = self._run(objective, plan, metric, scheduler,
                                   [hooks, *raysweep_callbacks])
        finally:
            handle.release()

        trials = sorted(experiment.trials, key=lambda t: t.trial_id)
        results = self._cv_results(trials, plan.codec, with_iterations=scheduler is not None)
        callbacks.search_end()
        self._select_best(results, refit_metric)
        if self.refit:
            best = clone(base_estimator).set_params(**clone(self.best_params_, safe=False))
            with callbacks.refit(best):
                start = time.time()
                fit_with_budget(best, X, y, routed.estimator.fit,
                                incremental_strategy(best) if scheduler is not None else None,
                                trials[self.best_index_].iteration, steps)
                self.refit_time_ = time.time() - start
            self.best_estimator_ = best
            if hasattr(best, "feature_names_in_"):
                self.feature_names_in_ = best.feature_names_in_
        self.scorer_ = getattr(scorers, "_scorers", scorers) if names else scorers
        self.cv_results_ = results
        if self._sklearn_output:
            self._raysweep_results = experiment  # scikit-learn's attributes only
        else:
            self.results_ = experiment
        callbacks.end()
        return self


    # ---------------------------------------------------------------------- helpers
    def _scorers(self) -> tuple[Any, Any]:
        """``BaseSearchCV._get_scorers`` (older scikit-learn releases want a
        ``convert_multimetric`` flag)."""
        if "convert_multimetric" in inspect.signature(self._get_scorers).parameters:
            return self._get_scorers(convert_multimetric=True)
        return self._get_scorers()

    def _splits(self, X: Any, y: Any, split_params: dict[str, Any]) -> list[tuple]:
        """The CV splits every candidate is evaluated on (computed once, in the driver)."""
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        n_splits = cv.get_n_splits(X, y, **split_params)
        splits = [(np.asarray(train), np.asarray(test))
                  for train, test in cv.split(X, y, **split_params)]
        if not splits:
            raise ValueError("No fits were performed. Was the CV iterator empty? Were there "
                             f"no candidates? (cv={self.cv!r} gave no splits)")
        if len(splits) != n_splits:
            raise ValueError(f"cv.split and cv.get_n_splits return inconsistent results. "
                             f"Expected {n_splits} splits, got {len(splits)}")
        self.n_splits_ = n_splits
        return splits

    def _share(self, data: Any) -> Any:
        """The data handle the objective carries: by object-store reference on Ray."""
        if self.executor != "ray":
            return LocalData(data)
        from raysweep.execution.ray_executor import ensure_ray

        ensure_ray(None)
        ship_code_by_value(self.estimator, self.scoring, self.param_space, self.cv)
        return RayData(data)

    def _run(self, objective: Any, plan: SearchPlan, metric: str, scheduler: Any,
             callbacks: list[Callback]) -> Any:
        from raysweep.api import run

        name, storage_path, scratch = self.name, self.storage_path, None
        if name is None and storage_path is None:
            scratch = storage_path = tempfile.mkdtemp(prefix="raysweep-searchcv-")
        try:
            return run(objective, plan.spec, metric=metric, mode="max",
                       num_samples=plan.num_samples, search=plan.search, scheduler=scheduler,
                       seed=seed_from(self.random_state), max_concurrent=self._concurrency(),
                       resources_per_trial=self.resources_per_trial, name=name,
                       storage_path=storage_path, resume=self.resume, verbose=0,
                       executor=self.executor, callbacks=callbacks)
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)

    def _cv_results(self, trials: list, codec: Any, *, with_iterations: bool) -> dict:
        """``cv_results_`` from the trials, in trial order (the order they were proposed)."""
        if not trials:
            raise ValueError("No fits were performed: the search proposed no candidates")
        out = candidate_rows(trials, self.n_splits_, error_score=self.error_score,
                             return_train_score=self.return_train_score)
        _warn_or_raise_about_fit_failures(out, self.error_score)
        _insert_error_scores(out, self.error_score)
        self.multimetric_ = isinstance(out[0]["test_scores"], dict)
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(out[0]["test_scores"])
        more = {"training_iteration": [t.iteration for t in trials]} if with_iterations else None
        return self._format_results([codec.decode(t.config) for t in trials], self.n_splits_,
                                    out, more)

    def _select_best(self, results: dict, refit_metric: Any) -> None:
        """``best_index_``, ``best_score_`` and ``best_params_``, as GridSearchCV sets them."""
        if callable(self.scoring) and self.multimetric_:
            refit_metric = self.refit
        if self.refit or not self.multimetric_:
            self.best_index_ = int(self._select_best_index(self.refit, refit_metric, results))
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = results["params"][self.best_index_]
