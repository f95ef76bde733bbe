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
import inspect
import math
import numbers
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from raysweep.decisions import NEW, WAIT, Decision, Fork, Launch, Resume
from raysweep.errors import InvalidSpace
from raysweep.schedulers._common import (
    check_positive,
    check_time_attr,
    fail,
    is_number,
    result_time,
    result_value,
)
from raysweep.schedulers.base import Scheduler
from raysweep.domains import Domain
from raysweep.space import Categorical, to_domain
from raysweep.trial import Trial, TrialStatus

_MISSING = object()
_HORIZON = 1000  # perturbation points listed past a (re)started trial's iteration


class PBT(Scheduler):
    """Population based training: exploit the best trials' checkpoints, explore their configs.

    Args:
        time_attr: The result key that measures progress.
        perturbation_interval: Rank a trial each time ``time_attr`` crosses a multiple of this.
        hyperparam_mutations: What may change, by config key (nested dicts for nested
            configs, or ``"a/b"`` keys). Each value is a raysweep domain
            (``rs.loguniform(1e-4, 1e-1)``), a frozen ``scipy.stats`` distribution, a list, or
            (as in Ray Tune) a function of no arguments that draws a value; a drawn value is
            perturbed by the factors without clipping, and an int stays an int.
        quantile_fraction: The share of the population in the top and bottom quantiles.
        resample_probability: Chance that a mutated value is drawn afresh from its domain
            or list instead of being perturbed.
        perturbation_factors: A numeric value is multiplied by one of these (then clipped and
            rounded to its domain); a list value moves to a neighbour instead.
        burn_in_period: No trial is ranked before ``time_attr`` reaches this (Ray Tune's
            ``burn_in_period``); the first result past it counts as a perturbation point
            when at least one interval has passed.
        custom_explore_fn: Optional ``f(config) -> config``, applied to every explored config
            after the mutations (then ``hyperparam_mutations`` may be left out).

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
                 perturbation_factors: Sequence[float] = (0.8, 1.2),
                 burn_in_period: float = 0,
                 custom_explore_fn: Callable[[dict], dict] | None = None) -> None:
        owner = "PBT"
        self.time_attr = check_time_attr(owner, time_attr)
        self.perturbation_interval = check_positive(
            owner, "perturbation_interval", perturbation_interval)
        if custom_explore_fn is not None and not callable(custom_explore_fn):
            raise fail(owner, "custom_explore_fn", "None or a function config -> config",
                       custom_explore_fn)
        self.custom_explore_fn = custom_explore_fn
        if custom_explore_fn is not None and hyperparam_mutations is None:
            hyperparam_mutations = {}
        if not isinstance(hyperparam_mutations, Mapping) or not (
                hyperparam_mutations or custom_explore_fn is not None):
            raise fail(owner, "hyperparam_mutations", "a non-empty dict of what may change, "
                       "e.g. {'lr': rs.loguniform(1e-4, 1e-1), 'batch_size': [32, 64, 128]} "
                       "(or pass custom_explore_fn)", hyperparam_mutations)
        self.hyperparam_mutations = hyperparam_mutations
        self._mutations = _parse_mutations(hyperparam_mutations, "")
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
        if not is_number(burn_in_period) or burn_in_period < 0:
            raise fail(owner, "burn_in_period", "a number >= 0", burn_in_period)
        self.burn_in_period = burn_in_period

    # -- protocol --------------------------------------------------------------------------
    def setup(self, metric: str, mode: str, seed: Any) -> None:
        super().setup(metric, mode, seed)
        self.scores_: dict[str, float] = {}  # loss at the trial's last perturbation point
        self.last_time_: dict[str, float | None] = {}
        self.waiting_: list[str] = []  # bottom trials paused until a slot frees for the fork
        self.ended_: set[str] = set()

    def on_trial_add(self, trial: Trial) -> None:
        if getattr(self, "_warned_missing", False):
            return
        missing = _missing_keys(trial.config, self._mutations, "")
        if missing:
            self._warned_missing = True
            warnings.warn(
                f"PBT: hyperparam_mutations {missing} are not in the config of trial "
                f"{trial.trial_id}, so the objective gets them only after its first exploit; "
                f"put them in the search space too (Ray Tune samples them from the mutations, "
                f"raysweep does not)", stacklevel=2)

    def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        t = result_time("PBT", result, self.time_attr)
        result_value("PBT", result, self.metric, "metric")
        trial_id = trial.trial_id
        if trial_id in self.waiting_:
            return Decision.PAUSE  # a decision sticks, e.g. when a restore re-runs the trial
        if t < self.burn_in_period:
            return Decision.CONTINUE  # not ranked yet; the next crossing counts from 0
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
            donors = [d for d in top if d in trials and d not in self.waiting_]
            if not donors or trial_id in top:
                # The rest of the population has ended, or others fell below this trial while
                # it waited for a slot (it is now among the best): just carry on.
                return Resume(trial_id)
            # Exploit copies a checkpoint: prefer donors that have one (the controller warns
            # when none does and the trial restarts from scratch with the new config).
            with_checkpoint = [d for d in donors if trials[d].checkpoint_iteration is not None]
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
        if trial.trial_id in getattr(self, "waiting_", ()):
            return None  # restarted after a restore before its PAUSE landed: pause it at once
        interval = self.perturbation_interval
        # From the start (a Fork may move the trial back to its donor's iteration) to well
        # past the trial's current iteration; the worker keeps these as a frozenset.
        last = math.floor(trial.iteration / interval) + _HORIZON
        points = {math.ceil(k * interval - 1e-9) for k in range(1, last + 1)}
        if self.burn_in_period > interval:  # the first result past it may be ranked
            points.add(math.ceil(self.burn_in_period - 1e-9))
        return tuple(sorted(points))

    def state_dict(self) -> dict[str, Any]:
        bottom, top = self.quantiles()
        return {"ranked": len(self.scores_), "top": top, "bottom": bottom,
                "waiting": list(self.waiting_)}

    # -- the algorithm ---------------------------------------------------------------------
    def quantiles(self) -> tuple[list[str], list[str]]:
        """``(bottom, top)`` trial ids among live trials ranked at a perturbation point.

        A trial waiting for its fork still ranks with the score that sent it to the bottom
        (so the next trial is not pushed there in its place); it drops out once forked.
        """
        ranked = sorted((tid for tid in self.scores_ if tid not in self.ended_),
                        key=lambda tid: (self.scores_[tid], tid))
        size = math.ceil(len(ranked) * self.quantile_fraction - 1e-9)
        size = min(size, len(ranked) // 2)
        if size == 0:
            return [], []
        return ranked[-size:], ranked[:size]

    def explore(self, config: dict[str, Any]) -> dict[str, Any]:
        """A mutated deep copy of ``config`` (draws from ``self.rng``)."""
        new = copy.deepcopy(config)
        self._mutate(new, self._mutations)
        if self.custom_explore_fn is not None:
            new = self.custom_explore_fn(new)
            if not isinstance(new, dict):
                raise TypeError(f"PBT: custom_explore_fn must return the config dict, got "
                                f"{type(new).__name__}")
        return new

    def _mutate(self, config: dict[str, Any], mutations: Mapping[str, Any]) -> None:
        for key, spec in mutations.items():
            if isinstance(spec, dict):
                if not isinstance(config.get(key), dict):
                    config[key] = {}
                self._mutate(config[key], spec)
            else:
                config[key] = self._mutate_value(config.get(key, _MISSING), spec)

    def _mutate_value(self, value: Any, domain: Any) -> Any:
        resample = self.rng.random() < self.resample_probability or value is _MISSING
        if isinstance(domain, _Sampler):
            if resample or not is_number(value):
                return domain.draw()
            factor = self.perturbation_factors[
                int(self.rng.integers(len(self.perturbation_factors)))]
            return _perturb_unbounded(value, factor)
        if domain.kind == "categorical":
            index = _index_of(value, domain)
            if resample or index is None:
                return domain.sample(self.rng)
            step = -1 if self.rng.random() < 0.5 else 1
            index = min(max(index + step, 0), len(domain.categories) - 1)
            return copy.deepcopy(domain.categories[index])
        if resample or not is_number(value):
            return domain.sample(self.rng)
        factor = self.perturbation_factors[int(self.rng.integers(len(self.perturbation_factors)))]
        return _perturb(domain, value, factor)

    def _crossed(self, last: float, t: float) -> bool:
        interval = self.perturbation_interval
        return math.floor(t / interval + 1e-9) > math.floor(last / interval + 1e-9)


# -- mutation specs ------------------------------------------------------------------------
def _parse_mutations(mutations: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The user's mutations as a nested dict of domains (a list becomes a ``Categorical``)."""
    parsed: dict[str, Any] = {}
    for key, spec in mutations.items():
        path = f"{prefix}{key}"
        where = f"hyperparam_mutations[{path!r}]"
        if not isinstance(key, str) or not key:
            raise fail("PBT", "hyperparam_mutations", "a dict with non-empty string keys", key)
        node: dict[str, Any] | _Sampler | Domain  # a nested dict, a draw function or a domain
        if isinstance(spec, Mapping):
            if not spec:
                raise fail("PBT", where, "a non-empty dict", spec)
            node = _parse_mutations(spec, f"{path}/")
        else:
            try:
                domain = to_domain(list(spec) if isinstance(spec, tuple) else spec)
            except InvalidSpace as exc:
                raise ValueError(f"PBT: {where}: {exc}") from None
            if domain is None and callable(spec) and not isinstance(spec, type):
                node = _Sampler(spec, where)
            elif domain is None or domain.kind not in ("float", "int", "categorical"):
                raise fail("PBT", where, "a raysweep domain (rs.uniform(...)), a frozen "
                           "scipy.stats distribution, a list of values, a function of no "
                           "arguments that draws a value, or a dict of those", spec)
            else:
                node = domain
        # "optimizer/lr" is the same as {"optimizer": {"lr": ...}}
        *parents, last = key.split("/")
        target = parsed
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = node
    return parsed


