"""Population based training (Jaderberg et al., 2017, "Population Based Training of Neural
Networks").

Every ``perturbation_interval`` of ``time_attr`` a trial is ranked against the population by
its latest result. A trial in the bottom ``quantile_fraction`` is PAUSED; when a slot frees up
it is restarted by a ``Fork`` from the checkpoint of a trial in the top ``quantile_fraction``
(exploit) with a perturbed copy of that trial's config (explore). The controller records the
lineage: ``trial.parent_id`` and the config schedule over time.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from raysweep.decisions import NEW, WAIT, Decision, Fork, Launch, Resume
from raysweep.schedulers._common import (
    check_positive,
    check_time_attr,
    fail,
    is_number,
    result_time,
    result_value,
)
from raysweep.schedulers.base import Scheduler
from raysweep.trial import Trial, TrialStatus

_MISSING = object()
_HORIZON = 1000  # perturbation points listed past a (re)started trial's iteration


class PBT(Scheduler):
    """Population based training: exploit the best trials' checkpoints, explore their configs.

    Args:
        time_attr: The result key that measures progress.
        perturbation_interval: Rank a trial each time ``time_attr`` crosses a multiple of this.
        hyperparam_mutations: What may change, by config key (nested dicts for nested
            configs). Each value is a raysweep domain (``rs.loguniform(1e-4, 1e-1)``), a frozen
            ``scipy.stats`` distribution or a list of values.
        quantile_fraction: The share of the population in the top and bottom quantiles.
        resample_probability: Chance that a mutated value is drawn afresh from its domain
            or list instead of being perturbed.
        perturbation_factors: A numeric value is multiplied by one of these (then clipped and
            rounded to its domain); a list value moves to a neighbour instead.

    Example:
        >>> import raysweep as rs
        >>> pbt = rs.schedulers.PBT(perturbation_interval=4,
        ...                         hyperparam_mutations={"lr": rs.loguniform(1e-4, 1e-1),
        ...                                               "batch_size": [16, 32, 64, 128]})
    """

    name = "pbt"
    pauses = True
    needs_checkpoints = True

    def __init__(self, time_attr: str = "training_iteration", perturbation_interval: float = 5,
                 hyperparam_mutations: Mapping[str, Any] | None = None,
                 quantile_fraction: float = 0.25, resample_probability: float = 0.25,
                 perturbation_factors: Sequence[float] = (0.8, 1.2)) -> None:
        owner = "PBT"
        self.time_attr = check_time_attr(owner, time_attr)
        self.perturbation_interval = check_positive(
            owner, "perturbation_interval", perturbation_interval)
        if not isinstance(hyperparam_mutations, Mapping) or not hyperparam_mutations:
            raise fail(owner, "hyperparam_mutations", "a non-empty dict of what may change, "
                       "e.g. {'lr': rs.loguniform(1e-4, 1e-1), 'batch_size': [32, 64, 128]}",
                       hyperparam_mutations)
        _check_mutations(hyperparam_mutations, "")
        self.hyperparam_mutations = hyperparam_mutations
        if not is_number(quantile_fraction) or not 0 < quantile_fraction <= 0.5:
            raise fail(owner, "quantile_fraction", "a number in (0, 0.5]", quantile_fraction)
        self.quantile_fraction = quantile_fraction
        if not is_number(resample_probability) or not 0 <= resample_probability <= 1:
            raise fail(owner, "resample_probability", "a number in [0, 1]", resample_probability)
        self.resample_probability = resample_probability
        factors = tuple(perturbation_factors) if isinstance(
            perturbation_factors, (list, tuple)) else ()
        if not factors or not all(is_number(f) and f > 0 for f in factors):
            raise fail(owner, "perturbation_factors", "a non-empty sequence of numbers > 0",
                       perturbation_factors)
        self.perturbation_factors = factors

    # -- protocol --------------------------------------------------------------------------
    def setup(self, metric: str, mode: str, seed: Any) -> None:
        super().setup(metric, mode, seed)
        self.scores_: dict[str, float] = {}  # loss at the trial's last perturbation point
        self.last_time_: dict[str, float | None] = {}
        self.waiting_: list[str] = []  # bottom trials paused until a slot frees for the fork
        self.ended_: set[str] = set()
        self._warned_no_checkpoint = False

    def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        t = result_time("PBT", result, self.time_attr)
        result_value("PBT", result, self.metric, "metric")
        trial_id = trial.trial_id
        last = self.last_time_.get(trial_id, 0.0)
        self.last_time_[trial_id] = t
        if last is None or not self._crossed(last, t):
            return Decision.CONTINUE
        self.scores_[trial_id] = self.loss(result)
        bottom, _ = self.quantiles()
        if trial_id in bottom:
            self.waiting_.append(trial_id)
            return Decision.PAUSE
        return Decision.CONTINUE

    def on_trial_complete(self, trial: Trial) -> None:
        self.ended_.add(trial.trial_id)
        if trial.trial_id in self.waiting_:
            self.waiting_.remove(trial.trial_id)

    def next_launch(self, trials: Mapping[str, Trial], *, exhausted: bool) -> Launch:
        for trial_id in self.waiting_:
            trial = trials.get(trial_id)
            if trial is None or trial.status != TrialStatus.PAUSED:
                continue
            self.waiting_.remove(trial_id)
            _, top = self.quantiles()
            donors = [d for d in top if d in trials]
            if not donors:  # the rest of the population has ended: just carry on
                return Resume(trial_id)
            with_checkpoint = [d for d in donors if trials[d].checkpoint_iteration is not None]
            if not with_checkpoint:
                self._warn_no_checkpoint(trial_id, donors)
            pool = with_checkpoint or donors
            donor = pool[int(self.rng.integers(len(pool)))]
            config = self.explore(trials[donor].config)
            self.scores_.pop(trial_id, None)
            checkpoint_iteration = trials[donor].checkpoint_iteration
            if self.time_attr == "training_iteration":
                self.last_time_[trial_id] = float(checkpoint_iteration or 0)
            else:
                self.last_time_[trial_id] = None  # re-based on the trial's next result
            return Fork(trial_id, donor, config)
        return WAIT if exhausted else NEW

    def blocking_iterations(self, trial: Trial) -> tuple[int, ...] | None:
        if self.time_attr != "training_iteration":
            return None
        interval = self.perturbation_interval
        # From the start (a Fork may move the trial back to its donor's iteration) to well
        # past the trial's current iteration; the worker keeps these as a frozenset.
        last = math.floor(trial.iteration / interval) + _HORIZON
        return tuple(sorted({math.ceil(k * interval - 1e-9) for k in range(1, last + 1)}))

    def state_dict(self) -> dict[str, Any]:
        bottom, top = self.quantiles()
        return {"ranked": len(self.scores_), "top": top, "bottom": bottom,
                "waiting": list(self.waiting_)}

    # -- the algorithm ---------------------------------------------------------------------
    def quantiles(self) -> tuple[list[str], list[str]]:
        """``(bottom, top)`` trial ids among live trials ranked at a perturbation point."""
        ranked = sorted((tid for tid in self.scores_
                         if tid not in self.ended_ and tid not in self.waiting_),
                        key=lambda tid: (self.scores_[tid], tid))
        size = math.ceil(len(ranked) * self.quantile_fraction - 1e-9)
        size = min(size, len(ranked) // 2)
        if size == 0:
            return [], []
        return ranked[-size:], ranked[:size]

    def explore(self, config: dict[str, Any]) -> dict[str, Any]:
        """A mutated deep copy of ``config`` (draws from ``self.rng``)."""
        new = copy.deepcopy(config)
        self._mutate(new, self.hyperparam_mutations)
        return new

    def _mutate(self, config: dict[str, Any], mutations: Mapping[str, Any]) -> None:
        for key, spec in mutations.items():
            if _is_nested(spec):
                if not isinstance(config.get(key), dict):
                    config[key] = {}
                self._mutate(config[key], spec)
            else:
                config[key] = self._mutate_value(config.get(key, _MISSING), spec)

    def _mutate_value(self, value: Any, spec: Any) -> Any:
        resample = self.rng.random() < self.resample_probability or value is _MISSING
        choices = _choices(spec)
        if choices is not None:
            index = _index_of(value, choices)
            if resample or index is None:
                return choices[int(self.rng.integers(len(choices)))]
            step = -1 if self.rng.random() < 0.5 else 1
            return choices[min(max(index + step, 0), len(choices) - 1)]
        if resample or not is_number(value):
            return _draw(spec, self.rng)
        factor = self.perturbation_factors[int(self.rng.integers(len(self.perturbation_factors)))]
        return _snap(spec, value * factor)

    def _crossed(self, last: float, t: float) -> bool:
        interval = self.perturbation_interval
        return math.floor(t / interval + 1e-9) > math.floor(last / interval + 1e-9)

    def _warn_no_checkpoint(self, trial_id: str, donors: list[str]) -> None:
        if self._warned_no_checkpoint:
            return
        self._warned_no_checkpoint = True
        warnings.warn(
            f"PBT: none of the top trials {donors} has a checkpoint, so trial {trial_id} "
            f"restarts from scratch with the donor's mutated config. Pass checkpoint= to "
            f"rs.report() (or use rs.Trainable) so that exploit can copy the donor's state.",
            UserWarning, stacklevel=2)


# -- mutation specs ------------------------------------------------------------------------
def _is_domain(spec: Any) -> bool:
    return hasattr(spec, "kind") and (hasattr(spec, "sample") or hasattr(spec, "from_unit"))


def _is_scipy(spec: Any) -> bool:
    return hasattr(spec, "rvs") and hasattr(spec, "support")


def _is_nested(spec: Any) -> bool:
    return isinstance(spec, Mapping) and not _is_domain(spec)


def _check_mutations(mutations: Mapping[str, Any], prefix: str) -> None:
    for key, spec in mutations.items():
        path = f"{prefix}{key}"
        if _is_nested(spec):
            if not spec:
                raise fail("PBT", f"hyperparam_mutations[{path!r}]", "a non-empty dict", spec)
            _check_mutations(spec, f"{path}/")
        elif isinstance(spec, (list, tuple)):
            if not spec:
                raise fail("PBT", f"hyperparam_mutations[{path!r}]", "a non-empty list", spec)
        elif not (_is_domain(spec) or _is_scipy(spec)):
            raise fail("PBT", f"hyperparam_mutations[{path!r}]",
                       "a raysweep domain, a frozen scipy.stats distribution, a list of values "
                       "or a dict of those", spec)


def _choices(spec: Any) -> list[Any] | None:
    """The ordered values of a list or categorical domain (None for numeric specs)."""
    if isinstance(spec, (list, tuple)):
        return list(spec)
    if _is_domain(spec) and spec.kind == "categorical":
        return list(spec.categories)
    return None


def _index_of(value: Any, choices: list[Any]) -> int | None:
    try:
        return choices.index(value)
    except (ValueError, TypeError):  # absent, or a value that refuses comparison
        return None


def _draw(spec: Any, rng: Any) -> Any:
    if _is_scipy(spec):
        value = spec.rvs(random_state=rng)
        return float(value) if spec.dist.name not in ("randint", "binom", "poisson") else int(value)
    if hasattr(spec, "sample"):
        return spec.sample(rng)
    return spec.from_unit(float(rng.random()))


def _snap(spec: Any, value: float) -> Any:
    """Clip ``value`` into the spec's bounds and round it to the spec's grid."""
    if _is_scipy(spec):
        low, high = spec.support()
        return float(min(max(value, low), high))
    low, high = getattr(spec, "low", None), getattr(spec, "high", None)
    if is_number(low):
        value = max(value, low)
    if is_number(high):
        value = min(value, high)
    if hasattr(spec, "to_unit") and hasattr(spec, "from_unit"):
        return spec.from_unit(spec.to_unit(value))
    if spec.kind == "int":
        return round(value)
    return value
