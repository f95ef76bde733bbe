"""One candidate's cross-validation: the objective ``SearchCV`` hands to ``raysweep.run``.

``CrossValidate`` fits and scores a candidate on every split with scikit-learn's own
``_fit_and_score`` (what ``GridSearchCV`` runs), so scores, timings, ``error_score`` handling
and fit-parameter slicing are scikit-learn's. ``IncrementalCrossValidate`` trains step by
step for the early-stopping schedulers (``partial_fit`` epochs, or ``warm_start`` with a
growing ``n_estimators``/``max_iter``) and reports after every step.

A result is plain JSON: the guiding metric (``mean_test_score``, or ``mean_test_<refit>``
for multi-metric scoring) plus per-split lists; ``unpack`` turns it back into the per-split
records scikit-learn's ``_format_results`` expects.
"""

from __future__ import annotations

import base64
import inspect
import math
import numbers
import time
import traceback
from dataclasses import dataclass
from typing import Any

import cloudpickle
import numpy as np
from sklearn import config_context, get_config
from sklearn.base import clone, is_classifier
from sklearn.model_selection._validation import _fit_and_score, _score
from sklearn.pipeline import Pipeline
from sklearn.utils.metaestimators import _safe_split
from sklearn.utils.validation import _check_method_params

from raysweep._sklearn.echo import WORKER_OUTPUT, Capture
from raysweep.errors import TrialError
from raysweep.session import get_checkpoint, get_trial_id, report
from raysweep.trial import TrialStatus

#: Result keys that carry an exception to re-raise in the driver (``error_score="raise"``).
RAISED, RAISED_TEXT = "raised_exception", "raised_traceback"

_FIT_AND_SCORE_ARGS = frozenset(inspect.signature(_fit_and_score).parameters)


@dataclass(frozen=True)
class Strategy:
    """How an estimator is trained step by step.

    ``kind`` is ``"partial_fit"`` (one pass over the training fold per step) or
    ``"warm_start"`` (``grow`` is raised step by step to its final value, ``warm_start``
    set through the parameter named ``warm``); both names are ``""`` for ``partial_fit``.
    """

    kind: str
    warm: str = ""
    grow: str = ""


def incremental_strategy(estimator: Any, prefix: str = "") -> Strategy | None:
    """The way to train ``estimator`` incrementally, or None when it has none."""
    if not prefix and hasattr(estimator, "partial_fit"):
        return Strategy("partial_fit")
    if isinstance(estimator, Pipeline):
        name, final = estimator.steps[-1]
        if final is None or isinstance(final, str):
            return None
        return incremental_strategy(final, f"{prefix}{name}__")
    params = estimator.get_params(deep=False)
    if "warm_start" in params:
        for grow in ("n_estimators", "max_iter"):
            if grow in params:
                return Strategy("warm_start", f"{prefix}warm_start", f"{prefix}{grow}")
    return None


def growth_schedule(target: Any, steps: int, name: str) -> list[int]:
    """The values ``name`` takes step by step on its way to ``target`` (distinct, rising)."""
    if isinstance(target, bool) or not isinstance(target, numbers.Integral):
        raise TypeError(f"{name} must be an int to grow it step by step, got {target!r}")
    if target < 1:
        raise ValueError(f"{name} must be >= 1 to grow it step by step, got {target!r}")
    return sorted({max(1, math.ceil(int(target) * i / steps)) for i in range(1, steps + 1)})


def _call_fit_and_score(**kwargs: Any) -> dict[str, Any]:
    # arguments this scikit-learn's _fit_and_score lacks (score_params < 1.4, callbacks < 1.9)
    return _fit_and_score(**{k: v for k, v in kwargs.items() if k in _FIT_AND_SCORE_ARGS})


