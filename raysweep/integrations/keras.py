"""Keras 3 (any backend): report every epoch, checkpoint the model, stop when the scheduler says.

Needs ``pip install 'raysweep[keras]'`` and a backend (JAX, PyTorch or TensorFlow). Keras picks
its backend when first imported, from ``KERAS_BACKEND``: set it before Ray starts (workers
inherit the driver's environment) or in the objective before it imports Keras.

Recipe (report, checkpoint, resume, stop)::

    import keras
    import raysweep as rs
    from raysweep.integrations.keras import ReportCallback, load_checkpoint

    EPOCHS = 30

    def train(config):
        restored = load_checkpoint()       # (model, epochs done) or None
        model, done = restored if restored else (build_model(config), 0)
        model.fit(x_train, y_train, validation_data=(x_valid, y_valid), verbose=0,
                  initial_epoch=done, epochs=EPOCHS,
                  callbacks=[ReportCallback({"loss": "val_loss"}, checkpoint_every=5)])

    rs.run(train, space, metric="loss", scheduler="asha")

- Report: one ``raysweep.report`` per epoch with Keras' epoch logs (``loss``, ``val_loss``,
  ``val_accuracy``, ...), renamed as ``metrics`` says.
- Checkpoint: ``model.save`` (``model.keras``: architecture, weights and optimizer state)
  plus ``raysweep.json`` (the epochs done) in a ``raysweep.Checkpoint`` directory, every
  ``checkpoint_every`` epochs and at the epochs where the scheduler waits to decide.
- Resume: ``load_checkpoint()`` loads that model (``custom_objects=`` for custom layers) and
  says how many epochs it trained; ``fit(initial_epoch=done)`` goes on from there.
- Stop: when the scheduler stops or pauses the trial, the callback sets
  ``model.stop_training`` (Keras' own way, as its ``EarlyStopping`` does); Keras ends the
  epoch loop and calls ``on_train_end``, which re-raises raysweep's stop, so that ``fit``
  does not return, like ``raysweep.report``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from raysweep.integrations._common import (
    Reporting,
    checkpoint_file,
    numeric,
    require,
    setup_callback,
)

keras = require("keras", "keras", "keras")

__all__ = ["ReportCallback", "load_checkpoint"]

MODEL_FILE = "model.keras"
STATE_FILE = "raysweep.json"


# the framework's class, from a module imported at run time (so typed Any here)
_KerasCallback: Any = keras.callbacks.Callback


class ReportCallback(_KerasCallback, Reporting):
    """Report Keras' epoch logs to raysweep after every epoch.

    Args:
        metrics: Which logs to report: None (all), one name, a list of names, or a dict
            ``{reported name: Keras name}`` such as ``{"loss": "val_loss"}``.
        checkpoint_every: Save the model every this many epochs (None: only where the
            scheduler decides, see ``checkpoint_at_decisions``).
        checkpoint_at_decisions: Also save at the epochs where the scheduler waits to decide
            (a paused or forked trial resumes from exactly there).

    Example:
        >>> cb = ReportCallback({"loss": "val_loss"}, checkpoint_every=5)
        >>> model.fit(x, y, validation_split=0.2, epochs=30, callbacks=[cb])  # doctest: +SKIP
    """

    def __init__(self, metrics: Any = None, *, checkpoint_every: int | None = None,
                 checkpoint_at_decisions: bool = True) -> None:
        super().__init__()
        owner = "keras.ReportCallback"
        setup_callback(self, owner, "Keras", metrics, checkpoint_every, checkpoint_at_decisions)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._reporter.reset()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        reporter = self._reporter
        if reporter.stop is not None:
            self.model.stop_training = True
            return
        values = numeric(logs)
        picked = reporter.pick(values)
        step = epoch + 1
        save = None
        if reporter.due(step):
            model = self.model

            def save(directory: str) -> None:
                model.save(os.path.join(directory, MODEL_FILE))
                with open(os.path.join(directory, STATE_FILE), "w", encoding="utf-8") as f:
                    json.dump({"epoch": step}, f)
        if reporter.report(picked, save, step):
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        self._reporter.raise_stop()  # stopped or paused: fit does not return


def load_checkpoint(checkpoint: Any = None, *, custom_objects: dict | None = None,
                    compile: bool = True) -> tuple[Any, int] | None:
    """The model saved in ``checkpoint`` (default: the running trial's) and its epochs.

    Args:
        checkpoint: A ``raysweep.Checkpoint`` written by ``ReportCallback`` (for instance
            ``results.best_checkpoint``); None reads ``raysweep.get_checkpoint()``.
        custom_objects: Passed to ``keras.saving.load_model`` (custom layers, losses).
        compile: Passed to ``keras.saving.load_model``.

    Returns:
        ``(model, epochs done)``: pass ``initial_epoch=epochs done`` to ``fit``; or None when
        the trial starts fresh.
    """
    path = checkpoint_file(checkpoint, "keras.load_checkpoint", MODEL_FILE)
    if path is None:
        return None
    model = keras.saving.load_model(path, custom_objects=custom_objects, compile=compile)
    with open(os.path.join(os.path.dirname(path), STATE_FILE), encoding="utf-8") as handle:
        epoch = int(json.load(handle)["epoch"])
    return model, epoch
