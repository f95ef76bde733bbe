"""``run`` and ``restore``: validate, assemble, drive, return ``Results``."""

from __future__ import annotations

import copy
import datetime as _dt
import inspect
import logging
import math
import os
import secrets
import shutil
import sys
import unicodedata
from collections.abc import Mapping
from typing import Any

import cloudpickle
import numpy as np

from raysweep import storage as _storage
from raysweep.callbacks import Callback, _FileLogger, default_loggers
from raysweep.errors import ExperimentLocked, ResumeMismatch
from raysweep.execution.base import Executor
from raysweep.execution.controller import Controller, check_resume
from raysweep.execution.inline import InlineExecutor
from raysweep.progress import make_reporter
from raysweep.results import Results, last_metric_result, read_settings
from raysweep.schedulers import make_scheduler
from raysweep.search import make_searcher
from raysweep.space import Space, flatten
from raysweep.trainable import Trainable

logger = logging.getLogger("raysweep")

_RUN_ARGS_FILE = "run_args.pkl"
_WARM_START_FILE = "warm_start.pkl"
from raysweep import __version__ as VERSION  # noqa: E402


def _check_objective(objective: Any) -> bool:
    """Return whether ``objective`` is a Trainable class; raise TypeError if unusable."""
    if isinstance(objective, type):
        if issubclass(objective, Trainable):
            if objective.step is Trainable.step:
                raise TypeError(f"objective: the Trainable {objective.__name__} must implement "
                                "step() (one training iteration, returning a dict of metrics)")
            limit = objective.max_iterations
            if limit is not None and (isinstance(limit, bool) or not isinstance(
                    limit, (int, np.integer)) or limit < 1):
                raise ValueError(f"objective: {objective.__name__}.max_iterations must be None "
                                 f"or an int >= 1, got {limit!r}")
            return True
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
        return False
    try:
        signature.bind({})
    except TypeError:
        name = getattr(objective, "__name__", type(objective).__name__)
        raise TypeError(f"objective {name}{signature} cannot be called with a config dict: it "
                        "must take the config as its only required argument") from None
    return False


