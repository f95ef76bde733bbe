"""``RunSpec``: the arguments of ``rs.run``, validated once, defaults resolved, frozen.

Every argument rule is a row of ``_PARAMETER_RULES`` (the parameter and its rule); each
failure reads "<parameter> must <rule>, got <value>", raised before anything touches the
disk. Rules that relate two arguments follow in ``_CROSS_RULES``. ``RunSpec.from_arguments``
then builds what the arguments name: the parsed space, the warm-start results, the scheduler
and the searcher (validated against each other, then configured: ``Scheduler.
validate_searcher`` only checks, ``Scheduler.configure_searcher`` returns the searcher to
use) and the default ``num_samples`` (the searcher's ``default_num_samples``).
"""

from __future__ import annotations

import copy
import inspect
import math
import os
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from raysweep import storage as _storage
from raysweep._warm_start import warm_start_pairs
from raysweep.callbacks import Callback
from raysweep.execution.base import Executor
from raysweep.execution.inline import InlineExecutor
from raysweep.schedulers import Scheduler, make_scheduler
from raysweep.search import Searcher, make_searcher
from raysweep.space import Space
from raysweep.trainable import Trainable


# ---------------------------------------------------------------------------- rule kinds
@dataclass(frozen=True)
class _Rule:
    """``test(value)`` must hold, else ``error("<name> must <text>, got <value>")``; the value
    is shown by its ``repr``, or by its type's name (``shows_type``) where the repr of a
    wrong kind of object would say nothing useful."""

    text: str
    test: Callable[[Any], bool]
    error: type[Exception] = ValueError
    none_ok: bool = False
    shows_type: bool = False

    def check(self, name: str, value: Any) -> None:
        if value is None and self.none_ok:
            return
        if not self.test(value):
            shown = type(value).__name__ if self.shows_type else repr(value)
            raise self.error(f"{name} must {self.text}, got {shown}")


@dataclass(frozen=True)
class _Each:
    """A ``_Rule`` for every item of a sequence (the sequence itself is checked before)."""

    rule: _Rule

    def check(self, name: str, value: Any) -> None:
        for item in value or ():
            self.rule.check(name, item)


@dataclass(frozen=True)
class _Checked:
    """A rule with several parts and messages of its own (``function`` raises them)."""

    function: Callable[[Any], object]

    def check(self, name: str, value: Any) -> None:
        self.function(value)


