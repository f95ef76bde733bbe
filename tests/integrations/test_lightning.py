"""PyTorch Lightning's ReportCallback on a real network (digits, 9 epochs, CPU) with real Ray:
ASHA stops training, PBT continues a donor's ``.ckpt``, a killed driver resumes.

PyTorch's PyPI wheels pull ~2.9 GB of CUDA libraries, so these tests carry the ``torch``
marker, deselected by default: run them with ``pytest -m torch tests/integrations``."""

from __future__ import annotations

import pytest

import raysweep as rs

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
pytest.importorskip("lightning")

import lightning.pytorch as pl  # noqa: E402
from _harness import (  # noqa: E402
    STEPS, StepLog, check_inline_stop, kill_and_resume, sweep_asha, sweep_pbt,
)
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from raysweep.integrations.lightning import ReportCallback, checkpoint_path  # noqa: E402

_X, _Y = load_digits(return_X_y=True)
X_TRAIN, X_VALID, Y_TRAIN, Y_VALID = train_test_split(_X / 16.0, _Y, test_size=0.3,
                                                      random_state=0)


def _loader(x, y, shuffle):
    data = torch.utils.data.TensorDataset(torch.tensor(x, dtype=torch.float32),
                                          torch.tensor(y))
    return torch.utils.data.DataLoader(data, batch_size=128, shuffle=shuffle)


class Net(pl.LightningModule):
    def __init__(self, lr):
        super().__init__()
        self.lr = lr
        self.net = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.ReLU(),
                                       torch.nn.Linear(16, 10))

    def training_step(self, batch, _):
        x, y = batch
        return torch.nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.cross_entropy(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


class _Steps(pl.Callback):
    """Records each epoch Lightning really trained."""

    def __init__(self, log):
        self.steps = log

    def on_train_epoch_end(self, trainer, module):
        self.steps(trainer.current_epoch + 1)


def train(config):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    path = checkpoint_path()
    done = torch.load(path, weights_only=False)["epoch"] + 1 if path else 0
    trainer = pl.Trainer(max_epochs=STEPS, enable_progress_bar=False, logger=False,
                         enable_checkpointing=False, enable_model_summary=False,
                         callbacks=[_Steps(StepLog(config, done)),
                                    ReportCallback({"loss": "val_loss"}, checkpoint_every=3)])
    trainer.fit(Net(config["lr"]), _loader(X_TRAIN, Y_TRAIN, True),
                _loader(X_VALID, Y_VALID, False), ckpt_path=path)


def space(log):
    return {"lr": rs.loguniform(0.001, 1.0), "log": log}


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_asha_stops_training_early(tmp_path):
    results = sweep_asha(train, space, tmp_path)
    state = torch.load(checkpoint_path(results.best_checkpoint), weights_only=False)
    assert state["epoch"] + 1 in (3, 6, 9)


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_pbt_continues_the_donors_checkpoint(tmp_path):
    sweep_pbt(train, space, tmp_path, {"lr": rs.loguniform(0.001, 1.0)}, delay_s=0.3)


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_driver_killed_then_resumed_from_ckpt_files(tmp_path):
    kill_and_resume(tmp_path, "test_lightning", train, space)


def test_stop_ends_fit(tmp_path):
    ran = []

    def objective(config):
        trainer = pl.Trainer(max_epochs=STEPS, enable_progress_bar=False, logger=False,
                             enable_checkpointing=False, enable_model_summary=False,
                             callbacks=[ReportCallback("val_loss")])
        trainer.fit(Net(0.1), _loader(X_TRAIN, Y_TRAIN, True), _loader(X_VALID, Y_VALID, False))
        ran.append(1)  # not reached when stopped

    check_inline_stop(objective, ran, tmp_path, 2, metric="val_loss")