def _check_int(name: str, value: Any, low: int, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def _check_positive(name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


#: Keys that look like a typo of ``cpu``/``gpu`` (Ray's ``num_cpus`` spelling, plurals).
_RESOURCE_TYPOS = {"cpus": "cpu", "num_cpus": "cpu", "gpus": "gpu", "num_gpus": "gpu"}


def _check_resources(resources: Any) -> dict[str, float]:
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
    out.setdefault("cpu", 1.0) if not any(k.lower() == "cpu" for k in out) else None
    return out


def _check_stop(stop: Any) -> None:
    if stop is None:
        return
    if callable(stop):
        try:
            signature = inspect.signature(stop)
        except (TypeError, ValueError):
            return
        for args in (("trial_id", {}), ({},)):
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


def _check_name(name: Any) -> None:
    """An experiment name is one directory below storage_path, printed by ``raysweep ls``:
    no separators, no control characters (escape sequences would reach the terminal)."""
    if name is None:
        return
    separators = [sep for sep in (os.sep, os.altsep) if sep]
    if not isinstance(name, str) or not name or name in (".", "..") or "\0" in name or \
            any(sep in name for sep in separators):
        raise ValueError(f"name must be a non-empty string without {os.sep!r} (and not '.' or "
                         f"'..'), got {name!r}")
    if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in name):
        raise ValueError(f"name must not contain control characters (escape sequences, "
                         f"newlines, tabs), got {name!r}")


def _check_storage_path(root: str) -> None:
    if os.path.exists(root) and not os.path.isdir(root):
        raise ValueError(f"storage_path must be a directory, got {root!r}, which is a file")


def _learns(searcher: Any) -> bool:
    """Whether ``searcher``'s next proposals depend on the results it observes (TPE, GP,
    BOHB's KDE...), unlike random, grid and Sobol search."""
    from raysweep.search.base import Searcher  # noqa: PLC0415

    kind = type(searcher)
    return kind.observe is not Searcher.observe or kind._observe is not Searcher._observe


def _make_executor(executor: Any, resources, max_concurrent, address,
                   verbose: int = 1, prequeue: bool = True) -> Executor:
    if isinstance(executor, Executor):
        return executor
    if executor == "ray":
        if verbose >= 1 and "ray" not in sys.modules:  # importing Ray alone takes seconds
            print("[raysweep] loading Ray ...", file=sys.stderr, flush=True)
        from raysweep.execution.ray_executor import RayExecutor  # noqa: PLC0415

        return RayExecutor(resources=resources, max_concurrent=max_concurrent, address=address,
                           verbose=verbose, prequeue=prequeue)
    if executor == "inline":
        return InlineExecutor()
    raise ValueError(f"executor must be 'ray', 'inline' or an Executor instance, got "
                     f"{executor!r}")


def _describe(algorithm: Any) -> str:
    return getattr(algorithm, "name", None) or type(algorithm).__name__


def run(objective: Any, space: Mapping[str, Any], *, metric: str = "loss", mode: str = "min",
        num_samples: int | None = None, search: Any = None, scheduler: Any = None,
        seed: int | None = None, max_concurrent: int | None = None,
        resources_per_trial: Mapping[str, float] | None = None,
        stop: Mapping[str, float] | Any = None, time_budget_s: float | None = None,
        name: str | None = None, storage_path: str | os.PathLike[str] | None = None,
        resume: bool = False, address: str | None = None, verbose: int = 1,
        executor: Any = "ray", max_failures: int = 0, trial_timeout_s: float | None = None,
        keep_checkpoints: int = 2, fail_fast: bool = False, scope: str = "last",
        callbacks: list[Callback] | None = None, warm_start: Any = None) -> Results:
    """Tune ``objective`` over ``space`` and return every trial's results.

    Args:
        objective: ``f(config)`` returning a number, a dict of metrics, or calling
            ``raysweep.report(...)`` once per iteration; or a ``raysweep.Trainable`` class.
        space: A dict of domains (``rs.uniform(0, 1)``), scipy.stats distributions, lists
            (categorical) and constants; nested dicts and conditional ``rs.choice`` of dicts.
        metric: The reported key to optimise (a returned number is recorded under it).
        mode: ``"min"`` or ``"max"``.
        num_samples: Trials to run (random/model-based search; default 10), or how many
            times to repeat the grid (grid search; default 1).
        search: A name (``"random"``, ``"grid"``, ``"sobol"``, ``"tpe"``, ``"gp"``,
            ``"evolution"``, ``"pso"``) or a ``raysweep.search`` object. Default: grid when
            the space has ``rs.grid`` domains, else random (or the scheduler's own, for BOHB).
        scheduler: A name (``"fifo"``, ``"asha"``, ``"hyperband"``, ``"median"``, ``"pbt"``,
            ``"bohb"``) or a ``raysweep.schedulers`` object. Default FIFO.
        seed: Seeds every random choice; the same seed gives the same configs.
        max_concurrent: Trials running at once (default: what the resources allow).
        resources_per_trial: e.g. ``{"cpu": 1, "gpu": 0.5, "my_resource": 1}``.
        stop: ``{"training_iteration": 10}`` or ``{metric: threshold}`` (reached in the
            direction of ``mode``) or ``f(trial_id, result) -> bool``; ends single trials.
        time_budget_s: Wall-clock budget of this run; running trials are stopped at it.
        name: Experiment name (default: a timestamp); the directory is storage_path/name.
        storage_path: Where experiments live (default ``~/raysweep_results``).
        resume: Continue the experiment ``name`` if it exists (finished trials are kept,
            unfinished ones restart from their last checkpoint).
        address: A Ray cluster to join (``"auto"``, ``"ray://..."``); also ``RAY_ADDRESS``.
        verbose: 0 silent, 1 progress lines and a summary, 2 also a line per finished trial.
        executor: ``"ray"`` (default), ``"inline"`` (in-process, one trial at a time, for
            debugging) or an ``Executor``.
        max_failures: Retries of a trial whose worker process died.
        trial_timeout_s: Stop (as ERROR) a trial that runs longer than this.
        keep_checkpoints: Checkpoints kept per trial (the latest is always kept).
        fail_fast: Stop the run at the first trial error and raise it.
        scope: ``"last"`` compares each trial's last result; ``"all"`` its best one.
        callbacks: ``raysweep.Callback`` objects.
        warm_start: Results known before this run, fed to the searcher's model (not run
            again): a previous experiment (its directory or its ``Results``; its finished
            trials that reported ``metric`` and fit ``space``) or a list of
            ``(config, result)`` pairs (``result`` a dict of metrics or a number). Stored in
            the experiment, so resuming it needs no ``warm_start`` again.

    Returns:
        Results: ``.dataframe()``, ``.history()``, ``.best_config``, ``.best_result``, ...

    Example:
        >>> import raysweep as rs
        >>> results = rs.run(lambda c: (c["x"] - 3) ** 2, {"x": rs.uniform(-10, 10)},
        ...                  metric="loss", mode="min", num_samples=50)  # doctest: +SKIP
    """
    # ---- validate everything before any trial starts
    objective_is_class = _check_objective(objective)
    if not isinstance(space, Mapping):
        raise TypeError(f"space must be a dict of parameter names to domains, got "
                        f"{type(space).__name__}")
    if not isinstance(metric, str) or not metric:
        raise TypeError(f"metric must be a non-empty string, got {metric!r}")
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    if scope not in ("last", "all"):
        raise ValueError(f"scope must be 'last' or 'all', got {scope!r}")
    _check_int("num_samples", num_samples, 1)
    _check_int("max_concurrent", max_concurrent, 1)
    _check_int("max_failures", max_failures, 0, allow_none=False)
    _check_int("keep_checkpoints", keep_checkpoints, 1, allow_none=False)
    _check_int("verbose", verbose, 0, allow_none=False)
    _check_positive("time_budget_s", time_budget_s)
    _check_positive("trial_timeout_s", trial_timeout_s)
    if seed is not None:
        _check_int("seed", seed, 0)
    _check_stop(stop)
    resources = _check_resources(resources_per_trial)
    if executor == "ray" and max_concurrent is None and all(v == 0 for v in resources.values()):
        raise ValueError(f"resources_per_trial={resources_per_trial!r} asks for no resources, so "
                         "nothing bounds how many trials run at once; pass max_concurrent=")
    inline = executor == "inline" or isinstance(executor, InlineExecutor)
    if inline and trial_timeout_s is not None:
        raise ValueError(f"trial_timeout_s={trial_timeout_s!r} needs the Ray executor: the inline "
                         "executor runs trials in the driver's process and cannot stop one")
    if isinstance(executor, Executor):  # e.g. a simulated executor refuses Ray-only arguments
        executor.check_run_arguments(resources_per_trial=resources_per_trial, address=address,
                                     max_concurrent=max_concurrent)
    parsed_space = Space(space)
    priors = _warm_start_pairs(warm_start, parsed_space, metric)
    scheduler_obj = copy.deepcopy(make_scheduler(scheduler))
    if search is None:
        paired = scheduler_obj.make_searcher()
        searcher_obj = paired if paired is not None else make_searcher(
            "grid" if parsed_space.has_grid else "random")
    else:
        searcher_obj = copy.deepcopy(make_searcher(search))
    scheduler_obj.validate_searcher(searcher_obj)
    num_samples_given = num_samples is not None
    if num_samples is None:
        num_samples = 1 if searcher_obj.supports_grid else 10
    if callbacks is not None and not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"callbacks must be a list of raysweep.Callback instances, got "
                        f"{type(callbacks).__name__}")
    callbacks = list(callbacks or [])
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(f"callbacks must be raysweep.Callback instances, got "
                            f"{type(callback).__name__}")
    if address is not None and not isinstance(address, str):
        raise TypeError(f"address must be a string such as 'auto' or 'ray://host:10001', got "
                        f"{type(address).__name__}")
    if resume and name is None:
        raise ValueError("resume=True needs the name= of the experiment to continue")
    _check_name(name)

    # ---- experiment directory
    root = os.path.abspath(os.path.expanduser(
        os.fspath(storage_path) if storage_path is not None else _storage.default_storage_path()))
    _check_storage_path(root)
    if name is None:
        stamp = _dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        name = f"sweep_{stamp}"
        os.makedirs(root, exist_ok=True)
        suffix = 1
        while True:  # claim the directory atomically: parallel drivers get distinct names
            try:
                os.mkdir(os.path.join(root, name))
                break
            except FileExistsError:
                suffix += 1
                name = f"sweep_{stamp}_{suffix}"
    path = os.path.join(root, name)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"name={name!r}: {path!r} is a file, not an experiment directory")
    directory = _storage.ExperimentDir(path)
    existing = _storage.is_experiment_dir(path)
    journal_file = os.path.join(path, _storage.JOURNAL_FILE)
    if not existing and os.path.isfile(journal_file) and os.path.getsize(journal_file) > 0:
        raise ValueError(
            f"name={name!r}: {path!r} holds a journal ({_storage.JOURNAL_FILE}, "
            f"{os.path.getsize(journal_file)} bytes) but no {_storage.EXPERIMENT_FILE}, so its "
            "settings are lost and a new run would mix two experiments in one journal; put "
            f"back its {_storage.EXPERIMENT_FILE}, or move the directory aside, or choose "
            "another name")
    owner = _storage.running_driver(path) if existing else None
    if owner is not None:  # before any other check: nothing else is the problem
        raise ExperimentLocked(f"experiment {path!r} already exists: it is already being run "
                               f"by {owner}; wait for it to finish or choose another name")
    if existing and not resume:
        raise ValueError(f"experiment {path!r} already exists; pass resume=True to continue "
                         "it, or choose another name")
    stored = read_settings(path) if existing else None
    if stored is not None and seed is None:
        seed = stored.get("seed")
    if stored is not None and not num_samples_given:  # resume=True alone: as stored
        num_samples = int(stored.get("num_samples", num_samples))
    if seed is None:
        seed = secrets.randbits(31)
    settings = {
        "version": VERSION, "format": _storage.FORMAT_VERSION, "name": name, "metric": metric,
        "mode": mode, "scope": scope, "num_samples": num_samples,
        "space": parsed_space.to_json(), "search": _describe(searcher_obj),
        "scheduler": _describe(scheduler_obj), "seed": int(seed),
        "resources_per_trial": resources, "max_failures": max_failures,
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
    }
    if stored is not None:
        check_resume(settings, stored)
        for key in ("search", "scheduler"):
            if stored.get(key) is not None and stored.get(key) != settings[key]:
                raise ResumeMismatch(
                    f"cannot resume: {key} changed (stored {stored.get(key)!r}, now "
                    f"{settings[key]!r}); pass {key}= as in the original run, or continue it "
                    f"with raysweep.restore({path!r}, objective)")
        if stored.get("seed") != settings["seed"]:
            raise ResumeMismatch(f"cannot resume: seed changed (stored {stored.get('seed')}, "
                                 f"now {seed})")
        created = 0 if searcher_obj.supports_grid else _count_created(path)
        if num_samples < created:
            logger.warning("raysweep: resume with num_samples=%d but the experiment already has "
                           "%d trials; keeping them all (no new trial runs)", num_samples,
                           created)
            num_samples = settings["num_samples"] = created
        settings["created"] = stored.get("created", settings["created"])
        stored_priors = _read_warm_start(path)
        if warm_start is not None and _prior_key(priors) != _prior_key(stored_priors):
            raise ResumeMismatch(
                f"cannot resume: warm_start changed (the experiment was seeded with "
                f"{len(stored_priors)} results, now {len(priors)}); omit warm_start to "
                f"resume with the stored ones")
        priors = stored_priors
    settings["warm_start"] = len(priors)

    # ---- assemble
    searcher_template = copy.deepcopy(searcher_obj)
    scheduler_template = copy.deepcopy(scheduler_obj)
    root_seq = np.random.SeedSequence(int(seed))
    search_seed, scheduler_seed = root_seq.spawn(2)
    searcher_obj.setup(parsed_space, metric, mode, search_seed, num_samples)
    for config, result in priors:
        searcher_obj.add_evaluated(config, result)
    scheduler_obj.setup(metric, mode, scheduler_seed)
    # max_concurrent bounds the trials a learning searcher has proposed and not yet seen
    # finish: no trial is queued ahead on a worker for it (random/grid/Sobol keep queueing)
    executor_obj = _make_executor(executor, resources, max_concurrent, address, verbose,
                                  prequeue=max_concurrent is None or not _learns(searcher_obj))

    directory.lock()
    never_ran = False
    _cleanup = _Ending()
    try:
        if priors and not existing:  # before the settings that make the directory a resumable
            _storage.atomic_write(os.path.join(path, _WARM_START_FILE), cloudpickle.dumps(priors))
        # run_args first: experiment.json is what makes the directory an experiment, and
        # rs.restore needs both (a driver killed between the two leaves no half)
        try:
            _storage.atomic_write(os.path.join(path, _RUN_ARGS_FILE), cloudpickle.dumps({
                "space": space, "search": searcher_template, "scheduler": scheduler_template,
                "stop": stop, "metric": metric, "mode": mode, "num_samples": num_samples,
                "resources_per_trial": resources_per_trial, "max_concurrent": max_concurrent,
                "max_failures": max_failures, "keep_checkpoints": keep_checkpoints,
                "scope": scope, "seed": int(seed), "trial_timeout_s": trial_timeout_s}))
        except Exception as exc:  # noqa: BLE001 - restore() then needs the arguments again
            logger.debug("raysweep: run arguments not picklable (%s); rs.restore() will need "
                         "them passed again", exc)
        directory.write_settings(settings)
        events = list(_storage.read_journal(path)) if existing else []
        if events:
            extended = stored is not None and searcher_obj.supports_grid and \
                num_samples > int(stored.get("num_samples", num_samples))
            events = _live_events(events, extended)
        directory.open_journal()
        reporter = make_reporter(metric=metric, mode=mode, verbose=verbose,
                                 total=None if searcher_obj.supports_grid else num_samples,
                                 time_budget_s=time_budget_s, scope=scope, name=name)
        callbacks = default_loggers(callbacks, path) + callbacks
        for callback in callbacks:
            callback.on_experiment_start(path, settings)
        def snapshot(live: Controller) -> None:
            try:
                directory.write_results_csv(Results(
                    live.trials.values(), metric=metric, mode=mode, scope=scope,
                    path=None).dataframe())
            except Exception as exc:  # noqa: BLE001 - the journal still has everything
                logger.warning("raysweep: could not write results.csv: %s", exc)

        controller = Controller(
            executor=executor_obj, searcher=searcher_obj, scheduler=scheduler_obj,
            metric=metric, mode=mode,
            num_samples=None if searcher_obj.supports_grid else num_samples,
            storage=directory, time_budget_s=time_budget_s, max_failures=max_failures,
            trial_timeout_s=trial_timeout_s, keep_checkpoints=keep_checkpoints,
            fail_fast=fail_fast, callbacks=callbacks, reporter=reporter,
            objective_is_class=objective_is_class, snapshot=snapshot)
        if events:
            controller.replay(events)
        directory.append({"e": "session", "kind": "start", "t": round(executor_obj.wall_time(), 3)})
        try:
            executor_obj.setup(objective, metric=metric, mode=mode, stop=stop)
        except BaseException as exc:
            never_ran = not existing  # e.g. no Ray cluster answered: leave no empty experiment
            if isinstance(exc, KeyboardInterrupt):  # Ctrl-C while the workers were starting
                print("\n[raysweep] interrupted while starting the workers: no trial ran, "
                      + ("nothing was saved (the experiment was not created)" if never_ran
                         else f"the experiment in {path} is as it was"), file=sys.stderr)
                _quiet_traceback(exc)
            raise
        completed = False
        try:
            controller.run()
            completed = True
        except KeyboardInterrupt as exc:
            reporter.close()  # give the terminal back before printing
            print(f"\n[raysweep] interrupted; state saved in {path}\n[raysweep] resume with "
                  f"raysweep.run(..., name={name!r}, storage_path={root!r}, resume=True) "
                  f"or raysweep.restore({path!r}, objective)", file=sys.stderr)
            _quiet_traceback(exc)
            raise
        finally:
            # Every way a run ends leaves each trial final or resumable, never RUNNING; and
            # the first error is the one raised: errors of the cleanup are attached to it.
            if not completed:
                _cleanup(controller.settle)
            _cleanup(reporter.close)
            _cleanup(executor_obj.shutdown)
            _cleanup(directory.append, {
                "e": "session", "kind": "end" if completed else "interrupted",
                "t": round(executor_obj.wall_time(), 3)})
            _cleanup(directory.flush, True)
            results = Results(controller.trials.values(), metric=metric, mode=mode, scope=scope,
                              path=path, settings=settings, schedules=controller.state.schedules)
            try:
                directory.write_results_csv(results.dataframe())
            except Exception as exc:  # noqa: BLE001 - the journal still has everything
                logger.warning("raysweep: could not write results.csv: %s", exc)
    finally:
        _cleanup(directory.close)
        for callback in callbacks:  # their files are closed even when the run raised
            if isinstance(callback, _FileLogger):
                _cleanup(callback.close)
        if never_ran:
            shutil.rmtree(path, ignore_errors=True)
        _cleanup.raise_first()
    for callback in callbacks:
        callback.on_experiment_end(results)
    _warn_unused_stop_keys(stop, results)
    _summarise(results, verbose)
    return results


