"""How many epochs should an averaged perceptron train? Let ASHA decide.

Each trial trains a linear classifier (``SGDClassifier(loss="perceptron", average=True)``)
one epoch at a time with ``partial_fit`` and reports validation accuracy after every epoch.
ASHA stops the trials that fall behind at 1, 3 and 9 epochs, so only the promising ones
train to the full 27: the epochs each trial got are part of the result. The winner is then
retrained for its number of epochs and scored once on the held-out test set.

Run:  python examples/perceptron_asha.py          (--quick: fewer trials)
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import raysweep as rs

STORAGE = os.environ.get("RAYSWEEP_EXAMPLES_DIR", os.path.expanduser("~/raysweep_results"))
QUICK = "--quick" in sys.argv
MAX_EPOCHS = 27

X, y = make_classification(n_samples=6000, n_features=40, n_informative=12, n_redundant=8,
                           n_clusters_per_class=1, class_sep=0.8, flip_y=0.05, random_state=0)
X = StandardScaler().fit_transform(X)
X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
X_train, X_val, y_train, y_val = train_test_split(X_rest, y_rest, test_size=0.25,
                                                  random_state=0)
CLASSES = np.unique(y)


def make_model(config):
    return SGDClassifier(loss="perceptron", average=True, alpha=config["alpha"],
                         penalty=config["penalty"], learning_rate=config["learning_rate"],
                         eta0=config["eta0"], random_state=0)


def train(config):
    model = make_model(config)
    order = np.random.default_rng(0)
    for _epoch in range(MAX_EPOCHS):
        batch = order.permutation(len(X_train))
        model.partial_fit(X_train[batch], y_train[batch], classes=CLASSES)
        rs.report({"accuracy": model.score(X_val, y_val)})   # one report = one epoch


def main() -> None:
    space = {
        "alpha": rs.loguniform(1e-7, 1e-1),
        "penalty": ["l2", "l1", "elasticnet"],
        "learning_rate": ["constant", "optimal", "invscaling"],
        "eta0": rs.loguniform(1e-4, 1.0),
    }
    asha = rs.schedulers.ASHA(max_t=MAX_EPOCHS, grace_period=1, reduction_factor=3)
    results = rs.run(train, space, metric="accuracy", mode="max", scheduler=asha,
                     num_samples=20 if QUICK else 60, seed=0, storage_path=STORAGE,
                     name=f"perceptron_asha_{time.strftime('%Y%m%d-%H%M%S')}")

    frame = results.dataframe()
    epochs = frame.training_iteration.value_counts().sort_index()
    print("epochs trained -> trials:", ", ".join(f"{e}: {n}" for e, n in epochs.items()))
    print(f"{int(frame.training_iteration.sum())} epochs in all, instead of "
          f"{len(frame) * MAX_EPOCHS} without early stopping")
    columns = ["trial_id", "accuracy", "training_iteration", "config/alpha", "config/penalty",
               "config/learning_rate", "config/eta0"]
    print(frame.sort_values("accuracy", ascending=False).head(5)[columns]
          .to_string(index=False))

    best = results.best_trial
    model = make_model(best.config)
    order = np.random.default_rng(0)
    for _epoch in range(best.iteration):
        batch = order.permutation(len(X_train))
        model.partial_fit(X_train[batch], y_train[batch], classes=CLASSES)
    print(f"best: {best.iteration} epochs of {best.config}; validation accuracy "
          f"{results.best_result['accuracy']:.4f}, test accuracy {model.score(X_test, y_test):.4f}")
    print(f"experiment directory: {results.path}")


if __name__ == "__main__":
    main()
