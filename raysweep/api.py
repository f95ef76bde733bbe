"""``run`` and ``restore``: validate, open or resume, drive, return ``Results``.

``run`` is three steps: ``RunSpec.from_arguments`` (``_spec.py``: every argument rule, the
defaults), ``open_experiment`` (``_open.py``: claim or resume the directory, set up the
searcher and scheduler, write the settings) and ``_drive`` below (the executor, reporter,
callbacks and controller; Ctrl-C; the end of the run, whatever ends it).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from raysweep import __version__ as VERSION  # noqa: F401 - the CLI reads it here
from raysweep import journal
from raysweep._open import Experiment, open_experiment, read_run_arguments
from raysweep._spec import RunSpec
from raysweep.callbacks import Callback, _FileLogger, default_loggers
from raysweep.errors import add_note
from raysweep.execution.base import Executor
from raysweep.execution.controller import Controller
from raysweep.execution.inline import InlineExecutor
from raysweep.progress import make_reporter
from raysweep.results import Results
from raysweep.schedulers import Scheduler
from raysweep.search import Searcher
from raysweep.trainable import Trainable

logger = logging.getLogger("raysweep")

#: What ``run`` tunes: a function of a config dict, or a ``raysweep.Trainable`` class.
Objective = Callable[[dict[str, Any]], Any] | type[Trainable]


def _learns(searcher: Searcher) -> bool:
    """Whether ``searcher``'s next proposals depend on the results it observes (TPE, GP,
    BOHB's KDE...), unlike random, grid and Sobol search."""
    kind = type(searcher)
    return kind.observe is not Searcher.observe or kind._observe is not Searcher._observe


def _make_executor(executor: str | Executor, resources: dict[str, float],
                   max_concurrent: int | None, address: str | None, verbose: int = 1,
                   prequeue: bool = True) -> Executor:
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


def run(objective: Objective, space: Mapping[str, Any], *, metric: str = "loss",
        mode: str = "min", num_samples: int | None = None,
        search: str | Searcher | None = None, scheduler: str | Scheduler | None = None,
        seed: int | None = None, max_concurrent: int | None = None,
        resources_per_trial: Mapping[str, float] | None = None,
        stop: Mapping[str, float] | Callable[..., bool] | None = None,
        time_budget_s: float | None = None, name: str | None = None,
        storage_path: str | os.PathLike[str] | None = None, resume: bool = False,
        address: str | None = None, verbose: int = 1, executor: str | Executor = "ray",
        max_failures: int = 0, trial_timeout_s: float | None = None,
        keep_checkpoints: int = 2, fail_fast: bool = False, scope: str = "last",
        callbacks: Sequence[Callback] | None = None,
        warm_start: str | os.PathLike[str] | Results | Sequence[tuple[Mapping[str, Any], Any]]
        | None = None) -> Results:
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
    spec = RunSpec.from_arguments(
        objective, space, metric=metric, mode=mode, num_samples=num_samples, search=search,
        scheduler=scheduler, seed=seed, max_concurrent=max_concurrent,
        resources_per_trial=resources_per_trial, stop=stop, time_budget_s=time_budget_s,
        name=name, storage_path=storage_path, resume=resume, address=address,
        verbose=verbose, executor=executor, max_failures=max_failures,
        trial_timeout_s=trial_timeout_s, keep_checkpoints=keep_checkpoints,
        fail_fast=fail_fast, scope=scope, callbacks=callbacks, warm_start=warm_start)
    experiment = open_experiment(spec)
    results, callbacks_run = _drive(experiment)
    for callback in callbacks_run:
        callback.on_experiment_end(results)
    _warn_unused_stop_keys(stop, results)
    _summarise(results, verbose)
    return results