def _is_int(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


def _int_at_least(low: int, none_ok: bool = True) -> _Rule:
    return _Rule(f"be an int >= {low}", lambda v: _is_int(v) and v >= low, none_ok=none_ok)


def _seconds() -> _Rule:
    return _Rule("be a positive number of seconds", lambda v: not isinstance(v, bool) and
                 isinstance(v, (int, float)) and math.isfinite(v) and v > 0, none_ok=True)


def _one_of(*options: str) -> _Rule:
    text = " or ".join(repr(option) for option in options)
    return _Rule(f"be {text}", lambda v: isinstance(v, str) and v in options)


# --------------------------------------------------------------- rules with several parts
def _check_objective(objective: Any) -> None:
    """A function of a config dict, or a ``raysweep.Trainable`` subclass."""
    if isinstance(objective, type):
        if issubclass(objective, Trainable):
            if objective.step is Trainable.step:
                raise TypeError(f"objective: the Trainable {objective.__name__} must implement "
                                "step() (one training iteration, returning a dict of metrics)")
            limit = objective.max_iterations
            if limit is not None and (not _is_int(limit) or limit < 1):
                raise ValueError(f"objective: {objective.__name__}.max_iterations must be None "
                                 f"or an int >= 1, got {limit!r}")
            return
        raise TypeError(f"objective: a class must subclass raysweep.Trainable, got "
                        f"{objective.__name__}")
    if isinstance(objective, Trainable):
        raise TypeError(f"objective: pass the Trainable class {type(objective).__name__}, not an "
                        "instance of it (raysweep builds one instance per trial)")
    if not callable(objective):
        raise TypeError(f"objective must be a callable that takes a config dict (or a "
                        f"raysweep.Trainable subclass), got {type(objective).__name__}")
    if inspect.isgeneratorfunction(objective) or inspect.isasyncgenfunction(objective):
        raise TypeError(f"objective {getattr(objective, '__name__', objective)!r} is a generator "
                        "function; call raysweep.report(metrics) once per iteration instead of "
                        "yielding results")
    if inspect.iscoroutinefunction(objective):
        raise TypeError(f"objective {getattr(objective, '__name__', objective)!r} is an async "
                        "function; pass a plain function (run any event loop inside it)")
    try:
        signature = inspect.signature(objective)
    except (TypeError, ValueError):
        return
    try:
        signature.bind({})
    except TypeError:
        name = getattr(objective, "__name__", type(objective).__name__)
        raise TypeError(f"objective {name}{signature} cannot be called with a config dict: it "
                        "must take the config as its only required argument") from None


#: Keys that look like a typo of ``cpu``/``gpu`` (Ray's ``num_cpus`` spelling, plurals).
_RESOURCE_TYPOS = {"cpus": "cpu", "num_cpus": "cpu", "gpus": "gpu", "num_gpus": "gpu"}


def resources_of(resources: Any) -> dict[str, float]:
    """``resources_per_trial`` checked and as floats, with ``cpu: 1`` unless given."""
    if resources is None:
        return {"cpu": 1.0}
    if not isinstance(resources, Mapping):
        raise TypeError(f"resources_per_trial must be a dict such as {{'cpu': 1, 'gpu': 0.5}}, "
                        f"got {type(resources).__name__}")
    out: dict[str, float] = {}
    for key, amount in resources.items():
        if not isinstance(key, str):
            raise TypeError(f"resources_per_trial keys must be resource names, got {key!r}")
        if key.lower() in _RESOURCE_TYPOS:
            raise ValueError(f"resources_per_trial: unknown key {key!r}; did you mean "
                             f"{_RESOURCE_TYPOS[key.lower()]!r}? (e.g. {{'cpu': 1, 'gpu': 0.5}})")
        if key.lower() in {k.lower() for k in out}:
            raise ValueError(f"resources_per_trial: {key!r} is given twice (names ignore case)")
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or \
                not math.isfinite(amount) or amount < 0:
            raise ValueError(f"resources_per_trial[{key!r}] must be a number >= 0, got "
                             f"{amount!r}")
        out[key] = float(amount)
    if not any(k.lower() == "cpu" for k in out):
        out["cpu"] = 1.0
    return out


def _check_stop(stop: Any) -> None:
    if stop is None:
        return
    if callable(stop):
        try:
            signature = inspect.signature(stop)
        except (TypeError, ValueError):
            return
        shapes: tuple[tuple[Any, ...], ...] = (("trial_id", {}), ({},))
        for args in shapes:
            try:
                signature.bind(*args)
                return
            except TypeError:
                continue
        name = getattr(stop, "__name__", type(stop).__name__)
        raise TypeError(f"stop: the callable {name}{signature} must take (trial_id, result) or "
                        "(result) and return True to stop the trial")
    if not isinstance(stop, Mapping):
        raise TypeError(f"stop must be a dict like {{'training_iteration': 10}} or a callable "
                        f"(trial_id, result) -> bool, got {type(stop).__name__}")
    for key, value in stop.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"stop keys must be names of reported values, got {key!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                             np.floating)):
            raise ValueError(f"stop[{key!r}] must be a number, got {value!r}")
        if math.isnan(value):
            raise ValueError(f"stop[{key!r}] must be a number, got nan")


def _plain_name(name: Any) -> bool:
    """One directory below storage_path: no separator, not ``.``/``..``, no NUL."""
    separators = [sep for sep in (os.sep, os.altsep) if sep]
    return isinstance(name, str) and bool(name) and name not in (".", "..") and \
        "\0" not in name and not any(sep in name for sep in separators)


def _printable(name: str) -> bool:
    """``raysweep ls`` prints names: escape sequences would reach the terminal."""
    return not any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in name)


