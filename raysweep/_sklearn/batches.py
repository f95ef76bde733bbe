"""``RayBatches``: scikit-learn's ``BaseSearchCV.fit`` with each batch of candidates evaluated
in parallel on Ray.

A scikit-learn search class says *which* candidates to evaluate in its ``_run_search``,
calling ``evaluate_candidates(candidates, cv, more_results, callback_ctx)`` once per batch
(successive halving: once per iteration, on growing resources). This mixin provides the
``fit`` around it, step for step what ``BaseSearchCV.fit`` does (scorers, routed metadata,
the callback tasks, the refit, the fitted attributes), except that a batch is one
``raysweep.run`` over the batch's candidates (trial ``i`` is candidate ``i``) whose objective
is ``CrossValidate``: scikit-learn's ``_fit_and_score`` on every split, on a Ray worker. So a
class that inherits a scikit-learn search class and this mixin keeps that class's signature,
validation, candidate choice and tie-breaking exactly.

The data and the splits of a batch go to the object store once; the fits' printed output,
warnings and callback messages come back with the results (``echo``).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import defaultdict
from inspect import signature
from typing import Any

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.metrics._scorer import _MultimetricScorer
from sklearn.model_selection import check_cv
from sklearn.model_selection._search import BaseSearchCV
from sklearn.model_selection._validation import (
    _insert_error_scores,
    _warn_or_raise_about_fit_failures,
)
from sklearn.utils import indexable
from sklearn.utils.validation import _check_method_params

from raysweep._sklearn.callbacks import SklearnCallbacks
from raysweep._sklearn.data import RayData, ship_code_by_value
from raysweep._sklearn.echo import driver_filters
from raysweep._sklearn.hooks import CandidateHooks
from raysweep._sklearn.objective import CrossValidate, candidate_rows
from raysweep.domains import Grid

_METRIC = "mean_test_score"


class _Listed:
    """The codec of a batch: a trial's config ``{"candidate": i}`` is candidate ``i``."""

    def __init__(self, candidates: list[dict[str, Any]]) -> None:
        self.candidates = candidates

    def decode(self, config: dict[str, Any]) -> dict[str, Any]:
        return self.candidates[config["candidate"]]


