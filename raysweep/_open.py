"""Open or resume an experiment: the step between a ``RunSpec`` and the driver loop.

``open_experiment(spec)`` claims the directory (``storage_root/name``; a new timestamped name
is claimed atomically), refuses what cannot be run (a journal without settings, another
driver's lock, an existing experiment without ``resume=True``, a resume whose settings,
seed or warm start changed), resolves what a resume reads back (seed, ``num_samples``, the
warm-start results), sets up copies of the searcher and scheduler, and only then locks the
directory and writes it: warm-start results, the run arguments ``restore`` needs, the
settings; last it reads the journal to replay and opens it for appending. Everything on disk
goes through ``storage``.
"""

from __future__ import annotations

import copy
import datetime as _dt
import logging
import os
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

import cloudpickle
import numpy as np

from raysweep import __version__ as VERSION
from raysweep import journal
from raysweep import storage as _storage
from raysweep._spec import RunSpec
from raysweep._warm_start import WARM_START_FILE, Pair, prior_key, read_warm_start
from raysweep.errors import ExperimentLocked, ResumeMismatch, add_note
from raysweep.execution.controller import check_resume
from raysweep.results import read_settings
from raysweep.schedulers import Scheduler
from raysweep.search import Searcher

logger = logging.getLogger("raysweep")

RUN_ARGS_FILE = "run_args.pkl"


@dataclass
class Experiment:
    """An experiment directory opened for one run (locked, its journal open).

    ``spec`` is the run's spec with ``name``, ``seed`` and ``num_samples`` resolved (a resume
    reads them back); ``searcher`` and ``scheduler`` are set up (and warm-started);
    ``events`` is the journal to replay (empty for a new experiment).
    """

    spec: RunSpec
    path: str
    directory: _storage.ExperimentDir
    existing: bool
    settings: dict[str, Any]
    searcher: Searcher
    scheduler: Scheduler
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def planned_trials(self) -> int | None:
        """The trials the searcher ends by itself after (grid search), or None."""
        return self.spec.planned_trials()


def open_experiment(spec: RunSpec) -> Experiment:
    """Claim, check, resolve, set up, then lock and write (see the module docstring)."""
    name = spec.name if spec.name is not None else _claim_new_name(spec.storage_root)
    path = os.path.join(spec.storage_root, name)
    existing = _check_directory(path, name, spec.resume)
    stored = read_settings(path) if existing else None
    spec, settings, priors = _resolve(replace(spec, name=name), path, stored)
    searcher, scheduler = _set_up(spec, priors)
    directory = _storage.ExperimentDir(path)
    directory.lock()
    try:
        events = _write(spec, directory, existing, stored, settings, priors)
    except BaseException as failure:
        try:
            directory.close()
        except Exception as exc:  # noqa: BLE001 - the first error is the one raised
            add_note(failure, f"raysweep: while ending the run, {type(exc).__name__}: {exc}")
        raise
    return Experiment(spec=spec, path=path, directory=directory, existing=existing,
                      settings=settings, searcher=searcher, scheduler=scheduler, events=events)


def _claim_new_name(root: str) -> str:
    """A fresh ``sweep_<timestamp>`` directory, created atomically: parallel drivers get
    distinct names."""
    stamp = _dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    name = f"sweep_{stamp}"
    os.makedirs(root, exist_ok=True)
    suffix = 1
    while True:
        try:
            os.mkdir(os.path.join(root, name))
            return name
        except FileExistsError:
            suffix += 1
            name = f"sweep_{stamp}_{suffix}"


