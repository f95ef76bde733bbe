"""LightGBM with ASHA over boosting rounds, and LightGBM's own early stopping inside.

Each trial boosts up to 300 rounds with ``lightgbm.train``; ``ReportCallback`` reports the
validation log-loss after every round and saves the booster every 25 rounds (and at ASHA's
rungs and the last round). ASHA stops the trials that fall behind at 5, 15, 45 and 135
rounds; LightGBM's ``early_stopping`` ends a trial whose loss stops improving. The best
booster is then loaded from its checkpoint and scored on the held-out test set.

Run:  python examples/lightgbm_asha.py          (--quick: fewer trials)
Needs: pip install 'raysweep[lightgbm]'
"""

from __future__ import annotations

import os
import sys
import time

import lightgbm as lgb
from sklearn.datasets import make_classification
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

import raysweep as rs
from raysweep.integrations.lightgbm import ReportCallback, load_checkpoint

STORAGE = os.environ.get("RAYSWEEP_EXAMPLES_DIR", os.path.expanduser("~/raysweep_results"))
QUICK = "--quick" in sys.argv
ROUNDS = 300

X, y = make_classification(n_samples=20_000, n_features=30, n_informative=15, flip_y=0.05,
                           random_state=0)
X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
X_train, X_valid, y_train, y_valid = train_test_split(X_rest, y_rest, test_size=0.25,
                                                      random_state=0)


def train(config):
    booster = load_checkpoint()                      # None unless the trial is resumed
    done = booster.current_iteration() if booster is not None else 0
    if done >= ROUNDS:
        return
    dtrain = lgb.Dataset(X_train, y_train)
    dvalid = lgb.Dataset(X_valid, y_valid, reference=dtrain)
    params = {**config, "objective": "binary", "num_threads": 1, "verbose": -1}
    lgb.train(params, dtrain, num_boost_round=ROUNDS - done, init_model=booster,
              valid_sets=[dvalid], valid_names=["valid"],
              callbacks=[ReportCallback({"loss": "valid-binary_logloss"}, checkpoint_every=25),
                         lgb.early_stopping(20, verbose=False)])


def main() -> None:
    space = {"learning_rate": rs.loguniform(0.01, 0.5), "num_leaves": rs.lograndint(4, 256),
             "min_child_samples": rs.lograndint(5, 200),
             "feature_fraction": rs.uniform(0.4, 1.0)}
    asha = rs.schedulers.ASHA(max_t=ROUNDS, grace_period=5, reduction_factor=3)
    results = rs.run(train, space, metric="loss", mode="min", scheduler=asha,
                     num_samples=12 if QUICK else 40, seed=0, storage_path=STORAGE,
                     name=f"lightgbm_asha_{time.strftime('%Y%m%d-%H%M%S')}")

    frame = results.dataframe()
    print(f"{int(frame.training_iteration.sum())} boosting rounds in all, instead of "
          f"{len(frame) * ROUNDS} without early stopping")
    print(frame.sort_values("loss").head(5)[
        ["trial_id", "loss", "training_iteration", "config/learning_rate",
         "config/num_leaves"]].to_string(index=False))
    booster = load_checkpoint(results.best_checkpoint)
    test_loss = log_loss(y_test, booster.predict(X_test))
    print(f"best: {results.best_config}; {booster.current_iteration()} rounds in its "
          f"checkpoint; validation log-loss {results.best_result['loss']:.4f}, test "
          f"log-loss {test_loss:.4f}")
    print(f"experiment directory: {results.path}")


if __name__ == "__main__":
    main()
