"""SearchCV: scikit-learn's GridSearchCV / RandomizedSearchCV, run in parallel on raysweep.

Each search is kept as a raysweep experiment (``name=`` and ``storage_path=``), so it can be
inspected afterwards with ``rs.load(path)`` or the ``raysweep`` command.

Run:  python examples/sklearn_searchcv.py
"""

from __future__ import annotations

import os
import time

import pandas as pd
from scipy import stats
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import raysweep as rs
from raysweep.sklearn import SearchCV

STORAGE = os.environ.get("RAYSWEEP_EXAMPLES_DIR", os.path.expanduser("~/raysweep_results"))


def main() -> None:
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    stamp = time.strftime("%Y%m%d-%H%M%S")

    # 1. A GridSearchCV param_grid, unchanged: every point, the same cv_results_.
    param_grid = [{"kernel": ["linear"], "C": [0.01, 0.1, 1]},
                  {"kernel": ["rbf"], "C": [1, 10, 100], "gamma": [1e-4, 1e-3, 1e-2]}]
    grid = SearchCV(SVC(), param_grid, search="grid", cv=5, verbose=1,
                    name=f"searchcv_grid_{stamp}", storage_path=STORAGE).fit(X_train, y_train)
    print(pd.DataFrame(grid.cv_results_)[["params", "mean_test_score", "rank_test_score"]]
          .sort_values("rank_test_score").head(3).to_string(index=False))
    print(f"grid: best {grid.best_params_}, test accuracy {grid.score(X_test, y_test):.4f}\n")

    # 2. RandomizedSearchCV-style distributions on a pipeline, proposed by TPE.
    pipe = Pipeline([("scale", StandardScaler()), ("pca", PCA()), ("svc", SVC())])
    space = {"pca__n_components": [16, 32, 48],
             "svc__C": stats.loguniform(1e-1, 1e3),          # scipy.stats distributions
             "svc__gamma": rs.loguniform(1e-4, 1e-1)}         # or raysweep domains
    tpe = SearchCV(pipe, space, search="tpe", n_trials=24, cv=3, random_state=0,
                   name=f"searchcv_tpe_{stamp}", storage_path=STORAGE)
    tpe.fit(X_train, y_train)
    print(f"tpe: best {tpe.best_params_}, CV {tpe.best_score_:.4f}, "
          f"test {tpe.score(X_test, y_test):.4f}\n")

    # 3. Early stopping: partial_fit epochs, weak candidates cut by ASHA.
    finished = []
    sgd = SearchCV(SGDClassifier(random_state=0),
                   {"alpha": rs.loguniform(1e-6, 1e-1), "penalty": ["l2", "l1", "elasticnet"]},
                   n_trials=30, scheduler="asha", max_iterations=20, cv=3, random_state=0,
                   callbacks=[finished.append], name=f"searchcv_asha_{stamp}", storage_path=STORAGE)
    sgd.fit(X_train, y_train)
    epochs = sgd.cv_results_["training_iteration"]
    print(f"asha: {len(finished)} candidates, {epochs.sum()} epochs of {20 * len(epochs)} "
          f"possible; best {sgd.best_params_}, test {sgd.score(X_test, y_test):.4f}")
    for label, search in [("grid", grid), ("tpe", tpe), ("asha", sgd)]:
        print(f"{label} experiment directory: {search.results_.path}")


if __name__ == "__main__":
    main()
