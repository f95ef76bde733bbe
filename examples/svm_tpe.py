"""Tune an SVM with TPE, with a parameter that exists only for one kernel.

The kernel is a choice between sub-spaces: ``degree`` is part of the ``poly`` branch only, so
an RBF trial's config has no degree at all and TPE models each branch separately.

Run:  python examples/svm_tpe.py          (--quick: fewer trials)
"""

from __future__ import annotations

import os
import sys
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.svm import SVC

import raysweep as rs

STORAGE = os.environ.get("RAYSWEEP_EXAMPLES_DIR", os.path.expanduser("~/raysweep_results"))
QUICK = "--quick" in sys.argv

X, y = load_digits(return_X_y=True)
X, y = X[:900], y[:900]   # half of digits keeps each fit well under a second


def svm_error(config):
    kernel = config["kernel"]
    model = SVC(C=config["C"], gamma=config["gamma"], kernel=kernel["type"],
                degree=kernel.get("degree", 3), max_iter=20_000)
    return {"error": 1 - cross_val_score(model, X, y, cv=3).mean()}


def main() -> None:
    space = {
        "C": rs.loguniform(1e-2, 1e3),
        "gamma": rs.loguniform(1e-5, 1e-1),
        "kernel": rs.choice([
            {"type": "rbf"},
            {"type": "poly", "degree": rs.randint(2, 6)},   # 2..5, poly only
        ]),
    }
    results = rs.run(svm_error, space, metric="error", mode="min", search="tpe",
                     num_samples=16 if QUICK else 50, seed=0, storage_path=STORAGE,
                     name=f"svm_tpe_{time.strftime('%Y%m%d-%H%M%S')}")

    frame = results.dataframe()
    columns = [c for c in ["trial_id", "error", "config/C", "config/gamma",
                           "config/kernel/type", "config/kernel/degree"] if c in frame]
    print(frame.sort_values("error").head(5)[columns].to_string(index=False))
    counts = frame["config/kernel/type"].value_counts().to_dict()
    print(f"trials per kernel: {counts}")
    print(f"best config {results.best_config}")
    print(f"experiment directory: {results.path}")


if __name__ == "__main__":
    main()
