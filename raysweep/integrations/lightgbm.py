"""LightGBM: report every boosting round, checkpoint the booster, stop when the scheduler says.

Needs ``pip install 'raysweep[lightgbm]'``.

Recipe (report, checkpoint, resume, stop)::

    import lightgbm as lgb
    import raysweep as rs
    from raysweep.integrations.lightgbm import ReportCallback, load_checkpoint

    ROUNDS = 200

    def train(config):
        booster = load_checkpoint()        # the trial's last checkpoint, or None
        done = booster.current_iteration() if booster is not None else 0
        if done >= ROUNDS:                 # a clone of a finished trial: nothing left
            return
        dtrain = lgb.Dataset(X_train, y_train)            # built inside the trial
        dvalid = lgb.Dataset(X_valid, y_valid, reference=dtrain)
        lgb.train(config, dtrain, num_boost_round=ROUNDS - done, init_model=booster,
                  valid_sets=[dvalid], valid_names=["valid"],
                  callbacks=[ReportCallback({"loss": "valid-binary_logloss"},
                                            checkpoint_every=10)])

    rs.run(train, space, metric="loss", scheduler="asha")

- Report: one ``raysweep.report`` per round with the metrics LightGBM evaluated, named
  ``"<valid name>-<metric>"`` (``"valid-binary_logloss"``), renamed as ``metrics`` says.
- Checkpoint: the booster saved with ``Booster.save_model`` (every tree) as ``model.txt`` in
  a ``raysweep.Checkpoint`` directory, every ``checkpoint_every`` rounds, at the rounds where
  the scheduler waits to decide, and at the last round.
- Resume: ``load_checkpoint()`` loads that booster; ``init_model=`` continues it (LightGBM
  then needs the training data's raw values: build the ``Dataset`` inside the trial, or
  with ``free_raw_data=False``), and ``num_boost_round`` counts the rounds still to train
  (LightGBM refuses 0: a trial resumed from a finished trial's checkpoint has none left).
- Stop: LightGBM ends training when a callback raises (its own ``early_stopping`` raises
  ``EarlyStopException``). When the scheduler stops or pauses the trial, the callback raises
  raysweep's stop the same way; LightGBM has no end-of-training hook to hand the booster
  back first, so ``lgb.train`` does not return, like ``raysweep.report``, and the booster is
  freed with it.
"""

from __future__ import annotations

import os
from typing import Any

from raysweep.integrations._common import (
    Reporting,
    check_filename,
    checkpoint_file,
    require,
    setup_callback,
)

lgb = require("lightgbm", "lightgbm", "lightgbm")

__all__ = ["ReportCallback", "load_checkpoint"]

MODEL_FILE = "model.txt"


class ReportCallback(Reporting):
    """Report LightGBM's evaluation metrics to raysweep after every boosting round.

    Args:
        metrics: Which metrics to report: None (all, as ``"<valid name>-<metric>"``), one
            such name, a list of them, or a dict ``{reported name: LightGBM name}`` such as
            ``{"loss": "valid-binary_logloss"}``.
        checkpoint_every: Save the booster every this many rounds (None: only where the
            scheduler decides and at the last round).
        checkpoint_at_decisions: Also save at the rounds where the scheduler waits to
            decide (a paused or forked trial resumes from exactly there).
        filename: The model file's name in the checkpoint directory.

    Example:
        >>> cb = ReportCallback({"loss": "valid-binary_logloss"}, checkpoint_every=10)
        >>> lgb.train(params, dtrain, valid_sets=[dvalid], valid_names=["valid"],
        ...           callbacks=[cb])  # doctest: +SKIP
    """

    def __init__(self, metrics: Any = None, *, checkpoint_every: int | None = None,
                 checkpoint_at_decisions: bool = True, filename: str = MODEL_FILE) -> None:
        owner = "lightgbm.ReportCallback"
        setup_callback(self, owner, "LightGBM", metrics, checkpoint_every, checkpoint_at_decisions)
        self.filename = check_filename(owner, filename)
        # before LightGBM's early_stopping (order 30), so that the round it stops at is
        # reported too (lgb.train reads ``order`` from the instance)
        self.order = 25

    def __call__(self, env: Any) -> None:
        reporter = self._reporter
        if env.iteration == env.begin_iteration:  # a new lgb.train call
            reporter.reset()
        values: dict[str, float] = {}
        for item in env.evaluation_result_list or ():
            values[f"{item[0]}-{item[1]}"] = float(item[2])  # (cv: item[2] is the mean)
        picked = reporter.pick(values)
        step = env.iteration + 1
        model = env.model
        save = None
        wanted = reporter.due(step) or step == env.end_iteration
        if wanted and isinstance(model, lgb.Booster):
            def save(directory: str) -> None:
                model.save_model(os.path.join(directory, self.filename), num_iteration=-1)
        elif wanted and self.checkpoint_every is not None and step % self.checkpoint_every == 0:
            raise TypeError("lightgbm.ReportCallback: checkpoints need a Booster "
                            "(lightgbm.train or the scikit-learn API), not lightgbm.cv; "
                            "pass checkpoint_every=None")
        if reporter.report(picked, save, step):
            reporter.raise_stop()  # ends lgb.train, as EarlyStopException would


def load_checkpoint(checkpoint: Any = None, filename: str = MODEL_FILE) -> Any:
    """The booster saved in ``checkpoint`` (default: the running trial's), or None.

    Args:
        checkpoint: A ``raysweep.Checkpoint`` written by ``ReportCallback`` (for instance
            ``results.best_checkpoint``); None reads ``raysweep.get_checkpoint()``.
        filename: The model file's name, as given to ``ReportCallback``.

    Returns:
        A ``lightgbm.Booster`` (pass it as ``init_model=``), or None when the trial starts
        fresh.
    """
    path = checkpoint_file(checkpoint, "lightgbm.load_checkpoint", filename)
    if path is None:
        return None
    return lgb.Booster(model_file=path)
