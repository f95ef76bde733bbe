"""One rule for "better": the metric(s) an experiment optimises, their mode(s), and every
comparison derived from them.

Internally everything minimises: a result's *loss* is ``sign * result[metric]`` with ``sign``
+1 for ``mode="min"`` and -1 for ``"max"``, and ``inf`` when the value is not a finite real
number. ``Goal`` is the only place that turns a mode into a sign or a value into a loss;
``Results``, the progress display, the CLI, the plots, and the ``loss`` helpers of searchers
and schedulers all ask it.

What counts as a metric value (decided here, once):

- an ``int``, a ``float`` or anything ``float()`` accepts (numpy scalars, a numeric
  string such as ``"0.5"``), when the result is finite;
- **not** a ``bool`` (``True``/``False``, also ``numpy.bool_``): a flag reported under the
  metric's name is almost always a mistake, and ``True < False`` orders nothing; it counts as
  missing;
- missing, ``None``, NaN, +/-inf and anything ``float()`` refuses count as missing.

A missing value has loss ``inf``: such a result is never better than another, and a trial
with no finite value is never the best. Ties keep the earlier one (the first trial in
creation order wins).

The value object carries a tuple of metrics and a tuple of modes so that several objectives
fit without changing its callers: the single-metric accessors (``metric``, ``mode``,
``sign``, ``loss``, ``better``, ``best``) raise a ``ValueError`` naming the metrics when the
goal has more than one; ``losses`` works for any number.

Example:
    >>> goal = Goal.of("accuracy", "max")
    >>> goal.loss({"accuracy": 0.9})
    -0.9
    >>> goal.better({"accuracy": 0.9}, {"accuracy": 0.8})
    True
    >>> goal.loss({"accuracy": True}), goal.loss({}), goal.loss({"accuracy": float("nan")})
    (inf, inf, inf)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from raysweep.trial import Trial, TrialStatus

MODES = ("min", "max")
SCOPES = ("last", "all")

#: ``Trial.extra`` key of the trial's latest result that holds the metric, kept only while
#: its ``last_result`` lacks it (``scope="last"`` then compares that one: a trial whose final
#: report lacks the metric keeps its last value).
METRIC_RESULT = "metric_result"

#: Result key holding a trial's constraint values (a list of numbers, feasible when every
#: value is <= 0), written beside the metrics by whoever evaluates the constraints.
CONSTRAINTS = "constraints"


def metric_value(value: Any) -> float:
    """``value`` as a finite float, or NaN when it is not a metric value (see the module)."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def metric_values(values: Iterable[Any]) -> np.ndarray:
    """``metric_value`` of each element, as a float array (a pandas Series or list works)."""
    array = np.asarray(values)
    if array.dtype.kind in "iuf":  # the usual case: already numbers
        out = array.astype(float, copy=True)
        out[~np.isfinite(out)] = np.nan
        return out
    return np.array([metric_value(v) for v in array.ravel()], dtype=float).reshape(array.shape)


def check_scope(scope: Any, owner: str | None = None) -> str:
    """Return ``scope`` when it is ``"last"`` or ``"all"``, else raise a ``ValueError``."""
    if scope not in SCOPES:
        prefix = f"{owner}: " if owner else ""
        raise ValueError(f"{prefix}scope must be 'last' or 'all', got {scope!r}")
    return scope


def last_metric_result(trial: Trial, metric: str) -> dict[str, Any]:
    """The result ``scope="last"`` judges ``trial`` by: its last one, or, when that lacks
    ``metric``, the latest one that has it (``{}`` before any report)."""
    last = trial.last_result or {}
    if metric not in last:
        return trial.extra.get(METRIC_RESULT) or last
    return last


