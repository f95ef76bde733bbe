"""Interrupt a sweep and resume it: nothing finished is lost, nothing is counted twice.

Two commands:

    python examples/resume.py --fresh --interrupt-after 8   # start; stops itself 8 s in
    python examples/resume.py                               # resume and finish

The first command is interrupted the way Ctrl-C would do it, 8 s after its first trial started
(press Ctrl-C instead of passing ``--interrupt-after`` if you like): raysweep saves the state
and the script exits with status 130. The second command runs
the same ``rs.run(..., name="resume_demo", resume=True)``: finished trials are kept as they
are, unfinished ones continue from their last checkpoint, and the total number of trials
comes out exactly as asked. ``--fresh`` deletes an earlier ``resume_demo`` experiment first.

Each trial trains a linear model one epoch at a time and checkpoints it after every epoch;
``started_at`` in the table is the epoch its last run began at (0: it ran in one go).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import threading
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split

import raysweep as rs

STORAGE = os.environ.get("RAYSWEEP_EXAMPLES_DIR", os.path.expanduser("~/raysweep_results"))
NAME = "resume_demo"
EPOCHS = 10
SECONDS_PER_EPOCH = 0.2   # stands in for a model that takes a while to train

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X / 16.0, y, test_size=0.3, random_state=0)


def train(config):
    checkpoint = rs.get_checkpoint()
    if checkpoint is None:
        model = SGDClassifier(loss="log_loss", alpha=config["alpha"], eta0=config["eta0"],
                              learning_rate="constant", random_state=0)
        started_at = 0
    else:
        model, started_at = checkpoint["model"], checkpoint["epoch"]
    for epoch in range(started_at, EPOCHS):
        model.partial_fit(X_train, y_train, classes=np.arange(10))
        time.sleep(SECONDS_PER_EPOCH)
        rs.report({"accuracy": model.score(X_val, y_val), "started_at": started_at},
                  checkpoint={"model": model, "epoch": epoch + 1})


class InterruptLater(rs.Callback):
    """Sends the process a SIGINT (what Ctrl-C does) ``seconds`` after the first trial
    starts: the clock starts with the sweep, so a slow start (Ray on a busy machine) does
    not interrupt it before anything ran."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.timer: threading.Timer | None = None

    def on_trial_start(self, trial) -> None:
        if self.timer is None:
            self.timer = threading.Timer(self.seconds, os.kill, (os.getpid(), signal.SIGINT))
            self.timer.daemon = True
            self.timer.start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fresh", action="store_true",
                        help=f"delete an earlier {NAME!r} experiment first")
    parser.add_argument("--interrupt-after", type=float, metavar="SECONDS",
                        help="interrupt the sweep (like Ctrl-C) after this many seconds")
    args = parser.parse_args()

    path = os.path.join(STORAGE, NAME)
    if args.fresh and os.path.exists(path):
        shutil.rmtree(path)
    if os.path.exists(path):
        print(f"resuming the experiment in {path}")
    callbacks = [InterruptLater(args.interrupt_after)] if args.interrupt_after else []

    space = {"alpha": rs.loguniform(1e-6, 1e-2), "eta0": rs.loguniform(1e-3, 1.0)}
    try:
        results = rs.run(train, space, metric="accuracy", mode="max", num_samples=12, seed=0,
                         storage_path=STORAGE, name=NAME, resume=True, callbacks=callbacks)
    except KeyboardInterrupt:
        if os.path.isfile(os.path.join(path, "experiment.json")):
            print(f"interrupted; the state is saved in {path}. Resume with:\n"
                  f"    python {sys.argv[0]}")
        else:
            print("interrupted before the sweep started: nothing was saved; run the same "
                  "command again")
        sys.exit(130)

    frame = results.dataframe()
    print(frame.sort_values("accuracy", ascending=False).head(5)[
        ["trial_id", "accuracy", "training_iteration", "started_at", "config/alpha",
         "config/eta0"]].to_string(index=False))
    resumed = (frame.started_at > 0).sum()
    print(f"{len(frame)} trials, {resumed} of them continued from a checkpoint")
    print(f"experiment directory: {results.path}")


if __name__ == "__main__":
    main()
