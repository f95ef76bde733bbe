"""Callbacks that connect the training loops people already have to raysweep.

One module per framework, each imported on purpose (importing ``raysweep`` imports none of
them, nor the framework):

- ``raysweep.integrations.xgboost``: ``ReportCallback`` for ``xgboost.train`` (extra
  ``raysweep[xgboost]``)
- ``raysweep.integrations.lightgbm``: ``ReportCallback`` for ``lightgbm.train`` (extra
  ``raysweep[lightgbm]``)
- ``raysweep.integrations.keras``: a Keras 3 ``Callback``, any backend (``raysweep[keras]``)
- ``raysweep.integrations.lightning``: a PyTorch Lightning ``Callback``
  (``raysweep[lightning]``)
- ``raysweep.integrations.transformers``: a Hugging Face ``TrainerCallback``
  (``raysweep[transformers]``)

Each ``ReportCallback`` reports the metrics you name once per boosting round, epoch or
evaluation through ``raysweep.report``, saves a checkpoint in the framework's own format
every ``checkpoint_every`` steps (and wherever the scheduler may pause or fork the trial),
and, when the scheduler stops or pauses the trial, stops training through the framework's
own mechanism. Each module's ``load_checkpoint()`` gives what the framework's resume
argument takes.

When the trial is stopped or paused, the training call (``xgboost.train``, ``model.fit``,
``trainer.fit``, ``trainer.train``) does not return, exactly like ``raysweep.report``: the
framework first ends its loop its own way (so it closes its files and frees its memory),
then the callback lets raysweep's stop unwind the objective.
"""
