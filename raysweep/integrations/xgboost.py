"""XGBoost: report every boosting round, checkpoint the booster, stop when the scheduler says.

Needs ``pip install 'raysweep[xgboost]'``.

Recipe (report, checkpoint, resume, stop)::

    import xgboost as xgb
    import raysweep as rs
    from raysweep.integrations.xgboost import ReportCallback, load_checkpoint

    ROUNDS = 200

    def train(config):
        booster = load_checkpoint()        # the trial's last checkpoint, or None
        done = booster.num_boosted_rounds() if booster is not None else 0
        xgb.train(config, dtrain, num_boost_round=ROUNDS - done, xgb_model=booster,
                  evals=[(dvalid, "valid")], verbose_eval=False,
                  callbacks=[ReportCallback({"loss": "valid-logloss"}, checkpoint_every=10)])

    rs.run(train, space, metric="loss", scheduler="asha")

- Report: one ``raysweep.report`` per round with the metrics XGBoost evaluated, named
  ``"<eval name>-<metric>"`` (``"valid-logloss"``), renamed as ``metrics`` says.
- Checkpoint: the booster saved with ``Booster.save_model`` as ``model.ubj`` in a
  ``raysweep.Checkpoint`` directory, every ``checkpoint_every`` rounds and at the rounds
  where the scheduler waits to decide (ASHA's rungs, Hyperband's, PBT's perturbation points).
- Resume: ``load_checkpoint()`` loads that booster; ``xgb_model=`` continues it, and
  ``num_boost_round`` counts the rounds still to train.
- Stop: when the scheduler stops or pauses the trial, ``after_iteration`` returns True
  (XGBoost's own way to end training), and ``after_training`` then re-raises raysweep's
  stop, so that ``xgb.train`` does not return, like ``raysweep.report``.
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

xgb = require("xgboost", "xgboost", "xgboost")

__all__ = ["ReportCallback", "load_checkpoint"]

MODEL_FILE = "model.ubj"


# the framework's class, from a module imported at run time (so typed Any here)
_TrainingCallback: Any = xgb.callback.TrainingCallback


class ReportCallback(_TrainingCallback, Reporting):
    """Report XGBoost's evaluation metrics to raysweep after every boosting round.

    Args:
        metrics: Which metrics to report: None (all, as ``"<eval name>-<metric>"``), one
            such name, a list of them, or a dict ``{reported name: XGBoost name}`` such as
            ``{"loss": "valid-logloss"}``.
        checkpoint_every: Save the booster every this many rounds (None: only where the
            scheduler decides, see ``checkpoint_at_decisions``).
        checkpoint_at_decisions: Also save at the rounds where the scheduler waits to
            decide (a paused or forked trial resumes from exactly there).
        filename: The model file's name in the checkpoint directory; its extension picks
            XGBoost's format (``.ubj`` or ``.json``).

    Example:
        >>> cb = ReportCallback({"loss": "valid-logloss"}, checkpoint_every=10)
        >>> xgb.train(params, dtrain, evals=[(dvalid, "valid")], callbacks=[cb])  # doctest: +SKIP
    """

    def __init__(self, metrics: Any = None, *, checkpoint_every: int | None = None,
                 checkpoint_at_decisions: bool = True, filename: str = MODEL_FILE) -> None:
        super().__init__()
        owner = "xgboost.ReportCallback"
        setup_callback(self, owner, "XGBoost", metrics, checkpoint_every, checkpoint_at_decisions)
        self.filename = check_filename(owner, filename)
        self._start = 0

    def before_training(self, model: Any) -> Any:
        self._reporter.reset()
        self._start = model.num_boosted_rounds() if isinstance(model, xgb.Booster) else 0
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: dict) -> bool:
        values: dict[str, float] = {}
        for data, by_metric in evals_log.items():
            for name, history in by_metric.items():
                last = history[-1]
                if isinstance(last, tuple):  # xgb.cv: (mean, std)
                    last = last[0]
                values[f"{data}-{name}"] = float(last)
        reporter = self._reporter
        if reporter.stop is not None:
            return True
        picked = reporter.pick(values)
        step = self._start + epoch + 1
        save = None
        if isinstance(model, xgb.Booster) and reporter.due(step):
            def save(directory: str) -> None:
                model.save_model(os.path.join(directory, self.filename))
        elif self.checkpoint_every is not None and step % self.checkpoint_every == 0:
            raise TypeError("xgboost.ReportCallback: checkpoints need a Booster "
                            "(xgboost.train or the scikit-learn API), not xgboost.cv; "
                            "pass checkpoint_every=None")
        return reporter.report(picked, save, step)

    def after_training(self, model: Any) -> Any:
        self._reporter.raise_stop()  # stopped or paused: xgb.train does not return
        return model


def load_checkpoint(checkpoint: Any = None, filename: str = MODEL_FILE) -> Any:
    """The booster saved in ``checkpoint`` (default: the running trial's), or None.

    Args:
        checkpoint: A ``raysweep.Checkpoint`` written by ``ReportCallback`` (for instance
            ``results.best_checkpoint``); None reads ``raysweep.get_checkpoint()``.
        filename: The model file's name, as given to ``ReportCallback``.

    Returns:
        An ``xgboost.Booster`` (pass it as ``xgb_model=``), or None when the trial starts
        fresh.
    """
    path = checkpoint_file(checkpoint, "xgboost.load_checkpoint", filename)
    if path is None:
        return None
    return xgb.Booster(model_file=path)