@dataclass(frozen=True, slots=True)
class Goal:
    """The metric(s) to optimise and their mode(s): the one rule for "better".

    Build it with ``Goal.of(metric, mode)`` from ``run()``'s arguments. ``metrics`` and
    ``modes`` are tuples of equal length; a goal with one metric answers every question,
    one with several answers ``losses``, ``violation``, ``dominates`` and ``pareto_ranks``
    and raises a clear error on the single-metric ones.
    """

    metrics: tuple[str, ...]
    modes: tuple[str, ...]
    signs: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        metrics, modes = self.metrics, self.modes
        if not isinstance(metrics, tuple) or not metrics or \
                not all(isinstance(m, str) and m for m in metrics):
            raise TypeError(f"metric must be a non-empty string, got {metrics!r}")
        if not isinstance(modes, tuple) or len(modes) != len(metrics):
            raise ValueError(f"mode must be one mode per metric ({len(metrics)}), "
                             f"got {modes!r}")
        for mode in modes:
            if mode not in MODES:
                raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if len(set(metrics)) != len(metrics):
            duplicates = sorted({m for m in metrics if metrics.count(m) > 1})
            raise ValueError(f"metric names must be distinct, got {duplicates} twice")
        object.__setattr__(self, "signs", tuple(1.0 if m == "min" else -1.0 for m in modes))

    @classmethod
    def of(cls, metric: str | Sequence[str], mode: str | Sequence[str] = "min") -> Goal:
        """The goal of ``metric`` (a name or a list of names) and ``mode`` (``"min"``,
        ``"max"``, or a list of them, one per metric; one string applies to every metric).

        Raises:
            TypeError: a metric is not a non-empty string.
            ValueError: a mode is not ``"min"``/``"max"``, the lengths differ, or a metric
                name repeats.
        """
        if isinstance(metric, str):
            metrics: tuple[str, ...] = (metric,)
        elif isinstance(metric, Sequence) and metric:
            metrics = tuple(metric)
        else:
            raise TypeError(f"metric must be a non-empty string, got {metric!r}")
        if isinstance(mode, str) or mode is None:
            modes: tuple[Any, ...] = (mode,) * len(metrics)
        elif isinstance(mode, Sequence):
            modes = tuple(mode)
        else:
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        return cls(metrics, modes)

    # -- shape ------------------------------------------------------------------------------
    @property
    def is_multi(self) -> bool:
        """Whether the goal has several metrics (several objectives)."""
        return len(self.metrics) > 1

    def _single(self, what: str) -> None:
        if len(self.metrics) > 1:
            raise ValueError(f"{what} needs a single metric; this goal has "
                             f"{len(self.metrics)}: {list(self.metrics)} (use losses(), or a "
                             f"Goal of one metric)")

    @property
    def metric(self) -> str:
        """The metric's name (single-metric goals)."""
        self._single("Goal.metric")
        return self.metrics[0]

    @property
    def mode(self) -> str:
        """``"min"`` or ``"max"`` (single-metric goals)."""
        self._single("Goal.mode")
        return self.modes[0]

    @property
    def sign(self) -> float:
        """+1.0 for ``min``, -1.0 for ``max``: ``sign * value`` is a loss (single metric)."""
        self._single("Goal.sign")
        return self.signs[0]

    @property
    def minimize(self) -> bool:
        """True for ``mode="min"`` (single metric): the best value is the smallest."""
        return self.sign > 0

    # -- one result -------------------------------------------------------------------------
    def loss_of(self, value: Any) -> float:
        """``sign * value`` for a metric value, ``inf`` when it is not one (single metric)."""
        if len(self.signs) != 1:
            self._single("Goal.loss_of")
        if isinstance(value, float):  # the usual case (and numpy.float64), kept fast
            return self.signs[0] * value if -math.inf < value < math.inf else math.inf
        number = metric_value(value)
        return math.inf if number != number else self.signs[0] * number

    def loss(self, result: Mapping[str, Any] | None) -> float:
        """The loss of ``result`` (``inf`` when it lacks a finite metric value)."""
        if len(self.signs) != 1:
            self._single("Goal.loss")
        return self.loss_of(result.get(self.metrics[0]) if result else None)

    def losses(self, result: Mapping[str, Any] | None) -> tuple[float, ...]:
        """One loss per metric (any number of metrics)."""
        result = result or {}
        out = []
        for metric, sign in zip(self.metrics, self.signs):
            number = metric_value(result.get(metric))
            out.append(math.inf if number != number else sign * number)
        return tuple(out)

    # -- several metrics, constraints ------------------------------------------------------
    def violation(self, result: Mapping[str, Any] | None) -> float:
        """How far ``result`` is from feasible: the sum of its positive constraint values
        (``result[CONSTRAINTS]``); 0.0 when it is feasible or carries no constraint values;
        ``inf`` when a value is NaN or not a number, or a metric value is missing."""
        result = result or {}
        if any(loss == math.inf for loss in self.losses(result)):
            return math.inf
        values = result.get(CONSTRAINTS)
        if values is None:
            return 0.0
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
            return math.inf
        total = 0.0
        for value in values:
            number = metric_value(value)
            if number != number:
                return math.inf
            total += max(number, 0.0)
        return total

    def feasible(self, result: Mapping[str, Any] | None) -> bool:
        """Whether ``result`` has every metric value and satisfies every constraint."""
        return self.violation(result) == 0.0

    def dominates(self, a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
        """Whether result ``a`` constraint-dominates result ``b``: ``a`` feasible and ``b``
        not; or both infeasible and ``a`` violates less; or both feasible, ``a`` no worse
        in every metric and better in one. Works for one metric too (then: better, and
        feasible first)."""
        va, vb = self.violation(a), self.violation(b)
        if va > 0 or vb > 0:
            return va < vb
        la, lb = self.losses(a), self.losses(b)
        return all(x <= y for x, y in zip(la, lb)) and any(x < y for x, y in zip(la, lb))

    def pareto_ranks(self, trials: Sequence[Trial], scope: str = "last") -> list[int]:
        """The constraint-dominance rank of each trial (1 = the front of the feasible
        trials; infeasible ones after every feasible one, by violation; trials without
        every metric value, or ended in ERROR, last). ``scope`` as in ``result_of``."""
        from raysweep._pareto import constrained_ranks

        check_scope(scope)
        if scope == "all" and self.is_multi:
            raise ValueError(f"Goal.pareto_ranks: scope='all' (each trial's best result) "
                             f"needs a single metric; this goal has {list(self.metrics)} "
                             f"(use scope='last')")
        if not trials:
            return []
        results = [self.result_of(trial, scope) for trial in trials]
        losses = np.array([self.losses(r) for r in results], dtype=float)
        violation = np.array([math.inf if t.status is TrialStatus.ERROR else self.violation(r)
                              for t, r in zip(trials, results)])
        return [int(r) for r in constrained_ranks(losses, violation)]

    def value_of(self, loss: float) -> float:
        """The metric value whose loss is ``loss`` (the inverse of ``loss_of``)."""
        self._single("Goal.value_of")
        return self.signs[0] * loss

    def better(self, a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
        """Whether result ``a`` is strictly better than result ``b`` (a tie is not)."""
        self._single("Goal.better")
        return self.loss(a) < self.loss(b)

    # -- trials -----------------------------------------------------------------------------
    def result_of(self, trial: Trial, scope: str = "last") -> dict[str, Any]:
        """The result ``trial`` is judged by: its last one with the metric (``"last"``) or
        its best one (``"all"``; the trial's ``best_result``, kept under this goal by the
        journal fold)."""
        if scope == "all":
            return trial.best_result or trial.last_result or {}
        return last_metric_result(trial, self.metrics[0])

    def trial_loss(self, trial: Trial, scope: str = "last") -> float:
        """The loss ``trial`` is ranked by; ``inf`` for a trial that ended in ERROR."""
        if trial.status is TrialStatus.ERROR:
            return math.inf
        return self.loss(self.result_of(trial, scope))

    def best(self, trials: Iterable[Trial], scope: str = "last", *,
             key: Callable[[Trial], float] | None = None) -> Trial | None:
        """The best of ``trials`` (None when none has a finite loss); ties keep the first.

        ``key(trial) -> loss`` replaces ``trial_loss`` (``Results`` passes one that reads a
        trial's history when asked about another metric with ``scope="all"``).
        """
        self._single("Goal.best")
        check_scope(scope)
        judge = key or (lambda trial: self.trial_loss(trial, scope))
        best, best_loss = None, math.inf
        for trial in trials:
            loss = judge(trial)
            if loss < best_loss:
                best, best_loss = trial, loss
        return best

    # -- columns of values (tables, plots) ------------------------------------------------
    def loss_array(self, values: Iterable[Any]) -> np.ndarray:
        """``loss_of`` of each value, as a float array (``inf`` where not a metric value)."""
        self._single("Goal.loss_array")
        losses = self.signs[0] * metric_values(values)
        losses[np.isnan(losses)] = np.inf
        return losses

    def order(self, values: Iterable[Any]) -> np.ndarray:
        """Indices of ``values``, best first; ties keep their order, non-values come last."""
        return np.argsort(self.loss_array(values), kind="stable")

    def running_best(self, values: Iterable[Any]) -> np.ndarray:
        """The best value so far at each position (NaN before the first metric value)."""
        self._single("Goal.running_best")
        sign = self.signs[0]
        return sign * np.fmin.accumulate(sign * metric_values(values))