# ------------------------------------------------------------------------ the rule table
#: Every argument of ``rs.run`` with a rule, in the order they are checked.
_PARAMETER_RULES: tuple[tuple[str, _Rule | _Each | _Checked], ...] = (
    ("objective", _Checked(_check_objective)),
    ("space", _Rule("be a dict of parameter names to domains",
                    lambda v: isinstance(v, Mapping), TypeError, shows_type=True)),
    ("metric", _Rule("be a non-empty string", lambda v: isinstance(v, str) and bool(v),
                     TypeError)),
    ("mode", _one_of("min", "max")),
    ("scope", _one_of("last", "all")),
    ("num_samples", _int_at_least(1)),
    ("max_concurrent", _int_at_least(1)),
    ("max_failures", _int_at_least(0, none_ok=False)),
    ("keep_checkpoints", _int_at_least(1, none_ok=False)),
    ("verbose", _int_at_least(0, none_ok=False)),
    ("time_budget_s", _seconds()),
    ("trial_timeout_s", _seconds()),
    ("seed", _int_at_least(0)),
    ("stop", _Checked(_check_stop)),
    ("resources_per_trial", _Checked(resources_of)),
    ("executor", _Rule("be 'ray', 'inline' or an Executor instance",
                       lambda v: isinstance(v, Executor) or v in ("ray", "inline"))),
    ("callbacks", _Rule("be a list of raysweep.Callback instances",
                        lambda v: isinstance(v, (list, tuple)), TypeError, none_ok=True,
                        shows_type=True)),
    ("callbacks", _Each(_Rule("be raysweep.Callback instances",
                              lambda v: isinstance(v, Callback), TypeError, shows_type=True))),
    ("address", _Rule("be a string such as 'auto' or 'ray://host:10001'",
                      lambda v: isinstance(v, str), TypeError, none_ok=True, shows_type=True)),
    ("name", _Rule(f"be a non-empty string without {os.sep!r} (and not '.' or '..')",
                   _plain_name, none_ok=True)),
    ("name", _Rule("not contain control characters (escape sequences, newlines, tabs)",
                   _printable, none_ok=True)),
)


def _bounded_concurrency(args: Mapping[str, Any]) -> None:
    resources = resources_of(args["resources_per_trial"])
    if args["executor"] == "ray" and args["max_concurrent"] is None and \
            all(v == 0 for v in resources.values()):
        raise ValueError(f"resources_per_trial={args['resources_per_trial']!r} asks for no "
                         "resources, so nothing bounds how many trials run at once; pass "
                         "max_concurrent=")


def _inline_cannot_time_out(args: Mapping[str, Any]) -> None:
    executor, trial_timeout_s = args["executor"], args["trial_timeout_s"]
    inline = executor == "inline" or isinstance(executor, InlineExecutor)
    if inline and trial_timeout_s is not None:
        raise ValueError(f"trial_timeout_s={trial_timeout_s!r} needs the Ray executor: the inline "
                         "executor runs trials in the driver's process and cannot stop one")


def _executor_accepts(args: Mapping[str, Any]) -> None:
    executor, resources_per_trial = args["executor"], args["resources_per_trial"]
    address, max_concurrent = args["address"], args["max_concurrent"]
    if isinstance(executor, Executor):  # e.g. a simulated executor refuses Ray-only arguments
        executor.check_run_arguments(resources_per_trial=resources_per_trial, address=address,
                                     max_concurrent=max_concurrent)


def _resume_needs_name(args: Mapping[str, Any]) -> None:
    if args["resume"] and args["name"] is None:
        raise ValueError("resume=True needs the name= of the experiment to continue")


#: Rules between arguments, checked after every argument passed its own.
_CROSS_RULES: tuple[Callable[[Mapping[str, Any]], None], ...] = (
    _bounded_concurrency, _inline_cannot_time_out, _executor_accepts, _resume_needs_name)


def validate_arguments(args: Mapping[str, Any]) -> None:
    """Apply ``_PARAMETER_RULES`` then ``_CROSS_RULES`` to ``rs.run``'s arguments."""
    for name, rule in _PARAMETER_RULES:
        rule.check(name, args[name])
    for cross_rule in _CROSS_RULES:
        cross_rule(args)


