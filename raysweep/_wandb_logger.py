"""``WandbLogger``: every trial a Weights & Biases run, the sweep a W&B group.

Import it from ``raysweep.callbacks`` (it lives here to keep that module small); it needs
``pip install 'raysweep[wandb]'``, imported only when a ``WandbLogger`` is made.
"""

from __future__ import annotations

import logging
import math
import os
import re
import uuid
from collections.abc import Sequence
from typing import Any

from raysweep.callbacks import Callback, _scalar
from raysweep.space import flatten
from raysweep.storage import atomic_write
from raysweep.trial import Trial, TrialStatus

logger = logging.getLogger("raysweep")

_MODES = ("online", "offline", "disabled", "shared")
TOKEN_FILE = "wandb_experiment_id"


def _experiment_token(path: str) -> str:
    """A random token kept in the experiment directory ``path``: the same when the experiment
    is resumed or restored (also from a moved directory), new for every new experiment."""
    token_path = os.path.join(path, TOKEN_FILE)
    try:
        with open(token_path, encoding="utf-8") as handle:
            token = handle.read().strip()
        if re.fullmatch(r"[0-9a-f]{12}", token):
            return token
    except FileNotFoundError:
        pass
    token = uuid.uuid4().hex[:12]  # an identity, not a random choice of the search
    atomic_write(token_path, token + "\n")  # fsynced: a kill cannot leave another id behind
    return token