class _Ending:
    """The cleanup steps of a run's end. The first error is the one the user sees: when the
    run is already failing, an error of a cleanup step is attached to it (``add_note``)
    instead of replacing it (a logger's ``OSError`` on a full disk used to hide the journal's
    own message); otherwise the first such error is raised once every step has run."""

    def __init__(self) -> None:
        self.errors: list[Exception] = []

    def __call__(self, step, *args: Any) -> None:
        failing = sys.exc_info()[1]  # in a finally block: the error ending the run, if any
        try:
            step(*args)
        except Exception as exc:  # noqa: BLE001 - see the class docstring
            if failing is not None:
                failing.add_note(f"raysweep: while ending the run, {type(exc).__name__}: "
                                 f"{exc}")
            else:
                self.errors.append(exc)

    def raise_first(self) -> None:
        if self.errors and sys.exc_info()[1] is None:
            raise self.errors[0]


def _quiet_traceback(interrupt: KeyboardInterrupt) -> None:
    """The resume hint is printed: when this Ctrl-C ends a script, end it without a
    traceback (the exit status stays 130, as for any Ctrl-C). Code that catches the
    ``KeyboardInterrupt`` sees it as usual; so does IPython, which has its own hook."""
    try:
        interrupt._raysweep_saved = True  # type: ignore[attr-defined]
    except AttributeError:
        return
    previous = sys.excepthook
    if getattr(previous, "_raysweep", False):
        return

    def hook(kind, value, traceback):
        if isinstance(value, KeyboardInterrupt) and getattr(value, "_raysweep_saved", False):
            return
        previous(kind, value, traceback)

    hook._raysweep = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def _live_events(events: list[dict[str, Any]], extended: bool) -> list[dict[str, Any]]:
    """The journal to replay: without "searcher finished" marks that no longer hold (a grid
    resumed with more repeats, or a mark that trials of a later extension followed)."""
    last_new = max((i for i, event in enumerate(events) if event["e"] == "new"), default=-1)
    return [event for i, event in enumerate(events)
            if event["e"] != "finished" or (not extended and i > last_new)]


