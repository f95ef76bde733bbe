"""Quickstart: tune a small function, then a real scikit-learn model, on all local cores.

Run:  python examples/quickstart.py          (--quick: fewer SVM trials)
"""

from __future__ import annotations

import os
import sys

from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.svm import SVC

import raysweep as rs

STORAGE = os.environ.get("RAYSWEEP_EXAMPLES_DIR", os.path.expanduser("~/raysweep_results"))
QUICK = "--quick" in sys.argv


def quadratic(config):
    return (config["x"] - 3) ** 2 + config["k"] / 100


def svc_error(config):
    X, y = load_digits(return_X_y=True)
    model = SVC(C=config["C"], gamma=config["gamma"], kernel=config["kernel"])
    return {"error": 1 - cross_val_score(model, X, y, cv=3).mean()}


def main() -> None:
    results = rs.run(quadratic, {"x": rs.uniform(-10, 10), "k": rs.randint(1, 30)},
                     metric="loss", mode="min", num_samples=200, seed=0,
                     storage_path=STORAGE, name=None, verbose=0)
    print(results.dataframe().sort_values("loss").head(5)[["trial_id", "loss", "config/x",
                                                           "config/k"]].to_string(index=False))
    print(f"best x={results.best_config['x']:.4f}; experiment directory: {results.path}")
    space = {"C": rs.loguniform(1e-2, 1e3), "gamma": rs.loguniform(1e-5, 1e-1),
             "kernel": ["rbf", "poly"]}
    svc = rs.run(svc_error, space, metric="error", mode="min",
                 num_samples=6 if QUICK else 12, seed=0, storage_path=STORAGE, verbose=1)
    top = svc.dataframe().sort_values("error").head(5)
    print(top[["trial_id", "error", "config/C", "config/gamma", "config/kernel"]]
          .to_string(index=False))
    print(f"best config {svc.best_config}; experiment directory: {svc.path}")


if __name__ == "__main__":
    main()
