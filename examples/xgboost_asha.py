"""How deep, how fast, how many rounds? XGBoost with ASHA over boosting rounds.

Each trial boosts up to 200 rounds with ``xgboost.train``; ``ReportCallback`` reports the
validation log-loss after every round and saves the booster every 20 rounds (and at ASHA's
rungs). ASHA stops the trials that fall behind at 5, 15, 45 and 135 rounds; XGBoost ends
their training on the spot. The best booster is then loaded from its checkpoint and scored
on the held-out test set.

Run:  python examples/xgboost_asha.py          (--quick: fewer trials)
Needs: pip install 'raysweep[xgboost]'
"""

from __future__ import annotations

import os
import sys
import time

import xgboost as xgb
from sklearn.datasets import make_classification
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

import raysweep as rs
from raysweep.integrations.xgboost import ReportCallback, load_checkpoint

STORAGE = os.environ.get("RAYSWEEP_EXAMPLES_DIR", os.path.expanduser("~/raysweep_results"))
QUICK = "--quick" in sys.argv
ROUNDS = 200

X, y = make_classification(n_samples=20_000, n_features=30, n_informative=15, flip_y=0.05,
                           random_state=0)
X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
X_train, X_valid, y_train, y_valid = train_test_split(X_rest, y_rest, test_size=0.25,
                                                      random_state=0)


def train(config):
    booster = load_checkpoint()                      # None unless the trial is resumed
    done = booster.num_boosted_rounds() if booster is not None else 0
    dtrain = xgb.DMatrix(X_train, y_train)
    dvalid = xgb.DMatrix(X_valid, y_valid)
    params = {**config, "objective": "binary:logistic", "eval_metric": "logloss",
              "nthread": 1, "tree_method": "hist"}
    xgb.train(params, dtrain, num_boost_round=ROUNDS - done, xgb_model=booster,
              evals=[(dvalid, "valid")], verbose_eval=False,
              callbacks=[ReportCallback({"loss": "valid-logloss"}, checkpoint_every=20)])


def main() -> None:
    space = {"eta": rs.loguniform(0.01, 0.5), "max_depth": rs.randint(2, 10),
             "subsample": rs.uniform(0.5, 1.0), "min_child_weight": rs.loguniform(0.1, 20)}
    asha = rs.schedulers.ASHA(max_t=ROUNDS, grace_period=5, reduction_factor=3)
    results = rs.run(train, space, metric="loss", mode="min", scheduler=asha,
                     num_samples=12 if QUICK else 40, seed=0, storage_path=STORAGE,
                     name=f"xgboost_asha_{time.strftime('%Y%m%d-%H%M%S')}")

    frame = results.dataframe()
    print(f"{int(frame.training_iteration.sum())} boosting rounds in all, instead of "
          f"{len(frame) * ROUNDS} without early stopping")
    print(frame.sort_values("loss").head(5)[
        ["trial_id", "loss", "training_iteration", "config/eta", "config/max_depth"]]
        .to_string(index=False))
    booster = load_checkpoint(results.best_checkpoint)
    test_loss = log_loss(y_test, booster.predict(xgb.DMatrix(X_test)))
    print(f"best: {results.best_config}; {booster.num_boosted_rounds()} rounds in its "
          f"checkpoint; validation log-loss {results.best_result['loss']:.4f}, test "
          f"log-loss {test_loss:.4f}")
    print(f"experiment directory: {results.path}")


if __name__ == "__main__":
    main()