def storage_root(storage_path: str | os.PathLike[str] | None) -> str:
    """The absolute directory experiments live in (``~/raysweep_results`` by default)."""
    root = os.path.abspath(os.path.expanduser(
        os.fspath(storage_path) if storage_path is not None else _storage.default_storage_path()))
    if os.path.exists(root) and not os.path.isdir(root):
        raise ValueError(f"storage_path must be a directory, got {root!r}, which is a file")
    return root


# ------------------------------------------------------------------------------ the spec
@dataclass(frozen=True)
class RunSpec:
    """One run's arguments, valid and with their defaults resolved.

    ``searcher`` and ``scheduler`` are templates (copies of what the user passed, never set
    up): the experiment sets up copies of them, and ``restore`` pickles them. ``name``,
    ``seed`` and ``num_samples`` may still change when an experiment is resumed (they are
    then read back from it: ``dataclasses.replace`` gives the resolved spec).
    """

    objective: Any
    space: Mapping[str, Any]  # as given: pickled for ``restore``
    parsed_space: Space
    metric: str
    mode: str
    scope: str
    num_samples: int
    num_samples_given: bool
    searcher: Searcher
    scheduler: Scheduler
    seed: int | None
    max_concurrent: int | None
    resources_per_trial: Mapping[str, float] | None  # as given
    resources: dict[str, float]  # checked, as floats, with a cpu count
    stop: Any
    time_budget_s: float | None
    name: str | None
    storage_root: str
    resume: bool
    address: str | None
    verbose: int
    executor: str | Executor
    max_failures: int
    trial_timeout_s: float | None
    keep_checkpoints: int
    fail_fast: bool
    callbacks: tuple[Callback, ...]
    warm_start_given: bool
    priors: tuple[tuple[dict[str, Any], dict[str, Any]], ...]

    @property
    def objective_is_class(self) -> bool:
        """Whether the objective is a ``raysweep.Trainable`` class (it passed the rules)."""
        return isinstance(self.objective, type)

    def planned_trials(self) -> int | None:
        """The trials the searcher ends by itself after (grid search), or None."""
        return self.searcher.planned_trials(self.parsed_space, self.num_samples)

    @classmethod
    def from_arguments(cls, objective: Any, space: Any, **args: Any) -> RunSpec:
        """Validate ``rs.run``'s arguments and build the spec (nothing is written)."""
        given: dict[str, Any] = dict(args, objective=objective, space=space)
        validate_arguments(given)
        parsed_space = Space(space)
        priors = warm_start_pairs(given["warm_start"], parsed_space, given["metric"])
        scheduler = copy.deepcopy(make_scheduler(given["scheduler"]))
        if given["search"] is None:
            paired = scheduler.make_searcher()
            searcher = paired if paired is not None else make_searcher(
                "grid" if parsed_space.has_grid else "random")
        else:
            searcher = copy.deepcopy(make_searcher(given["search"]))
        scheduler.validate_searcher(searcher)
        searcher = scheduler.configure_searcher(searcher)
        num_samples = given["num_samples"]
        callbacks: Sequence[Callback] = given["callbacks"] or ()
        return cls(
            objective=objective, space=space, parsed_space=parsed_space,
            metric=given["metric"], mode=given["mode"], scope=given["scope"],
            num_samples=searcher.default_num_samples if num_samples is None else num_samples,
            num_samples_given=num_samples is not None, searcher=searcher, scheduler=scheduler,
            seed=given["seed"], max_concurrent=given["max_concurrent"],
            resources_per_trial=given["resources_per_trial"],
            resources=resources_of(given["resources_per_trial"]), stop=given["stop"],
            time_budget_s=given["time_budget_s"], name=given["name"],
            storage_root=storage_root(given["storage_path"]), resume=given["resume"],
            address=given["address"], verbose=given["verbose"], executor=given["executor"],
            max_failures=given["max_failures"], trial_timeout_s=given["trial_timeout_s"],
            keep_checkpoints=given["keep_checkpoints"], fail_fast=given["fail_fast"],
            callbacks=tuple(callbacks), warm_start_given=given["warm_start"] is not None,
            priors=tuple(priors))