class RayBatches(BaseSearchCV):
    """``fit`` for scikit-learn search classes, with every batch of candidates on Ray."""

    def fit(self, X: Any, y: Any = None, **params: Any) -> Any:  # noqa: D102 - sklearn's
        scorers, refit_metric = self._get_scorers()
        X, y = indexable(X, y)
        params = _check_method_params(X, params=params)
        routed = self._get_routed_params_for_fit(params)
        callbacks = SklearnCallbacks(self)
        callbacks.begin(X, y, params.get("sample_weight"), refit=self.refit is not False)
        self._checked_cv_orig = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        self._check_input_parameters(X=X, y=y, split_params=routed.splitter.split)
        self.n_splits_ = self._checked_cv_orig.get_n_splits(X, y, **routed.splitter.split)
        base_estimator = clone(self.estimator)
        seen: dict[str, Any] = {"params": [], "out": [], "more": defaultdict(list),
                                "results": {}}

        def evaluate_candidates(candidate_params: Any, cv: Any = None,
                                more_results: dict | None = None,
                                callback_ctx: Any = None) -> dict:
            cv = cv or self._checked_cv_orig
            candidates = list(candidate_params)
            splits = [(np.asarray(train), np.asarray(test))
                      for train, test in cv.split(X, y, **routed.splitter.split)]
            if len(splits) != self.n_splits_:
                raise ValueError(f"cv.split and cv.get_n_splits return inconsistent results. "
                                 f"Expected {self.n_splits_} splits, got {len(splits)}")
            n_fits = len(candidates) * self.n_splits_
            if self.verbose > 0:
                print(f"Fitting {self.n_splits_} folds for each of {len(candidates)} "
                      f"candidates, totalling {n_fits} fits")
            contexts = None
            if callback_ctx is not None:
                contexts = [callback_ctx.subcontext(task_name="candidate-split-evaluation",
                                                    task_id=i) for i in range(n_fits)]
            out = self._evaluate_batch(base_estimator, candidates, (X, y, splits), routed,
                                       scorers, contexts if callbacks.active else None)
            if not out:
                raise ValueError("No fits were performed. Was the CV iterator empty? Were "
                                 "there no candidates?")
            _warn_or_raise_about_fit_failures(out, self.error_score)
            if callable(self.scoring):
                _insert_error_scores(out, self.error_score)
            seen["params"].extend(candidates)
            seen["out"].extend(out)
            for key, value in (more_results or {}).items():
                seen["more"][key].extend(value)
            seen["results"] = self._format_results(seen["params"], self.n_splits_,
                                                   seen["out"], seen["more"])
            return seen["results"]

        if "callback_ctx" in signature(self._run_search).parameters:
            self._run_search(evaluate_candidates, callback_ctx=callbacks.root)
        else:  # scikit-learn < 1.9, or a custom search
            self._run_search(evaluate_candidates)
        results = seen["results"]
        first_scores = seen["out"][0]["test_scores"]
        self.multimetric_ = isinstance(first_scores, dict)
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(first_scores)
            refit_metric = self.refit
        if self.refit or not self.multimetric_:
            self.best_index_ = self._select_best_index(self.refit, refit_metric, results)
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = results["params"][self.best_index_]
        if self.refit:
            self.best_estimator_ = clone(base_estimator).set_params(
                **clone(self.best_params_, safe=False))
            with callbacks.refit(self.best_estimator_):
                start = time.time()
                fit_args = (X,) if y is None else (X, y)
                self.best_estimator_.fit(*fit_args, **routed.estimator.fit)
                self.refit_time_ = time.time() - start
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_
        self.scorer_ = scorers._scorers if isinstance(scorers, _MultimetricScorer) else scorers
        self.cv_results_ = results
        callbacks.end()
        return self

    def _evaluate_batch(self, base_estimator: Any, candidates: list[dict[str, Any]],
                        data: tuple, routed: Any, scorers: Any,
                        contexts: list[Any] | None) -> list[dict[str, Any]]:
        """``_fit_and_score``'s records for every candidate and split (candidate-major), the
        candidates evaluated in parallel on Ray."""
        if not candidates or not data[2]:
            return []
        from raysweep.api import run
        from raysweep.execution.ray_executor import ensure_ray

        ensure_ray(None)
        ship_code_by_value(self.estimator, self.scoring, candidates, self.cv,
                           getattr(self, "_skl_callbacks", None))
        handle = RayData((*data, routed.estimator.fit, routed.scorer.score))
        codec = _Listed(candidates)
        guide = self.refit if isinstance(self.refit, str) else None
        objective = CrossValidate(
            handle, base_estimator, codec, scorers, metric=_METRIC, guide=guide,
            return_train_score=self.return_train_score, error_score=self.error_score,
            verbose=self.verbose, n_candidates=len(candidates), callback_contexts=contexts,
            caller=self if contexts else None, warning_filters=driver_filters())
        hooks = CandidateHooks(codec=codec, metric=_METRIC, total=len(candidates), verbose=0,
                               callables=[], raise_errors=self.error_score == "raise")
        n_jobs = self.n_jobs
        scratch = tempfile.mkdtemp(prefix="raysweep-searchcv-")
        try:
            experiment = run(objective, {"candidate": Grid(list(range(len(candidates))))},
                             metric=_METRIC, mode="max", search="grid", num_samples=1,
                             max_concurrent=n_jobs if n_jobs is not None and n_jobs > 0
                             else None, storage_path=scratch, verbose=0, callbacks=[hooks])
        finally:
            handle.release()
            shutil.rmtree(scratch, ignore_errors=True)
        return candidate_rows(sorted(experiment.trials, key=lambda t: t.trial_id),
                              self.n_splits_, error_score=self.error_score,
                              return_train_score=self.return_train_score)