def _drive(experiment: Experiment) -> tuple[Results, list[Callback]]:
    """Run the opened experiment to its end; return its results and the callbacks that ran
    (the user's and the default loggers). Every way it ends closes the directory."""
    spec, path, directory = experiment.spec, experiment.path, experiment.directory
    metric, mode, scope, name, settings = (spec.metric, spec.mode, spec.scope, spec.name,
                                           experiment.settings)
    callbacks: list[Callback] = list(spec.callbacks)
    never_ran = False
    _cleanup = _Ending()
    try:
        try:
            # max_concurrent bounds the trials a learning searcher has proposed and not yet
            # seen finish: no trial is queued ahead on a worker for it (random/grid/Sobol
            # keep queueing)
            executor_obj = _make_executor(
                spec.executor, spec.resources, spec.max_concurrent, spec.address,
                spec.verbose, prequeue=spec.max_concurrent is None
                or not _learns(experiment.searcher))
        except BaseException:
            never_ran = not experiment.existing  # leave no empty experiment
            raise
        # a searcher that ends by itself (grid) says how many trials it proposes: that is
        # the total shown, and the controller does not count trials against num_samples
        planned = experiment.planned_trials
        reporter = make_reporter(metric=metric, mode=mode, verbose=spec.verbose,
                                 total=spec.num_samples if planned is None else planned,
                                 time_budget_s=spec.time_budget_s, scope=scope, name=name)
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
            executor=executor_obj, searcher=experiment.searcher,
            scheduler=experiment.scheduler, metric=metric, mode=mode,
            num_samples=spec.num_samples if planned is None else None,
            storage=directory, time_budget_s=spec.time_budget_s,
            max_failures=spec.max_failures, trial_timeout_s=spec.trial_timeout_s,
            keep_checkpoints=spec.keep_checkpoints, fail_fast=spec.fail_fast,
            callbacks=callbacks, reporter=reporter,
            objective_is_class=spec.objective_is_class, snapshot=snapshot)
        events = experiment.events
        if events:
            controller.replay(events)
        directory.append(journal.session("start", executor_obj.wall_time()))
        try:
            executor_obj.setup(spec.objective, metric=metric, mode=mode, stop=spec.stop)
        except BaseException as exc:
            # e.g. no Ray cluster answered: leave no empty experiment
            never_ran = not experiment.existing
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
                  f"raysweep.run(..., name={name!r}, storage_path={spec.storage_root!r}, "
                  f"resume=True) or raysweep.restore({path!r}, objective)", file=sys.stderr)
            _quiet_traceback(exc)
            raise
        finally:
            # Every way a run ends leaves each trial final or resumable, never RUNNING; and
            # the first error is the one raised: errors of the cleanup are attached to it.
            if not completed:
                _cleanup(controller.settle)
            _cleanup(reporter.close)
            _cleanup(executor_obj.shutdown)
            _cleanup(directory.append, journal.session("end" if completed else "interrupted",
                                                       executor_obj.wall_time()))
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
    return results, callbacks


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
                add_note(failing, f"raysweep: while ending the run, {type(exc).__name__}: {exc}")
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
        value = (results.best_result or {}).get(results.metric)
        print(f"[raysweep] best {results.metric}={value!r} "
              f"(trial {best.trial_id}) config={best.config}")
    if errors:
        first_id, first_text = next(iter(errors.items()))
        print(f"[raysweep] {len(errors)} trial(s) failed; first failure, trial {first_id}:\n"
              f"{first_text}", file=sys.stderr)


def restore(path: str | os.PathLike[str], objective: Objective, **overrides: Any) -> Results:
    """Continue the experiment stored at ``path`` (same as ``run(..., resume=True)``).

    The space, searcher, scheduler and other settings are read back from the experiment
    directory; ``overrides`` replace any of them (e.g. ``num_samples=200`` to extend it).
    Only restore directories you trust: the stored settings are unpickled.

    Example:
        >>> import raysweep as rs
        >>> results = rs.restore("~/raysweep_results/svc", train)  # doctest: +SKIP
    """
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    space, kwargs = read_run_arguments(path, overrides)
    return run(objective, space, **kwargs)