def _number(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _number(v) for k, v in value.items()}
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def raised(exc: BaseException, metric: str) -> dict[str, Any]:
    """A result that makes the driver re-raise ``exc`` (``error_score="raise"``)."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        blob = base64.b64encode(cloudpickle.dumps(exc)).decode("ascii")
    except Exception:  # noqa: BLE001 - unpicklable exception: the driver raises the text
        blob = None
    return {metric: float("nan"), RAISED: blob, RAISED_TEXT: text}


def reraise(result: dict[str, Any], trial_id: str) -> None:
    """Raise the exception a worker sent back under ``error_score="raise"``."""
    text = result.get(RAISED_TEXT) or ""
    blob = result.get(RAISED)
    exc: BaseException | None = None
    if blob:
        try:
            exc = cloudpickle.loads(base64.b64decode(blob))
        except Exception:  # noqa: BLE001 - e.g. its class is not importable here
            exc = None
    if not isinstance(exc, BaseException):  # it could not be rebuilt: raise its traceback
        raise TrialError(
            f"a fit failed (error_score='raise') in trial {trial_id}:\n{text}")
    if hasattr(exc, "add_note"):
        exc.add_note(f"raised on a raysweep worker (trial {trial_id}); worker traceback:\n{text}")
    raise exc


class _CVBase:
    """What both objectives share: the data handle and how results are packed.

    What the fits print and warn is captured on the worker and travels in each result
    (``echo``). ``verbose`` is passed to ``_fit_and_score`` (its ``[CV i/k] END ...`` lines);
    ``n_candidates`` and ``callback_contexts`` (one scikit-learn callback context per
    candidate and split, made in the driver) are for a search whose trials are its
    candidates in order (trial ``i`` is candidate ``i``).
    """

    def __init__(self, data: Any, estimator: Any, codec: Any, scorer: Any, *, metric: str,
                 guide: str | None, return_train_score: bool, error_score: Any,
                 verbose: int = 0, n_candidates: int | None = None,
                 callback_contexts: list[Any] | None = None, caller: Any = None,
                 warning_filters: list[tuple] | None = None) -> None:
        self.data = data
        self.estimator = estimator
        self.codec = codec
        self.scorer = scorer
        self.metric = metric
        self.guide = guide
        self.return_train_score = return_train_score
        self.error_score = error_score
        # scikit-learn's global configuration (set_config / config_context: transform_output,
        # metadata routing, ...) is thread-local: trials run elsewhere, so it travels along
        self.sklearn_config = get_config()
        self.verbose = verbose
        self.n_candidates = n_candidates
        self.callback_contexts = callback_contexts
        self.caller = caller
        self.warning_filters = warning_filters
        self._capture: Capture | None = None

    def __call__(self, config: dict[str, Any]) -> Any:
        with config_context(**self.sklearn_config), Capture(self.warning_filters) as capture:
            self._capture = capture
            try:
                return self.evaluate(config)
            finally:
                self._capture = None

    def _progress(self, split: int, n_splits: int) -> dict[str, Any]:
        """``_fit_and_score``'s progress and callback arguments for one split."""
        kwargs: dict[str, Any] = {"split_progress": (split, n_splits)}
        if self.n_candidates is not None or self.callback_contexts is not None:
            index = int(get_trial_id())
            if self.n_candidates is not None:
                kwargs["candidate_progress"] = (index, self.n_candidates)
            if self.callback_contexts is not None:
                kwargs["callback_ctx"] = self.callback_contexts[index * n_splits + split]
                kwargs["caller"] = self.caller
        return kwargs

    def evaluate(self, config: dict[str, Any]) -> Any:
        """Evaluate one candidate (under the driver's scikit-learn configuration)."""
        raise NotImplementedError

    def _guiding(self, scores: Any) -> float:
        if isinstance(scores, dict):
            key = self.guide if self.guide in scores else next(iter(scores), None)
            scores = scores.get(key, float("nan")) if key is not None else float("nan")
        try:
            return float(scores)
        except (TypeError, ValueError):
            return float("nan")

    def pack(self, outs: list[dict[str, Any]]) -> dict[str, Any]:
        """One result from the per-split records of ``_fit_and_score``."""
        test = [_number(o["test_scores"]) for o in outs]
        guiding = [self._guiding(s) for s in test]
        result: dict[str, Any] = {
            self.metric: float(np.mean(guiding)) if guiding else float("nan"),
            "test_scores": test,
            "fit_time": [float(o["fit_time"]) for o in outs],
            "score_time": [float(o["score_time"]) for o in outs],
            "n_test_samples": [int(o["n_test_samples"]) for o in outs],
        }
        if self.return_train_score:
            result["train_scores"] = [_number(o["train_scores"]) for o in outs]
        errors = [o.get("fit_error") for o in outs]
        if any(errors):
            result["fit_error"] = errors
        output = self._capture.drain() if self._capture is not None else None
        if output:
            result[WORKER_OUTPUT] = output
        return result


class CrossValidate(_CVBase):
    """Fit and score one candidate on every split (a one-shot objective)."""

    def evaluate(self, config: dict[str, Any]) -> dict[str, Any]:
        X, y, splits, fit_params, score_params = self.data.get()
        params = self.codec.decode(config)
        try:  # scikit-learn raises set_params' error whatever error_score is
            clone(self.estimator).set_params(**clone(params, safe=False))
        except Exception as exc:
            return raised(exc, self.metric)
        outs = []
        for k, (train, test) in enumerate(splits):
            try:
                outs.append(_call_fit_and_score(
                    estimator=clone(self.estimator), X=X, y=y, scorer=self.scorer,
                    train=train, test=test, verbose=self.verbose, parameters=params,
                    fit_params=fit_params, score_params=score_params,
                    return_train_score=self.return_train_score, return_n_test_samples=True,
                    return_times=True, error_score=self.error_score,
                    **self._progress(k, len(splits))))
            except Exception as exc:
                if self.error_score == "raise":
                    return raised(exc, self.metric)
                raise
        return self.pack(outs)