class WandbLogger(Callback):
    """Trials as W&B runs: the config, every report, the final status.

    One W&B run per trial, named by its trial id, in a group named after the experiment
    (``group``), with ``job_type="trial"``. The flattened config is the run's config (a PBT
    clone updates it); every report is one ``run.log`` of its numeric metrics, charted
    against ``training_iteration``; when the trial ends its summary gets ``raysweep_status``
    (and ``raysweep_error``) and the run finishes with exit code 0, or 1 for an ERROR trial.
    A paused trial keeps its run open until it ends or the sweep does.

    Each trial's run id is fixed by the experiment (a token the logger keeps in the
    experiment directory, ``wandb_experiment_id``) and the trial id, and runs are made with
    ``resume="allow"``: a sweep resumed or restored after its driver died continues the W&B
    run of every trial it resumes (same run id; online, W&B appends to it; offline, each
    driver writes its own ``offline-run-*-<id>`` folder and ``wandb sync`` uploads them in
    order into that one run). The reports a trial repeats after restarting from an older
    checkpoint are logged again, with their ``training_iteration``.

    W&B problems after the first run was made are logged once as a warning and the sweep
    goes on; a W&B that cannot start at all (no API key in online mode) fails the first
    trial's start, before it runs.

    Args:
        project: The W&B project (default: ``WANDB_PROJECT``, else the experiment's name).
        group: The runs' group (default: the experiment's name).
        entity: The W&B entity (team or user; default: W&B's own default).
        tags: Tags on every run.
        mode: ``"online"``, ``"offline"`` (files only, sync later with ``wandb sync``),
            ``"disabled"`` or ``"shared"``; default: W&B's own, i.e. ``WANDB_MODE``.
        dir: Where W&B writes its files (default: the experiment directory, which then
            holds a ``wandb/`` folder).
        init_kwargs: More arguments for every ``wandb.init`` (``notes``, ``settings``, ...).

    Example:
        >>> from raysweep.callbacks import WandbLogger
        >>> rs.run(train, space, callbacks=[WandbLogger(project="mnist")])  # doctest: +SKIP
    """

    def __init__(self, project: str | None = None, *, group: str | None = None,
                 entity: str | None = None, tags: Sequence[str] | None = None,
                 mode: str | None = None, dir: str | os.PathLike[str] | None = None,
                 init_kwargs: dict[str, Any] | None = None) -> None:
        try:
            import wandb  # noqa: PLC0415
        except ImportError:
            raise ImportError("WandbLogger needs wandb: pip install 'raysweep[wandb]'") \
                from None
        for name, value in (("project", project), ("group", group), ("entity", entity)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"WandbLogger: {name} must be a non-empty str or None, got "
                                 f"{value!r}")
        if mode is not None and mode not in _MODES:
            raise ValueError(f"WandbLogger: mode must be one of {_MODES} or None (W&B's "
                             f"default, WANDB_MODE), got {mode!r}")
        if tags is not None and (isinstance(tags, str) or not all(
                isinstance(t, str) for t in tags)):
            raise ValueError(f"WandbLogger: tags must be a list of str, got {tags!r}")
        if dir is not None and not isinstance(dir, (str, os.PathLike)):
            raise ValueError(f"WandbLogger: dir must be a directory (str or os.PathLike) or "
                             f"None, got {dir!r}")
        if init_kwargs is not None and not isinstance(init_kwargs, dict):
            raise ValueError(f"WandbLogger: init_kwargs must be a dict of wandb.init "
                             f"arguments, got {init_kwargs!r}")
        taken = {"name", "group", "config", "reinit", "job_type", "id", "resume"} & set(
            init_kwargs or {})
        if taken:
            raise ValueError(f"WandbLogger: init_kwargs may not set {sorted(taken)}: the "
                             f"logger sets them for each trial")
        self._wandb = wandb
        self.project = project
        self.group = group
        self.entity = entity
        self.tags = list(tags) if tags is not None else None
        self.mode = mode
        self.dir = None if dir is None else os.fspath(dir)
        self.init_kwargs = dict(init_kwargs or {})
        self._experiment_path: str | None = None
        self._name: str | None = None
        self._identity = ""
        self._runs: dict[str, Any] = {}
        self._configs: dict[str, dict[str, Any]] = {}
        self._made_one = False
        self._warned = False

    # -- lifecycle -------------------------------------------------------------------------
    def on_experiment_start(self, path: str, settings: dict[str, Any]) -> None:
        here = os.path.abspath(path)
        if self._experiment_path not in (None, here):
            self._finish_all("RESTARTED")  # reused for another experiment
        self._experiment_path = here
        self._name = settings.get("name") or os.path.basename(here)
        self._identity = _experiment_token(here)

    def run_id(self, trial_id: str) -> str:
        """The W&B run id of ``trial_id`` in the current experiment (the same after a
        resume or restore)."""
        return f"{self._identity}-{re.sub(r'[^A-Za-z0-9_-]', '_', trial_id)}"[:64]

    def _guarded(self, action, *args) -> None:
        try:
            action(*args)
        except Exception as exc:  # noqa: BLE001 - a W&B hiccup must not kill a sweep
            if not self._made_one:
                raise
            if not self._warned:
                self._warned = True
                logger.warning("raysweep: WandbLogger could not log (%s); the sweep goes on "
                               "and keeps trying", exc)

    def _run(self, trial: Trial) -> Any:
        run = self._runs.get(trial.trial_id)
        if run is not None:
            return run
        wandb = self._wandb
        directory = self.dir or self._experiment_path
        if directory is not None:
            os.makedirs(directory, exist_ok=True)
        kwargs = dict(self.init_kwargs)
        kwargs.setdefault("settings", wandb.Settings(console="off", silent=True,
                                                     x_disable_stats=True))
        config = flatten(trial.config)
        run = wandb.init(
            project=self.project or os.environ.get("WANDB_PROJECT") or self._name or
            "raysweep",
            entity=self.entity, group=self.group or self._name, name=trial.trial_id,
            job_type="trial", tags=self.tags, mode=self.mode, dir=directory,
            config=config, reinit="create_new", id=self.run_id(trial.trial_id),
            resume="allow", **kwargs)
        run.define_metric("training_iteration")
        run.define_metric("*", step_metric="training_iteration")
        self._runs[trial.trial_id] = run
        self._configs[trial.trial_id] = config
        self._made_one = True
        return run

    def on_trial_start(self, trial: Trial) -> None:
        self._guarded(self._start, trial)

    def _start(self, trial: Trial) -> None:
        run = self._run(trial)
        config = flatten(trial.config)
        if config != self._configs.get(trial.trial_id):  # a PBT clone's new config
            run.config.update(config, allow_val_change=True)
            self._configs[trial.trial_id] = config

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> None:
        self._guarded(self._log, trial, result)

    def _log(self, trial: Trial, result: dict[str, Any]) -> None:
        run = self._run(trial)
        flat = flatten(result) if any(isinstance(v, dict) for v in result.values()) else result
        row = {}
        for key, value in flat.items():
            if key == "trial_id":
                continue
            number = _scalar(value)
            if number is not None and math.isfinite(number):
                row[key] = int(value) if key == "training_iteration" else number
        row.setdefault("training_iteration", trial.iteration)
        run.log(row)

    def on_trial_complete(self, trial: Trial) -> None:
        self._guarded(self._complete, trial)

    def _complete(self, trial: Trial) -> None:
        run = self._run(trial)
        run.summary["raysweep_status"] = trial.status.value
        if trial.error:
            run.summary["raysweep_error"] = trial.error[-4000:]
        self._runs.pop(trial.trial_id, None)
        self._configs.pop(trial.trial_id, None)
        run.finish(exit_code=1 if trial.status is TrialStatus.ERROR else 0)

    def on_experiment_end(self, results: Any) -> None:
        statuses = {t.trial_id: t.status.value for t in getattr(results, "trials", ())}
        for trial_id in list(self._runs):
            self._guarded(self._finish, trial_id, statuses.get(trial_id, "UNFINISHED"))

    def _finish_all(self, status: str) -> None:
        for trial_id in list(self._runs):
            self._guarded(self._finish, trial_id, status)

    def _finish(self, trial_id: str, status: str) -> None:
        run = self._runs.pop(trial_id)
        self._configs.pop(trial_id, None)
        run.summary["raysweep_status"] = status
        run.finish(exit_code=0)
