"""A tiny PyTorch model trained by Hugging Face's ``Trainer`` on scikit-learn's digits, with
ASHA over epochs.

Each trial trains for up to 9 epochs with ``trainer.train`` and evaluates after every epoch;
``ReportCallback`` reports the evaluation loss and has the Trainer save its own checkpoint
directory every 3 evaluations and at ASHA's rungs. ASHA stops the trials that fall behind at
1 and 3 epochs; the Trainer leaves its loop through ``control.should_training_stop``. The best
model's weights are then loaded from its Trainer checkpoint and scored on the held-out test
set. The model is a plain ``torch.nn.Module`` returning ``{"loss", "logits"}`` (the Trainer
takes any such module); a ``transformers`` model from ``from_pretrained`` goes the same way.

Run:  python examples/transformers_asha.py          (--quick: fewer trials)
Needs: pip install 'raysweep[transformers]'   (PyTorch; CPU is enough)
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time

import torch
import transformers
from safetensors.torch import load_file
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import raysweep as rs
from raysweep.integrations.transformers import ReportCallback, checkpoint_path

STORAGE = os.environ.get("RAYSWEEP_EXAMPLES_DIR", os.path.expanduser("~/raysweep_results"))
QUICK = "--quick" in sys.argv
EPOCHS = 9

X, y = load_digits(return_X_y=True)
X_rest, X_test, y_rest, y_test = train_test_split(X / 16.0, y, test_size=0.2, random_state=0)
X_train, X_valid, y_train, y_valid = train_test_split(X_rest, y_rest, test_size=0.25,
                                                      random_state=0)


class Digits(torch.utils.data.Dataset):
    def __init__(self, x, labels):
        self.x = torch.tensor(x, dtype=torch.float32)
        self.labels = torch.tensor(labels)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"x": self.x[i], "labels": self.labels[i]}


class Net(torch.nn.Module):
    def __init__(self, units: int):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(64, units), torch.nn.ReLU(),
                                       torch.nn.Linear(units, 10))

    def forward(self, x, labels=None):
        logits = self.net(x)
        loss = None if labels is None else torch.nn.functional.cross_entropy(logits, labels)
        return {"loss": loss, "logits": logits}


def train(config):
    torch.set_num_threads(1)
    output_dir = tempfile.mkdtemp()  # the Trainer's scratch; reports copy the checkpoints
    try:
        args = transformers.TrainingArguments(
            output_dir=output_dir, eval_strategy="epoch", save_strategy="no",
            num_train_epochs=EPOCHS, learning_rate=config["lr"], per_device_train_batch_size=64,
            per_device_eval_batch_size=256, report_to=[], disable_tqdm=True, use_cpu=True,
            logging_strategy="no", seed=0, dataloader_num_workers=0)
        trainer = transformers.Trainer(
            model=Net(config["units"]), args=args, train_dataset=Digits(X_train, y_train),
            eval_dataset=Digits(X_valid, y_valid),
            callbacks=[ReportCallback({"loss": "eval_loss"}, checkpoint_every=3)])
        trainer.remove_callback(transformers.PrinterCallback)  # no printed logs per epoch
        trainer.train(resume_from_checkpoint=checkpoint_path())  # None: fresh start
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)


def main() -> None:
    space = {"lr": rs.loguniform(1e-4, 1e-1), "units": rs.choice([16, 32, 64])}
    asha = rs.schedulers.ASHA(max_t=EPOCHS, grace_period=1, reduction_factor=3)
    results = rs.run(train, space, metric="loss", mode="min", scheduler=asha,
                     num_samples=6 if QUICK else 12, seed=0, storage_path=STORAGE,
                     name=f"transformers_asha_{time.strftime('%Y%m%d-%H%M%S')}")

    frame = results.dataframe()
    print(f"{int(frame.training_iteration.sum())} epochs in all, instead of "
          f"{len(frame) * EPOCHS} without early stopping")
    print(frame.sort_values("loss").head(5)[
        ["trial_id", "loss", "training_iteration", "config/lr", "config/units"]]
        .to_string(index=False))
    model = Net(results.best_config["units"])
    best = checkpoint_path(results.best_checkpoint)
    if best is None:
        raise SystemExit("the best trial left no checkpoint")
    weights = os.path.join(best, "model.safetensors")
    model.load_state_dict(load_file(weights))
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor(X_test, dtype=torch.float32))["logits"]
    accuracy = (logits.argmax(dim=1).numpy() == y_test).mean()
    print(f"best: {results.best_config}; validation loss {results.best_result['loss']:.4f}, "
          f"test accuracy {accuracy:.4f}")
    print(f"experiment directory: {results.path}")


if __name__ == "__main__":
    main()
