"""Time-to-quality on real training: raysweep vs Ray Tune vs Optuna, each with its own
integration for the same library.

Two tasks, each tuned by the three frameworks in the same process, one after another, with
the same configurations in the same order (drawn once per seed and handed to each framework as
trial index ``i``), the same ASHA rungs, two trials at a time and the same budget:

- **LightGBM** with LightGBM's own early stopping (20 rounds) on a 200,000-row
  ``make_classification`` task (40 features, 30 informative, 10 % label noise; 150,000 rows
  train, 50,000 validation), ASHA over boosting rounds.
  raysweep: ``raysweep.integrations.lightgbm.ReportCallback`` (checkpoint every 25 rounds);
  Ray Tune: ``ray.tune.integration.lightgbm.TuneReportCheckpointCallback`` (``frequency=25``)
  with ``ASHAScheduler``; Optuna: ``optuna_integration.LightGBMPruningCallback`` with
  ``SuccessiveHalvingPruner`` (Optuna's ASHA), ``n_jobs=2`` threads.
- **Keras** (JAX backend) two-layer network on scikit-learn's digits, ASHA over epochs.
  raysweep: ``raysweep.integrations.keras.ReportCallback``; Optuna:
  ``optuna_integration.KerasPruningCallback``; Ray Tune: its Keras integration
  (``ray.tune.integration.keras``) needs TensorFlow, which is not installed, so Tune's side is
  a four-line Keras callback calling ``ray.tune.report`` (no checkpoints, like the other two).

Every trial also runs a small recorder callback (the same for all three) that appends
``(wall time, validation loss, step)`` to a file after every round/epoch, before the
framework's own callback can stop it. From those: each framework's best validation loss so
far against wall time since its run started, its final (best) loss, the steps it trained,
and the time raysweep needed to reach each peer's final loss, against the time the peer
needed for it and its whole wall time.

Run:  python benchmarks/real_training.py            (3 seeds; long)
      python benchmarks/real_training.py --quick    (1 seed, fewer trials and rounds)
Needs: pip install -e '.[bench,lightgbm,keras]' jax optuna-integration
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")  # before Keras is imported and Ray starts
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # no per-run tables from Ray Tune

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import table  # noqa: E402

WORKERS = 2
FRAMEWORKS = ("raysweep", "Ray Tune", "Optuna")


# -- the recorder every trial runs (same for all three frameworks) -----------------------------
def _trace_file(trace_dir: str) -> Path:
    return Path(trace_dir) / f"{uuid.uuid4().hex}.csv"


def _record(path: Path, loss: float, step: int) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"{time.time()!r},{loss!r},{step}\n")


class LgbRecorder:
    """LightGBM callback: record the validation log-loss after every round."""

    order = 10  # before every framework's callback (raysweep 25, Tune 20+, Optuna 30)

    def __init__(self, trace_dir: str) -> None:
        self.path = _trace_file(trace_dir)

    def __call__(self, env: Any) -> None:
        for name, metric, value, *_ in env.evaluation_result_list or ():
            if name == "valid" and metric == "binary_logloss":
                _record(self.path, float(value), env.iteration + 1)


def keras_recorder(trace_dir: str) -> Any:
    import keras  # noqa: PLC0415

    class KerasRecorder(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.path = _trace_file(trace_dir)

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            _record(self.path, float((logs or {})["val_loss"]), epoch + 1)

    return KerasRecorder()


def read_traces(trace_dir: str, start: float) -> dict[str, Any]:
    """Every recorded step of one run: times since ``start``, losses, trial count."""
    rows = []
    files = list(Path(trace_dir).glob("*.csv"))
    for path in files:
        for line in path.read_text().splitlines():
            wall, loss, step = line.split(",")
            rows.append((float(wall) - start, float(loss), int(step)))
    rows.sort()
    times = np.array([r[0] for r in rows])
    best = np.minimum.accumulate(np.array([r[1] for r in rows])) if rows else np.array([])
    return {"times": times, "best": best, "steps": len(rows), "trials": len(files)}


def time_to(trace: dict[str, Any], quality: float) -> float:
    """Seconds until the best loss so far was <= ``quality`` (inf: never)."""
    reached = np.nonzero(trace["best"] <= quality)[0]
    return float(trace["times"][reached[0]]) if len(reached) else float("inf")


# -- the tasks ---------------------------------------------------------------------------------
class LightGBMTask:
    name = "LightGBM, 200,000 rows, ASHA over boosting rounds"
    unit = "rounds"

    def __init__(self, data_dir: str, quick: bool) -> None:
        self.n_trials, self.max_t, self.grace = (6, 45, 5) if quick else (16, 135, 5)
        self.data = os.path.join(data_dir, "lgb.npz")
        if not os.path.exists(self.data):
            from sklearn.datasets import make_classification  # noqa: PLC0415

            x, y = make_classification(n_samples=200_000, n_features=40, n_informative=30,
                                       n_redundant=5, flip_y=0.1, random_state=0)
            np.savez(self.data, x=x.astype(np.float32), y=y)

    def configs(self, seed: int) -> list[dict[str, Any]]:
        rng = np.random.default_rng(seed)
        return [{"learning_rate": float(np.exp(rng.uniform(np.log(0.02), np.log(0.3)))),
                 "num_leaves": int(np.exp(rng.uniform(np.log(8), np.log(256)))),
                 "min_child_samples": int(np.exp(rng.uniform(np.log(5), np.log(200)))),
                 "feature_fraction": float(rng.uniform(0.5, 1.0)),
                 "lambda_l2": float(np.exp(rng.uniform(np.log(1e-3), np.log(10.0))))}
                for _ in range(self.n_trials)]

    def trainer(self, framework: str, configs: list[dict[str, Any]], trace_dir: str) -> Any:
        data_path, max_t = self.data, self.max_t

        def train(config: dict[str, Any], callbacks: list[Any]) -> Any:
            import lightgbm as lgb  # noqa: PLC0415

            with np.load(data_path) as data:
                x, y = data["x"], data["y"]
            dtrain = lgb.Dataset(x[:150_000], y[:150_000])
            dvalid = lgb.Dataset(x[150_000:], y[150_000:], reference=dtrain)
            params = {**configs[config["i"]], "objective": "binary", "num_threads": 1,
                      "verbose": -1, "metric": "binary_logloss", "seed": 0}
            return lgb.train(params, dtrain, num_boost_round=max_t, valid_sets=[dvalid],
                             valid_names=["valid"],
                             callbacks=[LgbRecorder(trace_dir), *callbacks,
                                        lgb.early_stopping(20, verbose=False)])

        if framework == "raysweep":
            def objective(config: dict[str, Any]) -> None:
                from raysweep.integrations.lightgbm import ReportCallback  # noqa: PLC0415

                train(config, [ReportCallback({"loss": "valid-binary_logloss"},
                                              checkpoint_every=25,
                                              checkpoint_at_decisions=False)])
        elif framework == "Ray Tune":
            def objective(config: dict[str, Any]) -> None:  # type: ignore[misc]
                from ray.tune.integration.lightgbm import (  # noqa: PLC0415
                    TuneReportCheckpointCallback,
                )

                train(config, [TuneReportCheckpointCallback(
                    {"loss": "valid-binary_logloss"}, frequency=25)])
        else:
            def objective(trial: Any) -> float:  # type: ignore[misc]
                from optuna_integration import LightGBMPruningCallback  # noqa: PLC0415

                config = {"i": trial.suggest_int("i", 0, len(configs) - 1)}
                booster = train(config, [LightGBMPruningCallback(
                    trial, "binary_logloss", valid_name="valid")])
                return float(booster.best_score["valid"]["binary_logloss"])
        return objective


class KerasTask:
    name = "Keras (JAX) network on digits, ASHA over epochs"
    unit = "epochs"

    def __init__(self, data_dir: str, quick: bool) -> None:
        self.n_trials, self.max_t, self.grace = (6, 9, 1) if quick else (16, 27, 1)

    def configs(self, seed: int) -> list[dict[str, Any]]:
        rng = np.random.default_rng(seed)
        return [{"lr": float(np.exp(rng.uniform(np.log(1e-4), np.log(3e-2)))),
                 "units": int(rng.choice([16, 32, 64, 128])),
                 "dropout": float(rng.uniform(0.0, 0.5))} for _ in range(self.n_trials)]

    def trainer(self, framework: str, configs: list[dict[str, Any]], trace_dir: str) -> Any:
        max_t = self.max_t

        def train(config: dict[str, Any], callbacks: list[Any]) -> Any:
            import keras  # noqa: PLC0415
            from sklearn.datasets import load_digits  # noqa: PLC0415
            from sklearn.model_selection import train_test_split  # noqa: PLC0415

            x, y = load_digits(return_X_y=True)
            x_train, x_valid, y_train, y_valid = train_test_split(
                (x / 16.0).astype("float32"), y, test_size=0.25, random_state=0)
            params = configs[config["i"]]
            keras.utils.set_random_seed(0)  # the same initial weights in every framework
            model = keras.Sequential([
                keras.Input((64,)),
                keras.layers.Dense(params["units"], activation="relu"),
                keras.layers.Dropout(params["dropout"]),
                keras.layers.Dense(10, activation="softmax")])
            model.compile(optimizer=keras.optimizers.Adam(learning_rate=params["lr"]),
                          loss="sparse_categorical_crossentropy")
            history = model.fit(x_train, y_train, validation_data=(x_valid, y_valid),
                                batch_size=64, epochs=max_t, verbose=0,
                                callbacks=[keras_recorder(trace_dir), *callbacks])
            return min(history.history["val_loss"])

        if framework == "raysweep":
            def objective(config: dict[str, Any]) -> None:
                from raysweep.integrations.keras import ReportCallback  # noqa: PLC0415

                train(config, [ReportCallback({"loss": "val_loss"},
                                              checkpoint_at_decisions=False)])
        elif framework == "Ray Tune":
            def objective(config: dict[str, Any]) -> None:  # type: ignore[misc]
                import keras  # noqa: PLC0415
                from ray import tune  # noqa: PLC0415

                class TuneReport(keras.callbacks.Callback):
                    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                        tune.report({"loss": float((logs or {})["val_loss"])})

                train(config, [TuneReport()])
        else:
            def objective(trial: Any) -> float:  # type: ignore[misc]
                from optuna_integration import KerasPruningCallback  # noqa: PLC0415

                config = {"i": trial.suggest_int("i", 0, len(configs) - 1)}
                return float(train(config, [KerasPruningCallback(trial, "val_loss")]))
        return objective


# -- the three runners -------------------------------------------------------------------------
def release_raysweep_workers() -> None:
    """raysweep keeps its idle workers for the next run; they hold the CPUs the peers need."""
    for module in ("raysweep.execution.ray.pool", "raysweep.execution.ray_executor"):
        try:
            importlib.import_module(module).release_workers()
            return
        except (ImportError, AttributeError):
            continue


def run_raysweep(objective: Any, task: Any, seed: int, storage: str) -> None:
    import raysweep as rs  # noqa: PLC0415

    asha = rs.schedulers.ASHA(max_t=task.max_t, grace_period=task.grace, reduction_factor=3)
    rs.run(objective, {"i": rs.grid(list(range(task.n_trials)))}, metric="loss", mode="min",
           scheduler=asha, max_concurrent=WORKERS, seed=seed, storage_path=storage,
           name=f"rs_{uuid.uuid4().hex[:8]}", verbose=0)
    release_raysweep_workers()


def run_tune(objective: Any, task: Any, seed: int, storage: str) -> None:
    from ray import tune  # noqa: PLC0415
    from ray.tune.schedulers import ASHAScheduler  # noqa: PLC0415

    asha = ASHAScheduler(max_t=task.max_t, grace_period=task.grace, reduction_factor=3)
    tuner = tune.Tuner(
        tune.with_resources(objective, {"cpu": 1}),
        param_space={"i": tune.grid_search(list(range(task.n_trials)))},
        tune_config=tune.TuneConfig(metric="loss", mode="min", scheduler=asha,
                                    max_concurrent_trials=WORKERS, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=storage, name=f"tune_{uuid.uuid4().hex[:8]}",
                                  verbose=0))
    tuner.fit()


def run_optuna(objective: Any, task: Any, seed: int, storage: str) -> None:
    import optuna  # noqa: PLC0415

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.RandomSampler(seed=seed),
        pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=task.grace,
                                                      reduction_factor=3))
    for i in range(task.n_trials):
        study.enqueue_trial({"i": i})
    study.optimize(objective, n_trials=task.n_trials, n_jobs=WORKERS)


RUNNERS = {"raysweep": run_raysweep, "Ray Tune": run_tune, "Optuna": run_optuna}


def measure(task: Any, seed: int, work_dir: str) -> dict[str, dict[str, Any]]:
    """One seed: the three frameworks one after another, in a seed-dependent order."""
    configs = task.configs(seed)
    order = list(FRAMEWORKS)
    order = order[seed % 3:] + order[:seed % 3]  # no framework always runs first
    out = {}
    for framework in order:
        trace_dir = tempfile.mkdtemp(prefix="trace_", dir=work_dir)
        objective = task.trainer(framework, configs, trace_dir)
        start = time.time()
        RUNNERS[framework](objective, task, seed, os.path.join(work_dir, "storage"))
        wall = time.time() - start
        out[framework] = {**read_traces(trace_dir, start), "wall": wall}
        trace = out[framework]
        print(f"  seed {seed} {framework}: {wall:.1f} s, {trace['steps']} {task.unit}, "
              f"{trace['trials']} trials, best loss {trace['best'][-1]:.4f}", flush=True)
    return out


def _ratio(values: list[float]) -> float | str:
    median = float(np.median(values))
    return median if np.isfinite(median) else "not reached"


def summarise(task: Any, runs: list[dict[str, dict[str, Any]]]) -> tuple[str, dict]:
    """The table of one task (medians over seeds) and every seed's figures."""
    rows: list[list[Any]] = []
    figures: dict[str, Any] = {"runs": {}}
    for framework in FRAMEWORKS:
        walls = [run[framework]["wall"] for run in runs]
        finals = [float(run[framework]["best"][-1]) for run in runs]
        steps = [run[framework]["steps"] for run in runs]
        figures["runs"][framework] = {"wall_s": walls, "final_loss": finals, "steps": steps}
        row: list[Any] = [framework, float(np.median(walls)), float(np.median(finals)),
                          float(np.median(steps))]
        if framework == "raysweep":
            rows.append(row + ["", "", ""])
            continue
        ours, theirs = [], []
        for run in runs:
            peer, rs_trace = run[framework], run["raysweep"]
            peer_final, rs_final = float(peer["best"][-1]), float(rs_trace["best"][-1])
            ours.append((time_to(rs_trace, peer_final), time_to(peer, peer_final),
                         peer["wall"]))
            theirs.append(time_to(peer, rs_final) / time_to(rs_trace, rs_final))
        figures[framework] = {"raysweep_s_to_peer_final": [o[0] for o in ours],
                              "peer_s_to_own_final": [o[1] for o in ours],
                              "peer_wall_s": [o[2] for o in ours],
                              "peer_s_to_raysweep_final_over_raysweep_s": theirs}
        rows.append(row + [_ratio([o[0] / o[1] for o in ours]),
                           _ratio([o[0] / o[2] for o in ours]), _ratio(theirs)])
    header = ["framework", "wall s", "final val loss", task.unit,
              "A: raysweep s to this final / its s to it",
              "B: raysweep s to this final / its wall s",
              "C: its s to raysweep's final / raysweep's s to it"]
    title = f"{task.name}: median of {len(runs)} seed(s), {task.n_trials} trials, " \
            f"max {task.max_t} {task.unit}, {WORKERS} at a time"
    return table(title, header, rows), figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, fewer trials/steps")
    parser.add_argument("--seeds", type=int, default=None, help="default 3 (--quick: 1)")
    parser.add_argument("--only", default="lightgbm,keras", help="lightgbm, keras or both")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 3)
    import ray  # noqa: PLC0415

    for attempt in range(3):  # Ray gives its node 30 s to start: not enough on a busy machine
        try:
            ray.init(num_cpus=WORKERS, include_dashboard=False, logging_level=logging.ERROR,
                     address="local")
            break
        except Exception as exc:  # noqa: BLE001 - Ray raises a bare Exception for this
            if attempt == 2 or "timed out during startup" not in str(exc):
                raise
            ray.shutdown()
    work_dir = tempfile.mkdtemp(prefix="raysweep_real_")
    tasks: dict[str, Any] = {"lightgbm": LightGBMTask, "keras": KerasTask}
    out: list[str] = []
    figures: dict[str, Any] = {}
    try:
        for key in (k.strip() for k in args.only.split(",")):
            if key not in tasks:
                raise SystemExit(f"--only: unknown task {key!r}; choose from {sorted(tasks)}")
            task = tasks[key](work_dir, args.quick)
            print(f"{task.name}:", flush=True)
            runs = [measure(task, seed, work_dir) for seed in range(seeds)]
            text, figures[key] = summarise(task, runs)
            print(text, flush=True)
            out.append(text)
    finally:
        ray.shutdown()
        shutil.rmtree(work_dir, ignore_errors=True)
    if len(out) > 1:
        print("\n".join(out))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, default=float))


if __name__ == "__main__":
    main()
