"""Callbacks: hooks users (and loggers) attach to a run with ``callbacks=[...]``.

Loggers shipped here:

- ``CSVLogger`` and ``JSONLLogger``: one row per report, every trial in one file
  (``progress.csv`` / ``progress.jsonl`` in the experiment directory), so a 50,000-trial sweep
  still holds a handful of files. ``per_trial=True`` writes ``trials/<id>/progress.*``
  instead, one file per trial (as Ray Tune does), for the few sweeps that want that.
- ``TensorBoardLogger`` (needs ``tensorboardX``): one TensorBoard run per trial with every
  numeric metric by ``training_iteration`` and the config as hparams.
- ``MLflowLogger`` (needs ``mlflow``): one MLflow run per trial (params, metrics by step,
  final status) nested under one run for the sweep.

A logger that can take each report as the journal encoded it is a ``ReportSink`` (the run
calls its ``log_report`` instead of ``on_trial_result``).

A logger told nothing about where to write uses the experiment directory, which the run hands
to every callback through ``on_experiment_start``.
"""

from raysweep.callbacks._base import (
           Callback,
           ReportSink,
           _scalar,  # noqa: F401 (raysweep._wandb_logger uses it)
           takes_encoded_reports,
)
from raysweep.callbacks._csv import CSVLogger
from raysweep.callbacks._defaults import default_loggers
from raysweep.callbacks._files import _FileLogger  # noqa: F401 (raysweep.api uses it)
from raysweep.callbacks._jsonl import JSONLLogger
from raysweep.callbacks._mlflow import MLflowLogger
from raysweep.callbacks._tensorboard import TensorBoardLogger

__all__ = ["CSVLogger", "Callback", "JSONLLogger", "MLflowLogger", "ReportSink",
           "TensorBoardLogger", "WandbLogger", "default_loggers", "takes_encoded_reports"]

# their public name is their home: docs, reprs and pickles say raysweep.callbacks.X
for _public in (Callback, ReportSink, CSVLogger, JSONLLogger, TensorBoardLogger, MLflowLogger,
                default_loggers, takes_encoded_reports):
    _public.__module__ = __name__
del _public

# last: the W&B logger's module imports Callback and _scalar from this package
from raysweep._wandb_logger import WandbLogger  # noqa: E402