class IncrementalCrossValidate(_CVBase):
    """Train one candidate step by step on every split, reporting after each step.

    Each step is one ``partial_fit`` pass over every training fold, or one ``warm_start``
    refit with ``n_estimators``/``max_iter`` raised towards the candidate's value. The
    models are checkpointed after every step when ``checkpoint`` is set (schedulers that
    pause, or experiments that can be resumed).
    """

    def __init__(self, *args: Any, max_iterations: int, classes: Any, checkpoint: bool,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_iterations = max_iterations
        self.classes = classes
        self.checkpoint = checkpoint

    def evaluate(self, config: dict[str, Any]) -> None:
        X, y, splits, fit_params, score_params = self.data.get()
        params = self.codec.decode(config)
        state = get_checkpoint()
        if state is None:
            try:  # scikit-learn raises set_params' error whatever error_score is
                clone(self.estimator).set_params(**clone(params, safe=False))
            except Exception as exc:
                report(raised(exc, self.metric))
                return
            state = self._initial_state(params, len(splits))
        else:  # a PBT fork brings new parameters: apply them, except the growing one
            strategy = state["strategy"]
            keep = {k: v for k, v in params.items() if k != strategy.grow}
            for model in state["models"]:
                model.set_params(**clone(keep, safe=False))
        strategy = state["strategy"]
        if strategy.kind == "warm_start":
            target = params.get(strategy.grow, self.estimator.get_params()[strategy.grow])
            schedule: list[Any] = growth_schedule(target, self.max_iterations, strategy.grow)
        else:
            schedule = [None] * self.max_iterations
        for step in range(state["step"], len(schedule)):
            for k, (train, test) in enumerate(splits):
                if state["outs"][k] is not None and state["outs"][k]["fit_error"] is not None:
                    continue  # a failed split keeps its error_score
                try:
                    out = self._advance(state["models"][k], strategy, schedule[step], step == 0,
                                        X, y, train, test, fit_params, score_params)
                except Exception as exc:
                    if self.error_score == "raise":
                        report(raised(exc, self.metric))
                        return
                    raise
                if state["outs"][k] is not None:
                    out["fit_time"] += state["outs"][k]["fit_time"]
                state["outs"][k] = out
            state["step"] = step + 1
            report(self.pack(state["outs"]), checkpoint=state if self.checkpoint else None)

    def _initial_state(self, params: dict[str, Any], n_splits: int) -> dict[str, Any]:
        base = clone(self.estimator).set_params(**clone(params, safe=False))
        strategy = incremental_strategy(base)
        if strategy is None:
            raise ValueError(f"{type(base).__name__} cannot be trained step by step: it has "
                             "neither partial_fit nor warm_start with n_estimators/max_iter")
        models = [clone(base) for _ in range(n_splits)]
        if strategy.kind == "warm_start":
            for model in models:
                model.set_params(**{strategy.warm: True})
        return {"strategy": strategy, "models": models, "step": 0, "outs": [None] * n_splits}

    def _advance(self, model: Any, strategy: Strategy, grow_to: Any, first: bool, X: Any,
                 y: Any, train: Any, test: Any, fit_params: dict[str, Any],
                 score_params: dict[str, Any]) -> dict[str, Any]:
        if strategy.kind == "warm_start":
            return _call_fit_and_score(
                estimator=model, X=X, y=y, scorer=self.scorer, train=train, test=test,
                verbose=0, parameters={strategy.grow: grow_to}, fit_params=fit_params,
                score_params=score_params, return_train_score=self.return_train_score,
                return_n_test_samples=True, return_times=True, error_score=self.error_score)
        return partial_fit_and_score(model, X, y, train, test, scorer=self.scorer,
                                     classes=self.classes if first else None,
                                     fit_params=fit_params, score_params=score_params,
                                     return_train_score=self.return_train_score,
                                     error_score=self.error_score)


def partial_fit_and_score(model: Any, X: Any, y: Any, train: Any, test: Any, *, scorer: Any,
                          classes: Any, fit_params: dict[str, Any],
                          score_params: dict[str, Any], return_train_score: bool,
                          error_score: Any) -> dict[str, Any]:
    """One ``partial_fit`` pass over a training fold, then scores, as ``_fit_and_score``
    records them (a failed pass gives ``error_score`` and the traceback in ``fit_error``)."""
    fit_params = _check_method_params(X, params=fit_params or {}, indices=train)
    score_train = _check_method_params(X, params=score_params or {}, indices=train)
    score_test = _check_method_params(X, params=score_params or {}, indices=test)
    X_train, y_train = _safe_split(model, X, y, train)
    X_test, y_test = _safe_split(model, X, y, test, train)
    if classes is not None and is_classifier(model) and \
            "classes" in inspect.signature(model.partial_fit).parameters:
        fit_params = {**fit_params, "classes": classes}
    out: dict[str, Any] = {"n_test_samples": len(test), "fit_error": None}
    start = time.time()
    try:
        if y_train is None:
            model.partial_fit(X_train, **fit_params)
        else:
            model.partial_fit(X_train, y_train, **fit_params)
    except Exception:
        if error_score == "raise":
            raise
        out.update(fit_time=time.time() - start, score_time=0.0,
                   fit_error=traceback.format_exc(), test_scores=_error_scores(scorer, error_score))
        if return_train_score:
            out["train_scores"] = out["test_scores"]
        return out
    out["fit_time"] = time.time() - start
    out["test_scores"] = _score(model, X_test, y_test, scorer, score_test, error_score)
    out["score_time"] = time.time() - start - out["fit_time"]
    if return_train_score:
        out["train_scores"] = _score(model, X_train, y_train, scorer, score_train, error_score)
    return out


def _error_scores(scorer: Any, error_score: Any) -> Any:
    names = getattr(scorer, "_scorers", None)
    if isinstance(names, dict):
        return {name: error_score for name in names}
    return error_score


def unpack(result: dict[str, Any] | None, n_splits: int, *, return_train_score: bool,
           error_score: Any, failure: str | None) -> list[dict[str, Any]]:
    """The per-split records of one candidate, as ``_fit_and_score`` returns them.

    A candidate without a usable result (its objective failed, or it never reported) gets
    ``error_score`` on every split and ``failure`` as the fit error.
    """
    if not result or "test_scores" not in result:
        out = {"test_scores": error_score, "n_test_samples": 0, "fit_time": 0.0,
               "score_time": 0.0, "fit_error": failure or "the candidate reported no scores"}
        if return_train_score:
            out["train_scores"] = error_score
        return [dict(out) for _ in range(n_splits)]
    errors = result.get("fit_error") or [None] * n_splits
    outs = []
    for k in range(n_splits):
        out = {"test_scores": _restore(result["test_scores"][k]),
               "n_test_samples": result["n_test_samples"][k],
               "fit_time": result["fit_time"][k], "score_time": result["score_time"][k],
               "fit_error": errors[k]}
        if return_train_score:
            out["train_scores"] = _restore(result["train_scores"][k])
        outs.append(out)
    return outs


def _restore(scores: Any) -> Any:
    return dict(scores) if isinstance(scores, dict) else scores


def fit_with_budget(estimator: Any, X: Any, y: Any, fit_params: dict[str, Any],
                    strategy: Strategy | None, reached: int, steps: int) -> Any:
    """Fit ``estimator`` on all the data the way its candidate was trained.

    Without a strategy (full evaluation) this is ``fit``. Under an early-stopping scheduler,
    the candidate ran ``reached`` steps: as many ``partial_fit`` passes, or a ``warm_start``
    estimator grown to the value it had reached.
    """
    args = (X,) if y is None else (X, y)
    if strategy is not None and strategy.kind == "partial_fit" and reached > 0:
        classes = None
        if is_classifier(estimator) and y is not None and \
                "classes" in inspect.signature(estimator.partial_fit).parameters:
            classes = np.unique(y)
        for epoch in range(reached):
            extra = {"classes": classes} if epoch == 0 and classes is not None else {}
            estimator.partial_fit(*args, **fit_params, **extra)
        return estimator
    if strategy is not None and strategy.kind == "warm_start" and reached > 0:
        target = estimator.get_params()[strategy.grow]
        schedule = growth_schedule(target, steps, strategy.grow)
        estimator.set_params(**{strategy.grow: schedule[min(reached, len(schedule)) - 1]})
    return estimator.fit(*args, **fit_params)


def candidate_rows(trials: Any, n_splits: int, *, error_score: Any,
                   return_train_score: bool) -> list[dict[str, Any]]:
    """The per-split rows of finished candidate trials, in the given order: an error raised
    on purpose on a worker is raised again here, a failed candidate raises under
    ``error_score="raise"`` and otherwise gets ``error_score`` rows."""
    out: list[dict[str, Any]] = []
    for trial in trials:
        result = trial.last_result or {}
        if RAISED_TEXT in result:
            reraise(result, trial.trial_id)
        failed = trial.status is TrialStatus.ERROR
        if failed and error_score == "raise":
            raise TrialError(f"candidate {trial.trial_id} failed (error_score='raise'):\n"
                             f"{trial.error}")
        out.extend(unpack(result, n_splits, error_score=error_score,
                          return_train_score=return_train_score,
                          failure=trial.error if failed else None))
    return out
