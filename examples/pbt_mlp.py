"""Population based training of a small neural network, its learning rate changing over time.

Eight ``MLPClassifier`` networks train side by side, one epoch per ``partial_fit`` call, and
checkpoint themselves after every epoch. Every few epochs PBT ranks them: a network in the
bottom quarter is replaced by a copy of one in the top quarter (its weights, from the
checkpoint) with a perturbed learning rate. The lineage printed at the end shows the learning
rate schedule that the best network actually trained with, and whose weights it inherited.

Run:  python examples/pbt_mlp.py          (--quick: fewer epochs)
"""

from __future__ import annotations

import os
import sys
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

import raysweep as rs

STORAGE = os.environ.get("RAYSWEEP_EXAMPLES_DIR", os.path.expanduser("~/raysweep_results"))
QUICK = "--quick" in sys.argv
EPOCHS = 12 if QUICK else 40

X, y = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, stratify=y,
                                                  random_state=0)
CLASSES = sorted(set(y))


def train(config):
    checkpoint = rs.get_checkpoint()   # None on a fresh start; the donor's state after a clone
    if checkpoint is None:
        model = MLPClassifier(hidden_layer_sizes=(32,), solver="sgd", momentum=0.9,
                              batch_size=64, random_state=0)
        start = 0
    else:
        model, start = checkpoint["model"], checkpoint["epoch"]
    # The learning rate may have been mutated by PBT: apply it to the (possibly inherited)
    # model. scikit-learn keeps the optimizer of the first partial_fit, so update it too.
    model.set_params(learning_rate_init=config["lr"])
    if hasattr(model, "_optimizer"):
        model._optimizer.learning_rate = config["lr"]
    for epoch in range(start, EPOCHS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.partial_fit(X_train, y_train, classes=CLASSES)
        rs.report({"accuracy": model.score(X_val, y_val), "lr": config["lr"]},
                  checkpoint={"model": model, "epoch": epoch + 1})


def main() -> None:
    pbt = rs.schedulers.PBT(perturbation_interval=3 if QUICK else 5,
                            hyperparam_mutations={"lr": rs.loguniform(1e-4, 0.5)})
    results = rs.run(train, {"lr": rs.loguniform(1e-4, 0.5)}, metric="accuracy", mode="max",
                     scheduler=pbt, num_samples=8, seed=0, storage_path=STORAGE,
                     name=f"pbt_mlp_{time.strftime('%Y%m%d-%H%M%S')}")

    frame = results.dataframe()
    columns = [c for c in ["trial_id", "accuracy", "training_iteration", "config/lr",
                           "parent_id"] if c in frame]
    print(frame.sort_values("accuracy", ascending=False).head(5)[columns]
          .to_string(index=False))

    clones = frame["parent_id"].notna().sum() if "parent_id" in frame else 0
    print(f"{clones} of {len(frame)} trials ended as clones of another trial")
    for trial_id in frame.sort_values("accuracy", ascending=False).trial_id[:3]:
        print(f"lineage of trial {trial_id}:")
        for step in results.pbt_schedule(trial_id):
            origin = (f"weights of trial {step['parent_id']}" if step["parent_id"]
                      else "its own initial weights")
            print(f"  from epoch {step['training_iteration']:>3}: "
                  f"lr={step['config']['lr']:.5f}, {origin}")
    print(f"experiment directory: {results.path}")


if __name__ == "__main__":
    main()
