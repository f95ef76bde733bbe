"""A tiny PyTorch Lightning network on scikit-learn's digits, with ASHA over epochs.

Each trial trains a one-hidden-layer network for up to 9 epochs with ``trainer.fit``;
``ReportCallback`` reports the validation loss after every epoch and saves Lightning's own
checkpoint (``.ckpt``) every 3 epochs and at ASHA's rungs. ASHA stops the trials that fall
behind at 1 and 3 epochs; Lightning ends their ``fit`` through ``trainer.should_stop``. The
best network is then loaded from its checkpoint and scored on the held-out test set.

Run:  python examples/lightning_asha.py          (--quick: fewer trials)
Needs: pip install 'raysweep[lightning]'   (PyTorch; CPU is enough)
"""

from __future__ import annotations

import logging
import os
import sys
import time

import lightning.pytorch as pl
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import raysweep as rs
from raysweep.integrations.lightning import ReportCallback, checkpoint_path

STORAGE = os.environ.get("RAYSWEEP_EXAMPLES_DIR", os.path.expanduser("~/raysweep_results"))
QUICK = "--quick" in sys.argv
EPOCHS = 9

X, y = load_digits(return_X_y=True)
X_rest, X_test, y_rest, y_test = train_test_split(X / 16.0, y, test_size=0.2, random_state=0)
X_train, X_valid, y_train, y_valid = train_test_split(X_rest, y_rest, test_size=0.25,
                                                      random_state=0)


def loader(x, labels, shuffle=False):
    data = torch.utils.data.TensorDataset(torch.tensor(x, dtype=torch.float32),
                                          torch.tensor(labels))
    return torch.utils.data.DataLoader(data, batch_size=64, shuffle=shuffle)


class Net(pl.LightningModule):
    def __init__(self, lr: float = 0.01, units: int = 32):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(64, units), torch.nn.ReLU(),
                                       torch.nn.Linear(units, 10))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, _):
        x, labels = batch
        return torch.nn.functional.cross_entropy(self(x), labels)

    def validation_step(self, batch, _):
        x, labels = batch
        self.log("val_loss", torch.nn.functional.cross_entropy(self(x), labels))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def train(config):
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)  # no banners per trial
    torch.manual_seed(0)
    torch.set_num_threads(1)
    trainer = pl.Trainer(max_epochs=EPOCHS, accelerator="cpu", enable_progress_bar=False,
                         logger=False, enable_checkpointing=False, enable_model_summary=False,
                         callbacks=[ReportCallback({"loss": "val_loss"}, checkpoint_every=3)])
    trainer.fit(Net(config["lr"], config["units"]), loader(X_train, y_train, shuffle=True),
                loader(X_valid, y_valid), ckpt_path=checkpoint_path())  # None: fresh start


def main() -> None:
    space = {"lr": rs.loguniform(1e-4, 1e-1), "units": rs.choice([16, 32, 64])}
    asha = rs.schedulers.ASHA(max_t=EPOCHS, grace_period=1, reduction_factor=3)
    results = rs.run(train, space, metric="loss", mode="min", scheduler=asha,
                     num_samples=6 if QUICK else 12, seed=0, storage_path=STORAGE,
                     name=f"lightning_asha_{time.strftime('%Y%m%d-%H%M%S')}")

    frame = results.dataframe()
    print(f"{int(frame.training_iteration.sum())} epochs in all, instead of "
          f"{len(frame) * EPOCHS} without early stopping")
    print(frame.sort_values("loss").head(5)[
        ["trial_id", "loss", "training_iteration", "config/lr", "config/units"]]
        .to_string(index=False))
    best = checkpoint_path(results.best_checkpoint)
    if best is None:
        raise SystemExit("the best trial left no checkpoint")
    model = Net.load_from_checkpoint(best)
    model.eval()
    with torch.no_grad():
        predicted = model(torch.tensor(X_test, dtype=torch.float32)).argmax(dim=1).numpy()
    print(f"best: {results.best_config}; validation loss {results.best_result['loss']:.4f}, "
          f"test accuracy {(predicted == y_test).mean():.4f}")
    print(f"experiment directory: {results.path}")


if __name__ == "__main__":
    main()
