"""Hugging Face Transformers: report every evaluation, checkpoint through the Trainer, stop when
the scheduler says.

Needs ``pip install 'raysweep[transformers]'`` (``transformers`` and ``accelerate``, plus
PyTorch).

Recipe (report, checkpoint, resume, stop)::

    from transformers import Trainer, TrainingArguments
    import raysweep as rs
    from raysweep.integrations.transformers import ReportCallback, checkpoint_path

    def train(config):
        args = TrainingArguments(output_dir=tempfile.mkdtemp(), eval_strategy="epoch",
                                 save_strategy="no", num_train_epochs=10,
                                 learning_rate=config["lr"], report_to=[])
        trainer = Trainer(model=make_model(), args=args, train_dataset=train_set,
                          eval_dataset=valid_set,
                          callbacks=[ReportCallback({"loss": "eval_loss"}, checkpoint_every=2)])
        trainer.train(resume_from_checkpoint=checkpoint_path())   # None: start fresh

    rs.run(train, space, metric="loss", scheduler="asha")

- Report: one ``raysweep.report`` per evaluation (so ``eval_strategy`` must not be
  ``"no"``) with the evaluation's metrics (``eval_loss``, ...), renamed as ``metrics`` says.
- Checkpoint: every ``checkpoint_every`` evaluations, and at those where the scheduler waits
  to decide, the callback asks the Trainer to save (``control.should_save``); the Trainer
  writes its own checkpoint directory (weights, optimizer, scheduler, RNG and trainer state)
  and the report carries it as a ``raysweep.Checkpoint``.
- Resume: ``checkpoint_path()`` is that directory (None when the trial starts fresh);
  ``trainer.train(resume_from_checkpoint=...)`` restores it and goes on from its step.
- Stop: when the scheduler stops or pauses the trial, the callback sets
  ``control.should_training_stop`` (the Trainer's own way, as its ``EarlyStoppingCallback``
  does); the Trainer leaves its loop and calls ``on_train_end``, which re-raises raysweep's
  stop, so ``trainer.train`` does not return, like ``raysweep.report``.
"""

from __future__ import annotations

import os
from typing import Any

from raysweep import session as _session
from raysweep.integrations._common import (
    Reporting,
    checkpoint_directory,
    numeric,
    require,
    setup_callback,
)

transformers = require("transformers", "transformers", "transformers")

__all__ = ["ReportCallback", "checkpoint_path"]


# the framework's class, from a module imported at run time (so typed Any here)
_TrainerCallback: Any = transformers.TrainerCallback


class ReportCallback(_TrainerCallback, Reporting):
    """Report each evaluation's metrics to raysweep.

    Args:
        metrics: Which evaluation metrics to report: None (all), one name, a list of names,
            or a dict ``{reported name: metric name}`` such as ``{"loss": "eval_loss"}``.
        checkpoint_every: Have the Trainer save a checkpoint every this many evaluations
            (None: only where the scheduler decides, see ``checkpoint_at_decisions``).
        checkpoint_at_decisions: Also save at the evaluations where the scheduler waits to
            decide (a paused or forked trial resumes from exactly there).

    Example:
        >>> cb = ReportCallback({"loss": "eval_loss"}, checkpoint_every=2)
        >>> Trainer(model, args, callbacks=[cb], ...).train()  # doctest: +SKIP
    """

    def __init__(self, metrics: Any = None, *, checkpoint_every: int | None = None,
                 checkpoint_at_decisions: bool = True) -> None:
        owner = "transformers.ReportCallback"
        setup_callback(self, owner, "the Trainer's evaluation", metrics, checkpoint_every,
                       checkpoint_at_decisions)
        self._pending: dict[str, float] | None = None  # reported with the checkpoint

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if str(getattr(args, "eval_strategy", "no")).lower().endswith("no"):
            raise ValueError("transformers.ReportCallback reports at each evaluation: set "
                             "TrainingArguments(eval_strategy='epoch' or 'steps'), got "
                             f"eval_strategy={args.eval_strategy!r}")
        self._reporter.reset()
        self._pending = None

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict | None = None,
                    **kwargs: Any) -> None:
        reporter = self._reporter
        if reporter.stop is not None:
            control.should_training_stop = True
            return
        values = numeric(metrics)
        picked = reporter.pick(values)
        step = getattr(_session._current(), "iteration", 0) + 1  # evaluations reported
        if reporter.due(step):
            self._pending = picked  # the Trainer saves next, then on_save reports
            control.should_save = True
        elif reporter.report(picked):
            control.should_training_stop = True

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        picked, self._pending = self._pending, None
        if picked is None:
            return  # a save of the Trainer's own save_strategy
        directory = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"transformers.ReportCallback: the Trainer's checkpoint "
                                    f"{directory!r} is missing")
        if self._reporter.report(picked, saved=directory):
            control.should_training_stop = True

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._reporter.raise_stop()  # stopped or paused: trainer.train does not return


def checkpoint_path(checkpoint: Any = None) -> str | None:
    """The Trainer checkpoint directory in ``checkpoint`` (default: the running trial's).

    Args:
        checkpoint: A ``raysweep.Checkpoint`` written by ``ReportCallback`` (for instance
            ``results.best_checkpoint``); None reads ``raysweep.get_checkpoint()``.

    Returns:
        A directory for ``trainer.train(resume_from_checkpoint=...)`` (or a model's
        ``from_pretrained``); None when the trial starts fresh.
    """
    directory = checkpoint_directory(checkpoint, "transformers.checkpoint_path")
    if directory is None:
        return None
    if not os.path.isfile(os.path.join(directory, "trainer_state.json")):
        raise FileNotFoundError(f"transformers.checkpoint_path: {directory!r} is not a Trainer "
                                f"checkpoint (it holds {sorted(os.listdir(directory))})")
    return directory