class _Sampler:
    """A mutation given as a function of no arguments (Ray Tune's form): ``draw()`` calls it."""

    def __init__(self, func: Callable[[], Any], where: str) -> None:
        try:
            inspect.signature(func).bind()
        except TypeError:
            raise fail("PBT", where, "a function of no arguments that draws a value (or a "
                       "domain or list)", func) from None
        except ValueError:  # no signature to inspect (some builtins): found out when called
            pass
        self.func = func

    def draw(self) -> Any:
        return self.func()


def _missing_keys(config: Any, mutations: Mapping[str, Any], prefix: str) -> list[str]:
    """The ``"a/b"`` paths of ``mutations`` that ``config`` has no value for."""
    missing = []
    for key, spec in mutations.items():
        if not isinstance(config, Mapping) or key not in config:
            missing.append(f"{prefix}{key}")
        elif isinstance(spec, dict):
            missing += _missing_keys(config[key], spec, f"{prefix}{key}/")
    return missing


def _index_of(value: Any, domain: Categorical) -> int | None:
    try:
        return domain.index(value)
    except InvalidSpace:
        return None


def _perturb_unbounded(value: float, factor: float) -> Any:
    """``value * factor`` for a mutation without bounds; an int stays an int and moves."""
    new = value * factor
    if isinstance(value, numbers.Integral):
        new = int(round(float(new)))
        if new == value and factor != 1:
            new = value + (1 if factor > 1 else -1)
    return new


def _perturb(domain: Any, value: float, factor: float) -> Any:
    """``value * factor`` clipped and rounded to ``domain``; an int always moves."""
    try:
        new = domain.from_unit(domain.to_unit(value * factor))
        if domain.kind == "int" and new == value and factor != 1:
            step = (getattr(domain, "q", None) or 1) * (1 if factor > 1 else -1)
            new = domain.from_unit(domain.to_unit(value + step))
    except InvalidSpace:  # a distribution without cdf/ppf: no unit map to clip with
        new = value * factor
        if domain.kind == "int":
            new = round(new)
    return new
