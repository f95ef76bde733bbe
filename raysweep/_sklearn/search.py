"""``SearchCV``: a drop-in for ``GridSearchCV`` / ``RandomizedSearchCV`` that runs on raysweep."""

from __future__ import annotations

import inspect
import math
import os
import shutil
import tempfile
import time
import warnings
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
from sklearn.utils import check_random_state, indexable
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import _check_method_params

from raysweep._sklearn.data import LocalData, RayData, ship_code_by_value
from raysweep._sklearn.hooks import CandidateHooks
from raysweep._sklearn.objective import (
    RAISED_TEXT,
    CrossValidate,
    IncrementalCrossValidate,
    growth_schedule,
    incremental_strategy,
    reraise,
    unpack,
)
from raysweep._sklearn.space import GridSample, build_space
from raysweep.callbacks import Callback
from raysweep.errors import TrialError
from raysweep.schedulers import Scheduler, make_scheduler
from raysweep.search import Searcher, make_searcher
from raysweep.space import Space
from raysweep.trial import TrialStatus

_DEFAULT_ITERATIONS = 10


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
        search: ``"grid"`` (every point of the grid, once; ``n_trials`` is not used),
            ``"random"`` (``n_trials`` draws; a space of lists is sampled without repeats,
            and searched exhaustively when it has at most ``n_trials`` points), a
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
        max_iterations: Steps per candidate under an early-stopping scheduler (default: the
            scheduler's ``max_t``, else 10).
        executor: ``"ray"`` (default) or ``"inline"`` (one candidate at a time in this
            process; for debugging).

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
        if self.resume and self.name is None:
            raise ValueError("resume=True needs the name= of the experiment to continue "
                             "(and its storage_path, if it was given)")
        scheduler, steps = self._make_scheduler()
        callables, raysweep_callbacks = self._split_callbacks()
        scorers, refit_metric = self._get_scorers()
        names = list(getattr(scorers, "_scorers", None) or [])
        guide = self.refit if isinstance(self.refit, str) else (names[0] if names else None)
        metric = f"mean_test_{guide}" if names else "mean_test_score"

        X, y = indexable(X, y)
        params = dict(fit_params)
        if groups is not None:
            params["groups"] = groups
        params = _check_method_params(X, params=params)
        routed = self._get_routed_params_for_fit(params)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        n_splits = cv.get_n_splits(X, y, **routed.splitter.split)
        splits = [(np.asarray(train), np.asarray(test))
                  for train, test in cv.split(X, y, **routed.splitter.split)]
        if len(splits) != n_splits:
            raise ValueError(f"cv.split and cv.get_n_splits return inconsistent results. "
                             f"Expected {n_splits} splits, got {len(splits)}")
        self.n_splits_ = n_splits
        base_estimator = clone(self.estimator)
        if scheduler is not None and incremental_strategy(base_estimator) is None:
            raise ValueError(
                f"scheduler={self.scheduler!r} stops candidates early, so the estimator must "
                "train step by step: it needs partial_fit, or warm_start with n_estimators or "
                f"max_iter (for a Pipeline, in its last step); {type(self.estimator).__name__} "
                "has neither. Use scheduler=None to evaluate every candidate fully.")

        spec, codec, search, num_samples, total = self._plan_search(scheduler)
        if self.verbose > 0:
            print(f"[SearchCV] Fitting {n_splits} folds for each of {total} candidates, "
                  f"totalling {total * n_splits} fits", flush=True)

        data = (X, y, splits, routed.estimator.fit, routed.scorer.score)
        handle = self._share(data)
        common = {"metric": metric, "guide": guide, "error_score": self.error_score,
                  "return_train_score": self.return_train_score}
        if scheduler is None:
            objective: Any = CrossValidate(handle, base_estimator, codec, scorers, **common)
        else:
            classes = np.unique(y) if is_classifier(base_estimator) and y is not None else None
            objective = IncrementalCrossValidate(
                handle, base_estimator, codec, scorers, max_iterations=steps, classes=classes,
                checkpoint=bool(scheduler.pauses or scheduler.needs_checkpoints or self.name),
                **common)
        hooks = CandidateHooks(codec=codec, metric=metric, total=total, verbose=self.verbose,
                               callables=callables, raise_errors=self.error_score == "raise")
        experiment = self._run(objective, spec, metric, search, scheduler, num_samples,
                               [hooks, *raysweep_callbacks], handle)

        trials = sorted(experiment.trials, key=lambda t: t.trial_id)
        if not trials:
            raise ValueError("No fits were performed: the search proposed no candidates")
        out: list[dict[str, Any]] = []
        for trial in trials:
            result = trial.last_result or {}
            if RAISED_TEXT in result:
                reraise(result, trial.trial_id)
            if trial.status is TrialStatus.ERROR and self.error_score == "raise":
                raise TrialError(f"candidate {trial.trial_id} failed (error_score='raise'):\n"
                                 f"{trial.error}")
            failure = trial.error if trial.status is TrialStatus.ERROR else None
            out.extend(unpack(result, n_splits, return_train_score=self.return_train_score,
                              error_score=self.error_score, failure=failure))
        _warn_or_raise_about_fit_failures(out, self.error_score)
        _insert_error_scores(out, self.error_score)
        candidate_params = [codec.decode(trial.config) for trial in trials]
        more = {"training_iteration": [t.iteration for t in trials]} if scheduler else None
        results = self._format_results(candidate_params, n_splits, out, more)

        first_test_score = out[0]["test_scores"]
        self.multimetric_ = isinstance(first_test_score, dict)
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(first_test_score)
            refit_metric = self.refit
        if self.refit or not self.multimetric_:
            self.best_index_ = int(self._select_best_index(self.refit, refit_metric, results))
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = results["params"][self.best_index_]
        if self.refit:
            self._refit(base_estimator, X, y, routed.estimator.fit, trials[self.best_index_],
                        scheduler, steps)
        self.scorer_ = getattr(scorers, "_scorers", scorers) if names else scorers
        self.cv_results_ = results
        self.results_ = experiment
        return self

    # ---------------------------------------------------------------------- helpers
    def _make_scheduler(self) -> tuple[Scheduler | None, int]:
        """The raysweep scheduler (None for full evaluation) and the steps per candidate."""
        spec = self.scheduler
        if spec is None or (isinstance(spec, str) and spec.lower() == "fifo"):
            return None, 0
        from raysweep import schedulers

        key = spec.lower() if isinstance(spec, str) else None
        if key is not None:
            steps = self.max_iterations or _DEFAULT_ITERATIONS
            if key == "asha":
                return schedulers.ASHA(max_t=steps, grace_period=1), steps
            if key in ("hyperband", "bohb"):
                cls = schedulers.Hyperband if key == "hyperband" else schedulers.BOHB
                return cls(max_t=steps), steps
            scheduler = make_scheduler(key)
        else:
            scheduler = make_scheduler(spec)
        if isinstance(scheduler, schedulers.FIFO):
            return None, 0
        steps = self.max_iterations
        if steps is None:
            max_t = getattr(scheduler, "max_t", None)
            by_iteration = getattr(scheduler, "time_attr", "training_iteration") == \
                "training_iteration"
            steps = math.ceil(max_t) if max_t and by_iteration else _DEFAULT_ITERATIONS
        return scheduler, steps

    def _split_callbacks(self) -> tuple[list[Any], list[Callback]]:
        callables, objects = [], []
        for index, callback in enumerate(self.callbacks or []):
            if isinstance(callback, Callback):
                objects.append(callback)
            elif callable(callback):
                callables.append(callback)
            else:
                raise TypeError(f"callbacks[{index}] must be a raysweep.Callback or a callable "
                                f"f(candidate), got {type(callback).__name__}")
        return callables, objects

    def _plan_search(self, scheduler: Scheduler | None):
        """``(spec, codec, search, num_samples, candidates)`` for ``raysweep.run``."""
        search = self.search
        if isinstance(search, str):
            key = search.lower()
            if key not in ("grid", "random"):
                make_searcher(key)  # an unknown name fails here, listing the known ones
        else:
            key = None
        if key == "random" and scheduler is not None and scheduler.make_searcher() is not None:
            spec, codec, _ = build_space(self.param_space, grid=False)
            return spec, codec, None, self.n_trials, self.n_trials  # e.g. BOHB's own
        if key == "grid" or (key is None and search.supports_grid):
            spec, codec, _ = build_space(self.param_space, grid=True)
            return spec, codec, search, 1, Space(spec).grid_size
        if key == "random":
            spec, codec, finite = build_space(self.param_space, grid=True)
            if finite:
                size = Space(spec).grid_size
                if size <= self.n_trials:
                    if size < self.n_trials:
                        warnings.warn(f"The total space of parameters {size} is smaller than "
                                      f"n_trials={self.n_trials}. Running {size} candidates. "
                                      "For exhaustive searches, use search='grid'.",
                                      UserWarning, stacklevel=3)
                    return spec, codec, "grid", 1, size
                return spec, codec, GridSample(self.n_trials), 1, self.n_trials
        spec, codec, _ = build_space(self.param_space, grid=False)
        return spec, codec, search, self.n_trials, self.n_trials

    def _share(self, data: Any) -> Any:
        if self.executor != "ray":
            return LocalData(data)
        from raysweep.execution.ray_executor import ensure_ray

        ensure_ray(None)
        ship_code_by_value(self.estimator, self.scoring, self.param_space, self.cv)
        return RayData(data)

    def _seed(self) -> int | None:
        if self.random_state is None:
            return None
        if isinstance(self.random_state, Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _run(self, objective, spec, metric, search, scheduler, num_samples, callbacks, handle):
        from raysweep.api import run

        name, storage_path, scratch = self.name, self.storage_path, None
        if name is None and storage_path is None:
            scratch = storage_path = tempfile.mkdtemp(prefix="raysweep-searchcv-")
        try:
            return run(objective, spec, metric=metric, mode="max", num_samples=num_samples,
                       search=search, scheduler=scheduler, seed=self._seed(),
                       max_concurrent=self.max_concurrent,
                       resources_per_trial=self.resources_per_trial, name=name,
                       storage_path=storage_path, resume=self.resume, verbose=0,
                       executor=self.executor, callbacks=callbacks)
        finally:
            handle.release()
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)

    def _refit(self, base_estimator, X, y, fit_params, best_trial, scheduler, steps) -> None:
        """Fit the best candidate on all the data, with the budget it was evaluated with."""
        best = clone(base_estimator).set_params(**clone(self.best_params_, safe=False))
        strategy = incremental_strategy(best) if scheduler is not None else None
        reached = best_trial.iteration
        start = time.time()
        if strategy is not None and strategy.kind == "partial_fit" and reached > 0:
            classes = None
            if is_classifier(best) and y is not None and \
                    "classes" in inspect.signature(best.partial_fit).parameters:
                classes = np.unique(y)
            for epoch in range(reached):
                extra = {"classes": classes} if epoch == 0 and classes is not None else {}
                args = (X,) if y is None else (X, y)
                best.partial_fit(*args, **fit_params, **extra)
        else:
            if strategy is not None and strategy.kind == "warm_start" and reached > 0:
                target = best.get_params()[strategy.grow]
                schedule = growth_schedule(target, steps, strategy.grow)
                best.set_params(**{strategy.grow: schedule[min(reached, len(schedule)) - 1]})
            if y is None:
                best.fit(X, **fit_params)
            else:
                best.fit(X, y, **fit_params)
        self.refit_time_ = time.time() - start
        self.best_estimator_ = best
        if hasattr(best, "feature_names_in_"):
            self.feature_names_in_ = best.feature_names_in_