def _check_directory(path: str, name: str, resume: bool) -> bool:
    """Refuse a directory this run cannot use; return whether it is an experiment."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"name={name!r}: {path!r} is a file, not an experiment directory")
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
    return existing


def _describe(algorithm: Any) -> str:
    return getattr(algorithm, "name", None) or type(algorithm).__name__


def _resolve(spec: RunSpec, path: str, stored: dict[str, Any] | None,
             ) -> tuple[RunSpec, dict[str, Any], list[Pair]]:
    """The seed and ``num_samples`` (read back on a resume), the settings to store and the
    warm-start results; a resume that changed what it must not raises ``ResumeMismatch``."""
    seed, num_samples = spec.seed, spec.num_samples
    if stored is not None and seed is None:
        seed = stored.get("seed")
    if stored is not None and not spec.num_samples_given:  # resume=True alone: as stored
        num_samples = int(stored.get("num_samples", num_samples))
    if seed is None:
        seed = secrets.randbits(31)
    priors = list(spec.priors)
    settings = {
        "version": VERSION, "format": _storage.FORMAT_VERSION, "name": spec.name,
        "metric": spec.metric, "mode": spec.mode, "scope": spec.scope,
        "num_samples": num_samples, "space": spec.parsed_space.to_json(),
        "search": _describe(spec.searcher), "scheduler": _describe(spec.scheduler),
        "seed": int(seed), "resources_per_trial": spec.resources,
        "max_failures": spec.max_failures,
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
        planned = spec.searcher.planned_trials(spec.parsed_space, num_samples)
        created = 0 if planned is not None else \
            journal.count_created(os.path.join(path, _storage.JOURNAL_FILE))
        if num_samples < created:
            logger.warning("raysweep: resume with num_samples=%d but the experiment already has "
                           "%d trials; keeping them all (no new trial runs)", num_samples,
                           created)
            num_samples = settings["num_samples"] = created
        settings["created"] = stored.get("created", settings["created"])
        stored_priors = read_warm_start(path)
        if spec.warm_start_given and prior_key(priors) != prior_key(stored_priors):
            raise ResumeMismatch(
                f"cannot resume: warm_start changed (the experiment was seeded with "
                f"{len(stored_priors)} results, now {len(priors)}); omit warm_start to "
                f"resume with the stored ones")
        priors = stored_priors
    settings["warm_start"] = len(priors)
    return replace(spec, seed=int(seed), num_samples=num_samples), settings, priors


def _set_up(spec: RunSpec, priors: list[Pair]) -> tuple[Searcher, Scheduler]:
    """Copies of the spec's searcher and scheduler, seeded from the experiment's seed; the
    searcher has learnt the warm-start results."""
    searcher = copy.deepcopy(spec.searcher)
    scheduler = copy.deepcopy(spec.scheduler)
    search_seed, scheduler_seed = np.random.SeedSequence(int(spec.seed or 0)).spawn(2)
    searcher.setup(spec.parsed_space, spec.metric, spec.mode, search_seed, spec.num_samples)
    for config, result in priors:
        searcher.add_evaluated(config, result)
    scheduler.setup(spec.metric, spec.mode, scheduler_seed)
    return searcher, scheduler


def _write(spec: RunSpec, directory: _storage.ExperimentDir, existing: bool,
           stored: dict[str, Any] | None, settings: dict[str, Any],
           priors: list[Pair]) -> list[dict[str, Any]]:
    """Write the experiment's files (the directory is locked); return the journal to replay."""
    path = directory.path
    if priors and not existing:  # before the settings that make the directory a resumable
        _storage.atomic_write(os.path.join(path, WARM_START_FILE), cloudpickle.dumps(priors))
    # run_args first: experiment.json is what makes the directory an experiment, and
    # rs.restore needs both (a driver killed between the two leaves no half)
    try:
        _storage.atomic_write(os.path.join(path, RUN_ARGS_FILE), cloudpickle.dumps({
            "space": spec.space, "search": spec.searcher, "scheduler": spec.scheduler,
            "stop": spec.stop, "metric": spec.metric, "mode": spec.mode,
            "num_samples": spec.num_samples, "resources_per_trial": spec.resources_per_trial,
            "max_concurrent": spec.max_concurrent, "max_failures": spec.max_failures,
            "keep_checkpoints": spec.keep_checkpoints, "scope": spec.scope,
            "seed": spec.seed, "trial_timeout_s": spec.trial_timeout_s}))
    except Exception as exc:  # noqa: BLE001 - restore() then needs the arguments again
        logger.debug("raysweep: run arguments not picklable (%s); rs.restore() will need "
                     "them passed again", exc)
    directory.write_settings(settings)
    events = list(_storage.read_journal(path)) if existing else []
    if events:
        # a searcher that ends by itself (a grid resumed with more passes) plans more now
        planned = spec.planned_trials()
        before = None if stored is None else spec.searcher.planned_trials(
            spec.parsed_space, int(stored.get("num_samples", spec.num_samples)))
        extended = planned is not None and before is not None and planned > before
        events = journal.live_events(events, extended)
    directory.open_journal()
    return events


def read_run_arguments(path: str, overrides: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``restore``'s arguments for ``run``: the space and keyword arguments stored in the
    experiment at ``path`` with ``overrides`` applied (``overrides`` is consumed)."""
    read_settings(path)  # a clear error for a missing or foreign directory
    args_file = os.path.join(path, RUN_ARGS_FILE)
    if not os.path.isfile(args_file):
        raise FileNotFoundError(f"{path!r} has no stored run arguments ({RUN_ARGS_FILE}); "
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
    return space, kwargs
