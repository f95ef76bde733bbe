"""Random search for a random forest, with distributions taken straight from scipy.stats.

Any frozen ``scipy.stats`` distribution is a search domain (as in scikit-learn's
``RandomizedSearchCV``): ``randint`` for the integer parameters, ``uniform`` for the share of
features tried at each split; a list is a categorical choice.

Run:  python examples/random_forest_random.py          (--quick: fewer, smaller forests)
"""

from __future__ import annotations

import os
import sys
import time

import scipy.stats
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score

import raysweep as rs

STORAGE = os.environ.get("RAYSWEEP_EXAMPLES_DIR", os.path.expanduser("~/raysweep_results"))
QUICK = "--quick" in sys.argv

X, y = load_breast_cancer(return_X_y=True)


def forest_auc(config):
    model = RandomForestClassifier(n_estimators=config["n_estimators"],
                                   max_depth=config["max_depth"],
                                   max_features=config["max_features"],
                                   criterion=config["criterion"], random_state=0)
    return {"roc_auc": cross_val_score(model, X, y, cv=3, scoring="roc_auc").mean()}


def main() -> None:
    space = {
        "n_estimators": scipy.stats.randint(10, 60 if QUICK else 200),
        "max_depth": scipy.stats.randint(2, 20),
        "max_features": scipy.stats.uniform(0.05, 0.5),   # 5% .. 55% of the features
        "criterion": ["gini", "entropy"],
    }
    results = rs.run(forest_auc, space, metric="roc_auc", mode="max", search="random",
                     num_samples=8 if QUICK else 30, seed=0, storage_path=STORAGE,
                     name=f"random_forest_{time.strftime('%Y%m%d-%H%M%S')}")

    columns = ["trial_id", "roc_auc", "config/n_estimators", "config/max_depth",
               "config/max_features", "config/criterion", "time_total_s"]
    table = results.dataframe().sort_values("roc_auc", ascending=False).head(5)
    print(table[columns].to_string(index=False))
    print(f"best config {results.best_config}")
    print(f"experiment directory: {results.path}")


if __name__ == "__main__":
    main()
