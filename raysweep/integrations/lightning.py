"""PyTorch Lightning: report every epoch, checkpoint the trainer, stop when the scheduler says.

Needs ``pip install 'raysweep[lightning]'`` (``lightning``; the older ``pytorch_lightning``
package is used when ``lightning`` is not installed).

Recipe (report, checkpoint, resume, stop)::

    import lightning.pytorch as pl
    import raysweep as rs
    from raysweep.integrations.lightning import ReportCallback, checkpoint_path

    def train(config):
        trainer = pl.Trainer(max_epochs=30, enable_progress_bar=False, logger=False,
                             enable_checkpointing=False,
                             callbacks=[ReportCallback({"loss": "val_loss"},
                                                       checkpoint_every=5)])
        trainer.fit(MyModule(config), train_loader, valid_loader,
                    ckpt_path=checkpoint_path())   # None: start fresh

    rs.run(train, space, metric="loss", scheduler="asha")

- Report: one ``raysweep.report`` per epoch (at ``on_train_epoch_end``, after the epoch's
  validation) with ``trainer.callback_metrics`` (what the module logged with ``self.log``
  in its steps and validation), renamed as ``metrics`` says.
- Checkpoint: ``trainer.save_checkpoint`` (Lightning's ``.ckpt``: weights, optimizer and
  scheduler states, epoch and step counters) as ``checkpoint.ckpt`` in a
  ``raysweep.Checkpoint`` directory, every ``checkpoint_every`` epochs and at the epochs where
  the scheduler waits to decide.
- Resume: ``checkpoint_path()`` is that file (None when the trial starts fresh);
  ``trainer.fit(..., ckpt_path=...)`` restores everything and goes on at the next epoch.
  A PBT clone gets its new config in ``config``; set it on the module after the restore if
  it is a hyperparameter the checkpoint also holds (an optimizer's learning rate).
- Stop: when the scheduler stops or pauses the trial, the callback sets
  ``trainer.should_stop`` (Lightning's own way, as its ``EarlyStopping`` does; Lightning
  honours it once ``min_epochs``/``min_steps`` are met); the fit loop ends, and
  ``on_fit_end`` re-raises raysweep's stop, so ``trainer.fit`` does not return, like
  ``raysweep.report``. Lightning treats that as an interrupted fit: it runs its
  ``on_exception`` hooks and tears down (releasing devices and files) before the stop
  goes on.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from raysweep.integrations._common import (
    Reporting,
    checkpoint_file,
    require,
    setup_callback,
)

if importlib.util.find_spec("lightning") is not None:
    pl = require("lightning.pytorch", "lightning", "lightning")
else:  # the standalone package of Lightning < 2 (and of some installs since)
    pl = require("pytorch_lightning", "lightning", "lightning")

__all__ = ["ReportCallback", "checkpoint_path"]

CHECKPOINT_FILE = "checkpoint.ckpt"


# the framework's class, from a module imported at run time (so typed Any here)
_LightningCallback: Any = pl.Callback


class ReportCallback(_LightningCallback, Reporting):
    """Report the metrics a LightningModule logs to raysweep after every epoch.

    Args:
        metrics: Which of ``trainer.callback_metrics`` to report: None (all), one name, a
            list of names, or a dict ``{reported name: logged name}`` such as
            ``{"loss": "val_loss"}``.
        checkpoint_every: Save a checkpoint every this many epochs (None: only where the
            scheduler decides, see ``checkpoint_at_decisions``).
        checkpoint_at_decisions: Also save at the epochs where the scheduler waits to decide
            (a paused or forked trial resumes from exactly there).

    Example:
        >>> cb = ReportCallback({"loss": "val_loss"}, checkpoint_every=5)
        >>> pl.Trainer(max_epochs=30, callbacks=[cb]).fit(module, train, valid)  # doctest: +SKIP
    """

    def __init__(self, metrics: Any = None, *, checkpoint_every: int | None = None,
                 checkpoint_at_decisions: bool = True) -> None:
        super().__init__()
        owner = "lightning.ReportCallback"
        setup_callback(self, owner, "Lightning", metrics, checkpoint_every, checkpoint_at_decisions)

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self._reporter.reset()

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        reporter = self._reporter
        if reporter.stop is not None:
            trainer.should_stop = True
            return
        values = {}
        for key, value in trainer.callback_metrics.items():
            try:
                values[key] = float(value.item() if hasattr(value, "item") else value)
            except (TypeError, ValueError, RuntimeError):
                continue
        picked = reporter.pick(values)
        step = trainer.current_epoch + 1
        save = None
        if reporter.due(step):
            def save(directory: str) -> None:
                trainer.save_checkpoint(os.path.join(directory, CHECKPOINT_FILE))
        if reporter.report(picked, save, step):
            trainer.should_stop = True

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._reporter.raise_stop()  # stopped or paused: trainer.fit does not return


def checkpoint_path(checkpoint: Any = None) -> str | None:
    """The ``.ckpt`` file in ``checkpoint`` (default: the running trial's), or None.

    Args:
        checkpoint: A ``raysweep.Checkpoint`` written by ``ReportCallback`` (for instance
            ``results.best_checkpoint``); None reads ``raysweep.get_checkpoint()``.

    Returns:
        A path for ``trainer.fit(..., ckpt_path=...)`` or
        ``MyModule.load_from_checkpoint(...)``; None when the trial starts fresh. The file
        lives as long as the trial's run (or the checkpoint's directory).
    """
    return checkpoint_file(checkpoint, "lightning.checkpoint_path", CHECKPOINT_FILE)