def _count_created(path: str) -> int:
    """How many trials the journal at ``path`` created (a cheap scan; a torn line is not one)."""
    try:
        with open(os.path.join(path, _storage.JOURNAL_FILE), "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return 0
    data = b"\n" + data[:data.rfind(b"\n") + 1]
    return data.count(b'\n{"e":"new",')


def _warn_unused_stop_keys(stop: Any, results: Results) -> None:
    """A ``stop`` key that no trial ever reported is most likely a typo: say so."""
    if not isinstance(stop, Mapping) or not len(results):
        return
    seen: set[str] = set()
    for trial in results.trials:
        seen.update(trial.last_result or ())
        seen.update(trial.best_result or ())
    if not seen:
        return
    missing = sorted(k for k in stop if k not in seen)
    if missing and results.path is not None:  # reported now and then (e.g. every 5 epochs)?
        try:
            seen.update(results.history().columns)
        except Exception:  # noqa: BLE001 - a warning is not worth failing the run
            pass
        missing = [k for k in missing if k not in seen]
    if missing:
        shown = sorted(k for k in seen if k != "trial_id")
        logger.warning("raysweep: stop=%r: no trial reported %s, so that criterion never "
                       "applied; reported keys: %s", dict(stop), ", ".join(map(repr, missing)),
                       shown)


def _warm_start_pairs(warm_start: Any, space: Space,
                      metric: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``run(warm_start=...)`` as a list of ``(config, result)`` pairs that fit ``space``."""
    if warm_start is None:
        return []
    if isinstance(warm_start, (str, os.PathLike)):
        from raysweep.results import load

        try:
            warm_start = load(warm_start)
        except (FileNotFoundError, ValueError) as exc:
            raise ValueError(f"warm_start: cannot read the experiment {os.fspath(warm_start)!r}: "
                             f"{exc}") from exc
    if isinstance(warm_start, Results):
        pairs = [(t.config, last_metric_result(t, metric)) for t in warm_start.trials
                 if t.status.is_finished and t.last_result]
        source = f"the experiment {warm_start.path!r}" if warm_start.path else "the results"
    elif isinstance(warm_start, (list, tuple)):
        pairs = []
        for i, item in enumerate(warm_start):
            if not (isinstance(item, (list, tuple)) and len(item) == 2
                    and isinstance(item[0], Mapping)):
                raise TypeError(f"warm_start[{i}]: expected a (config dict, result) pair, got "
                                f"{_short_repr(item)}")
            config, result = item
            if isinstance(result, Mapping):
                result = dict(result)
            elif isinstance(result, (int, float, np.number)) and not isinstance(result, bool):
                result = {metric: float(result)}
            else:
                raise TypeError(f"warm_start[{i}]: the result must be a dict of metrics or a "
                                f"number, got {_short_repr(result)}")
            pairs.append((dict(config), result))
        source = "warm_start"
    else:
        raise TypeError(f"warm_start must be an experiment directory, a raysweep Results or a "
                        f"list of (config, result) pairs, got {type(warm_start).__name__}")
    fitted: list[tuple[dict[str, Any], dict[str, Any]]] = []
    reasons: list[str] = []
    scratch = np.random.default_rng(0)  # complete() needs one; nothing is left to sample
    for config, result in pairs:
        value = result.get(metric)
        if not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
            reasons.append(f"no finite {metric!r} in its result")
            continue
        try:
            full = space.complete(config, scratch)
        except ValueError as exc:  # InvalidSpace: a key or a category the space lacks
            reasons.append(str(exc))
            continue
        missing = sorted(set(flatten(full)) - set(flatten(config)))
        if missing:
            reasons.append(f"no value for {missing[0]!r}")
            continue
        fitted.append((full, dict(result)))
    if pairs and not fitted:
        raise ValueError(f"warm_start: none of the {len(pairs)} results of {source} can seed "
                         f"this run; the first: {reasons[0]}")
    if reasons:
        logger.warning("raysweep: warm_start: %d of %d results of %s skipped (the first: %s)",
                       len(reasons), len(pairs), source, reasons[0])
    return fitted


def _read_warm_start(path: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    try:
        with open(os.path.join(path, _WARM_START_FILE), "rb") as handle:
            return cloudpickle.load(handle)
    except FileNotFoundError:
        return []


def _prior_key(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> str:
    return repr(pairs)


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _summarise(results: Results, verbose: int) -> None:
    errors = results.errors
    if verbose < 1:
        if errors:
            first_id, first_text = next(iter(errors.items()))
            logger.warning("raysweep: %d of %d trials failed; first failure (trial %s):\n%s",
                           len(errors), len(results), first_id, first_text)
        return
    counts = ", ".join(f"{v} {k}" for k, v in results.status_counts().items())
    print(f"[raysweep] {len(results)} trials ({counts}); results in {results.path}")
    best = results.best_trial
    if best is not None:
        print(f"[raysweep] best {results.metric}={results.best_result.get(results.metric)!r} "
              f"(trial {best.trial_id}) config={best.config}")
    if errors:
        first_id, first_text = next(iter(errors.items()))
        print(f"[raysweep] {len(errors)} trial(s) failed; first failure, trial {first_id}:\n"
              f"{first_text}", file=sys.stderr)


def restore(path: str | os.PathLike[str], objective: Any, **overrides: Any) -> Results:
    """Continue the experiment stored at ``path`` (same as ``run(..., resume=True)``).

    The space, searcher, scheduler and other settings are read back from the experiment
    directory; ``overrides`` replace any of them (e.g. ``num_samples=200`` to extend it).
    Only restore directories you trust: the stored settings are unpickled.

    Example:
        >>> import raysweep as rs
        >>> results = rs.restore("~/raysweep_results/svc", train)  # doctest: +SKIP
    """
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    read_settings(path)  # a clear error for a missing or foreign directory
    args_file = os.path.join(path, _RUN_ARGS_FILE)
    if not os.path.isfile(args_file):
        raise FileNotFoundError(f"{path!r} has no stored run arguments ({_RUN_ARGS_FILE}); "
                                "call raysweep.run(..., name=..., resume=True) with the "
                                "original space instead")
    for key in ("name", "storage_path"):
        if key in overrides:
            raise TypeError(f"restore: {key}= comes from the path {path!r}; it cannot be "
                            "overridden")
    if not overrides.pop("resume", True):
        raise TypeError("restore: resume=False makes no sense; use raysweep.run() for a new "
                        "experiment")
    try:
        with open(args_file, "rb") as handle:
            kwargs = cloudpickle.load(handle)
    except Exception as exc:  # noqa: BLE001 - e.g. a module the space refers to is gone
        raise ValueError(f"restore: cannot read the stored run arguments {args_file!r} "
                         f"({type(exc).__name__}: {exc}); call raysweep.run(..., name=..., "
                         "resume=True) with the original space instead") from exc
    space = overrides.pop("space", kwargs.pop("space"))
    kwargs.update(overrides)
    kwargs["name"] = os.path.basename(path)
    kwargs["storage_path"] = os.path.dirname(path)
    kwargs["resume"] = True
    return run(objective, space, **kwargs)
