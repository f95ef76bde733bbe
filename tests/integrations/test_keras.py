"""Keras 3's ReportCallback on a real network (digits, 9 epochs, the JAX backend) with real
Ray: ASHA stops training, PBT continues a donor's model, a killed driver resumes from
``.keras`` files."""

from __future__ import annotations

import os

import pytest

# before Keras is first imported, here and (through the environment Ray inherits) in workers
os.environ.setdefault("KERAS_BACKEND", "jax")

import raysweep as rs  # noqa: E402

keras = pytest.importorskip("keras")  # in the dev extra (with jax): runs in CI

from _harness import (  # noqa: E402
    STEPS, StepLog, check_inline_stop, kill_and_resume, sweep_asha, sweep_pbt,
)
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from raysweep.integrations.keras import ReportCallback, load_checkpoint  # noqa: E402

_X, _Y = load_digits(return_X_y=True)
_X = (_X / 16.0).astype("float32")
X_TRAIN, X_VALID, Y_TRAIN, Y_VALID = train_test_split(_X, _Y, test_size=0.3, random_state=0)


class _Steps(keras.callbacks.Callback):  # type: ignore[name-defined]
    """Records each epoch Keras really trained (runs before ReportCallback)."""

    def __init__(self, log):
        super().__init__()
        self.steps = log

    def on_epoch_end(self, epoch, logs=None):
        self.steps(epoch + 1)


def _model(lr):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train(config):
    restored = load_checkpoint()
    model, done = restored if restored else (_model(config["lr"]), 0)
    model.optimizer.learning_rate.assign(config["lr"])  # a PBT clone's new rate
    model.fit(X_TRAIN, Y_TRAIN, validation_data=(X_VALID, Y_VALID), batch_size=128,
              initial_epoch=done, epochs=STEPS, verbose=0,
              callbacks=[_Steps(StepLog(config, done)),
                         ReportCallback({"loss": "val_loss", "acc": "val_accuracy"},
                                        checkpoint_every=3)])


def space(log):
    return {"lr": rs.loguniform(0.001, 1.0), "log": log}


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_asha_stops_training_early(tmp_path):
    results = sweep_asha(train, space, tmp_path)
    model, epochs = load_checkpoint(results.best_checkpoint)
    assert epochs in (3, 6, 9) and model.count_params() == 64 * 16 + 16 + 16 * 10 + 10


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_pbt_continues_the_donors_model(tmp_path):
    sweep_pbt(train, space, tmp_path, {"lr": rs.loguniform(0.001, 1.0)}, delay_s=0.3)


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
def test_driver_killed_then_resumed_from_keras_files(tmp_path):
    kill_and_resume(tmp_path, "test_keras", train, space)


def test_stop_ends_fit_and_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"keras.ReportCallback: metrics must be .* got \[\]"):
        ReportCallback([])
    ran = []

    def objective(config):
        model = _model(0.1)
        model.fit(X_TRAIN, Y_TRAIN, validation_data=(X_VALID, Y_VALID), epochs=STEPS,
                  verbose=0, callbacks=[ReportCallback("val_loss")])
        ran.append(1)  # not reached when stopped

    check_inline_stop(objective, ran, tmp_path, 2, metric="val_loss")
