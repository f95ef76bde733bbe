"""Hugging Face Transformers' ReportCallback on a real Trainer (digits, 9 epochs, CPU) with
real Ray: ASHA stops training, PBT continues a donor's Trainer checkpoint, a killed driver
resumes.

PyTorch's PyPI wheels pull ~2.9 GB of CUDA libraries, so these tests carry the ``torch``
marker, deselected by default: run them with ``pytest -m torch tests/integrations``."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import pytest

import raysweep as rs

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")

from _harness import (  # noqa: E402
    STEPS, StepLog, check_inline_stop, kill_and_resume, sweep_asha, sweep_pbt,
)
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from raysweep.integrations.transformers import ReportCallback, checkpoint_path  # noqa: E402

_X, _Y = load_digits(return_X_y=True)
X_TRAIN, X_VALID, Y_TRAIN, Y_VALID = train_test_split(_X / 16.0, _Y, test_size=0.3,
                                                      random_state=0)


class Digits(torch.utils.data.Dataset):  # type: ignore[name-defined]
    def __init__(self, x, y):
        self.x = torch.tensor(x, dtype=torch.float32)
        self.y = torch.tensor(y)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"x": self.x[i], "labels": self.y[i]}


class Net(torch.nn.Module):  # type: ignore[name-defined]
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(),
                                       torch.nn.Linear(16, 10))

    def forward(self, x, labels=None):
        logits = self.net(x)
        loss = None if labels is None else torch.nn.functional.cross_entropy(logits, labels)
        return {"loss": loss, "logits": logits}


class _Steps(transformers.TrainerCallback):  # type: ignore[name-defined]
    """Records each epoch the Trainer really trained."""

    def __init__(self, log):
        self.steps = log

    def on_epoch_end(self, args, state, control, **kwargs):
        self.steps(round(state.epoch))


def _args(output_dir, lr, **kwargs):
    return transformers.TrainingArguments(
        output_dir=output_dir, eval_strategy="epoch", save_strategy="no",
        num_train_epochs=STEPS, learning_rate=lr, per_device_train_batch_size=128,
        per_device_eval_batch_size=256, report_to=[], disable_tqdm=True, use_cpu=True,
        logging_strategy="no", seed=0, dataloader_num_workers=0, **kwargs)


def train(config):
    torch.set_num_threads(1)
    path = checkpoint_path()
    done = 0
    if path:
        with open(os.path.join(path, "trainer_state.json")) as handle:
            done = round(json.load(handle)["epoch"])
    output_dir = tempfile.mkdtemp()
    try:
        trainer = transformers.Trainer(
            model=Net(), args=_args(output_dir, config["lr"]),
            train_dataset=Digits(X_TRAIN, Y_TRAIN), eval_dataset=Digits(X_VALID, Y_VALID),
            callbacks=[_Steps(StepLog(config, done)),
                       ReportCallback({"loss": "eval_loss"}, checkpoint_every=3)])
        trainer.train(resume_from_checkpoint=path)
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)


def space(log):
    return {"lr": rs.loguniform(0.001, 1.0), "log": log}


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_asha_stops_training_early(tmp_path):
    results = sweep_asha(train, space, tmp_path)
    path = checkpoint_path(results.best_checkpoint)
    with open(os.path.join(path, "trainer_state.json")) as handle:
        assert round(json.load(handle)["epoch"]) in (3, 6, 9)


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_pbt_continues_the_donors_checkpoint(tmp_path):
    sweep_pbt(train, space, tmp_path, {"lr": rs.loguniform(0.001, 1.0)}, delay_s=0.3)


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_driver_killed_then_resumed_from_trainer_checkpoints(tmp_path):
    kill_and_resume(tmp_path, "test_transformers", train, space)


def test_stop_ends_train_and_no_evaluation_is_refused(tmp_path):
    ran = []

    def objective(config):
        trainer = transformers.Trainer(
            model=Net(), args=_args(str(tmp_path / "out"), 0.1),
            train_dataset=Digits(X_TRAIN, Y_TRAIN), eval_dataset=Digits(X_VALID, Y_VALID),
            callbacks=[ReportCallback("eval_loss")])
        trainer.train()
        ran.append(1)  # not reached when stopped

    check_inline_stop(objective, ran, tmp_path, 2, metric="eval_loss")

    def no_eval(config):
        args = _args(str(tmp_path / "out2"), 0.1)
        args.eval_strategy = "no"
        transformers.Trainer(model=Net(), args=args, train_dataset=Digits(X_TRAIN, Y_TRAIN),
                             callbacks=[ReportCallback("eval_loss")]).train()

    results = rs.run(no_eval, {"x": rs.uniform(0, 1)}, num_samples=1, executor="inline",
                     storage_path=str(tmp_path), name="noeval", verbose=0)
    assert "set TrainingArguments(eval_strategy='epoch' or 'steps')" in results.trials[0].error
