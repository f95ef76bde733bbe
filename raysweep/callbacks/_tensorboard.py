"""``TensorBoardLogger``: one TensorBoard run per trial (needs ``tensorboardX``)."""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from typing import Any

from raysweep.callbacks._base import Callback, _scalar
from raysweep.space import flatten
from raysweep.trial import Trial


class TensorBoardLogger(Callback):
    """Every numeric metric of every trial to TensorBoard (via ``tensorboardX``).

    Each trial is one TensorBoard run, ``<logdir>/<trial_id>``, with scalars by
    ``training_iteration`` (NaN and infinite values are left out, as Ray Tune leaves out
    NaN); when a trial ends its config and final metrics are written as
    hparams, so TensorBoard's HParams tab compares trials. One run per trial means one
    directory per trial: fine for hundreds of trials, heavy for tens of thousands.

    Args:
        logdir: Where to write (default ``<experiment directory>/tensorboard``); view with
            ``tensorboard --logdir <logdir>``.
        hparams: Also write config and final metrics as hparams when a trial ends.

    Example:
        >>> from raysweep.callbacks import TensorBoardLogger
        >>> rs.run(train, space, callbacks=[TensorBoardLogger()])  # doctest: +SKIP
    """

    def __init__(self, logdir: str | os.PathLike[str] | None = None, *,
                 hparams: bool = True) -> None:
        try:
            from tensorboardX import SummaryWriter  # noqa: PLC0415
        except ImportError:
            raise ImportError("TensorBoardLogger needs tensorboardX: pip install "
                              "'raysweep[tensorboard]'") from None
        if logdir is not None and not isinstance(logdir, (str, os.PathLike)):
            raise TypeError(f"TensorBoardLogger: logdir must be a directory (str or "
                            f"os.PathLike) or None, got {type(logdir).__name__}")
        if not isinstance(hparams, bool):
            raise TypeError(f"TensorBoardLogger: hparams must be True or False, got {hparams!r}")
        self._writer_class = SummaryWriter
        self.logdir = None if logdir is None else os.path.abspath(os.fspath(logdir))
        self._given_logdir = self.logdir  # None: each run's <experiment>/tensorboard
        self.hparams = hparams
        self._writers: OrderedDict[str, Any] = OrderedDict()

    def on_experiment_start(self, path: str, settings: dict[str, Any]) -> None:
        here = os.path.join(os.path.abspath(path), "tensorboard")
        if self._given_logdir is None and self.logdir != here:
            self.on_experiment_end(None)  # reused for another experiment: its own logdir
            self.logdir = here

    def _writer(self, trial_id: str):
        writer = self._writers.get(trial_id)
        if writer is None:
            if self.logdir is None:
                raise RuntimeError("TensorBoardLogger: no logdir; pass logdir= or run it "
                                   "through raysweep.run(callbacks=[...])")
            writer = self._writer_class(logdir=os.path.join(self.logdir, trial_id),
                                        flush_secs=5)
            self._writers[trial_id] = writer
            while len(self._writers) > 64:  # paused trials: reopened when they resume
                self._writers.popitem(last=False)[1].close()
        else:
            self._writers.move_to_end(trial_id)
        return writer

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> None:
        writer = self._writer(trial.trial_id)
        step = int(result.get("training_iteration", trial.iteration) or 0)
        flat = flatten(result) if any(isinstance(v, dict) for v in result.values()) else result
        for key, value in flat.items():
            if key in ("training_iteration", "trial_id"):
                continue
            number = _scalar(value)
            # NaN and inf are left out: tensorboardX prints a warning for each one
            if number is not None and math.isfinite(number):
                writer.add_scalar(key, number, global_step=step)

    def on_trial_complete(self, trial: Trial) -> None:
        writer = self._writer(trial.trial_id)
        if self.hparams:
            params = {}
            for key, value in flatten(trial.config).items():
                number = _scalar(value)
                params[key] = number if number is not None else (
                    value if isinstance(value, (bool, str)) else str(value))
            metrics = {}
            for key, value in (trial.last_result or {}).items():
                number = _scalar(value)
                if number is not None and math.isfinite(number) and key != "trial_id":
                    metrics[f"final/{key}"] = number
            params["status"] = trial.status.value
            writer.add_hparams(params, metrics, name="hparams",
                               global_step=trial.iteration)
        self._writers.pop(trial.trial_id, None)
        writer.close()

    def on_experiment_end(self, results: Any) -> None:
        while self._writers:
            self._writers.popitem()[1].close()

