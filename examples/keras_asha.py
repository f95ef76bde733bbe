"""A small Keras network on scikit-learn's digits, with ASHA over epochs.

Each trial trains a two-layer network for up to 27 epochs with ``model.fit``;
``ReportCallback`` reports the validation loss and accuracy after every epoch and saves the
model (``model.keras``) at ASHA's rungs. ASHA stops the trials that fall behind at 1, 3 and
9 epochs; Keras ends their ``fit`` through ``model.stop_training``. The best model is then
loaded from its checkpoint and scored on the held-out test set.

Run:  python examples/keras_asha.py          (--quick: fewer trials)
Needs: pip install 'raysweep[keras]' jax   (any Keras backend works: KERAS_BACKEND)
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")  # before Keras is imported and Ray starts

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import raysweep as rs  # noqa: E402
from raysweep.integrations.keras import ReportCallback, load_checkpoint  # noqa: E402

STORAGE = os.environ.get("RAYSWEEP_EXAMPLES_DIR", os.path.expanduser("~/raysweep_results"))
QUICK = "--quick" in sys.argv
EPOCHS = 27

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype("float32")
X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
X_train, X_valid, y_train, y_valid = train_test_split(X_rest, y_rest, test_size=0.25,
                                                      random_state=0)


def build(config):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(config["units"], activation="relu"),
        keras.layers.Dropout(config["dropout"]),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=config["lr"]),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train(config):
    restored = load_checkpoint()                     # (model, epochs done) when resumed
    model, done = restored if restored else (build(config), 0)
    model.fit(X_train, y_train, validation_data=(X_valid, y_valid), batch_size=64,
              initial_epoch=done, epochs=EPOCHS, verbose=0,
              callbacks=[ReportCallback({"loss": "val_loss", "accuracy": "val_accuracy"})])


def main() -> None:
    space = {"lr": rs.loguniform(1e-4, 3e-2), "units": rs.choice([16, 32, 64, 128]),
             "dropout": rs.uniform(0.0, 0.5)}
    asha = rs.schedulers.ASHA(max_t=EPOCHS, grace_period=1, reduction_factor=3)
    results = rs.run(train, space, metric="loss", mode="min", scheduler=asha,
                     num_samples=8 if QUICK else 30, seed=0, storage_path=STORAGE,
                     name=f"keras_asha_{time.strftime('%Y%m%d-%H%M%S')}")

    frame = results.dataframe()
    print(f"{int(frame.training_iteration.sum())} epochs in all, instead of "
          f"{len(frame) * EPOCHS} without early stopping")
    print(frame.sort_values("loss").head(5)[
        ["trial_id", "loss", "accuracy", "training_iteration", "config/lr", "config/units"]]
        .to_string(index=False))
    model, epochs = load_checkpoint(results.best_checkpoint)
    _, test_accuracy = model.evaluate(X_test, y_test, verbose=0)
    print(f"best: {results.best_config}; checkpoint after {epochs} epochs; validation loss "
          f"{results.best_result['loss']:.4f}, test accuracy {test_accuracy:.4f}")
    print(f"experiment directory: {results.path}")


if __name__ == "__main__":
    main()
