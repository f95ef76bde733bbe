"""Choose k for k-nearest neighbours by grid search with cross-validation.

Train / validation / test discipline: the test set is split off first and used once, at the
very end. Every candidate is scored by 5-fold cross-validation on the training part (the
folds play the validation set), the best one is refit on the whole training part, and only
then is it scored on the test set: that number estimates how the chosen model generalises.

Run:  python examples/knn_grid.py          (--quick: a smaller grid)
"""

from __future__ import annotations

import os
import sys
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import raysweep as rs

STORAGE = os.environ.get("RAYSWEEP_EXAMPLES_DIR", os.path.expanduser("~/raysweep_results"))
QUICK = "--quick" in sys.argv

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                    random_state=0)


def make_model(config):
    return make_pipeline(StandardScaler(),
                         KNeighborsClassifier(n_neighbors=config["k"],
                                              weights=config["weights"]))


def cv_accuracy(config):
    scores = cross_val_score(make_model(config), X_train, y_train, cv=5)
    return {"accuracy": scores.mean(), "accuracy_sd": scores.std()}


def main() -> None:
    ks = [1, 3, 7, 15] if QUICK else list(range(1, 31, 2))
    space = {"k": rs.grid(ks), "weights": rs.grid(["uniform", "distance"])}
    results = rs.run(cv_accuracy, space, metric="accuracy", mode="max",
                     storage_path=STORAGE, name=f"knn_grid_{time.strftime('%Y%m%d-%H%M%S')}")

    table = results.dataframe().sort_values("accuracy", ascending=False).head(5)
    print(table[["trial_id", "accuracy", "accuracy_sd", "config/k", "config/weights"]]
          .to_string(index=False))

    best = results.best_config
    model = make_model(best).fit(X_train, y_train)  # refit on all training data
    print(f"best: k={best['k']}, weights={best['weights']}: cross-validated accuracy "
          f"{results.best_result['accuracy']:.4f}, held-out test accuracy "
          f"{model.score(X_test, y_test):.4f}")
    print(f"experiment directory: {results.path}")


if __name__ == "__main__":
    main()
