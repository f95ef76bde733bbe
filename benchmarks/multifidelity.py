"""Multi-fidelity schedulers: raysweep against Ray Tune and Optuna on the same tasks (issue 5).

Sections (``--only`` picks some):

* ``synthetic``: 64 configs, the same for every system and in the same order per seed, each
  trained for up to 27 epochs of a fixed amount of numpy work (~20 ms on one core); the
  learning curves differ in final quality and in speed (wider models learn faster, so
  curves cross). ``synthetic-lr`` is the adversarial variant where speed comes from the
  learning rate, so the fastest starters end worst (early stopping's known blind spot).
  Two Ray workers (Optuna: ``n_jobs=2`` threads). Methods: raysweep FIFO, ASHA and
  Hyperband; Ray Tune's ASHAScheduler and HyperBandScheduler (class Trainable,
  checkpoints only when paused, ``reuse_actors=True``); Optuna's SuccessiveHalvingPruner.
* ``sgd``: the same comparison on a real task: scikit-learn ``SGDClassifier`` trained one
  ``partial_fit`` epoch at a time on the bundled digits dataset; loss = validation error.
* ``bohb``: BOHB against Hyperband (random configs) at equal budget (same Hyperband brackets
  and number of trials) on the synthetic curves over a continuous space (lr, reg, width), on
  raysweep's simulated executor (virtual time, 4 workers); median over 5 seeds.
* ``pbt``: PBT against random search with the same total number of epochs, on a task whose
  best learning rate drops during training (the state carries over, so a schedule of
  learning rates beats any fixed one); 8 trials at a time on Ray; median over seeds.

"Best final loss" is the lowest loss at the full budget (27 epochs) among trials that got
there. Wall times include everything each system does in the call (start-up included).

    python benchmarks/multifidelity.py             # everything, 3 seeds (~35 min on 2 cores)
    python benchmarks/multifidelity.py --quick     # one seed
    python benchmarks/multifidelity.py --only synthetic --seeds 5
"""

from __future__ import annotations

import argparse
import math
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np
from _common import table

import raysweep as rs

MAX_T = 27
ETA = 3
N_CONFIGS = 64
WORKERS = 2

# -- the synthetic task --------------------------------------------------------------------
_BLOCK = np.random.default_rng(0).standard_normal((96, 96)) / 10


def burn(units: int) -> None:
    """A fixed amount of single-threaded numpy work (BLAS releases the GIL)."""
    a = _BLOCK
    for _ in range(units):
        a = np.tanh(a @ _BLOCK)


def calibrate(target_s: float = 0.02) -> int:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        burn(20)
        start = time.perf_counter()
        burn(200)
        per_unit = (time.perf_counter() - start) / 200
    return max(1, round(target_s / per_unit))


def synthetic_configs(seed: int = 1234) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"lr": float(10 ** rng.uniform(-3, 0)), "width": int(rng.integers(1, 9))}
            for _ in range(N_CONFIGS)]


def synthetic_loss(params: dict, epoch: int, speed_from: str = "width") -> float:
    """The loss floor is best near lr=0.03, reg=1e-3, width 5; wider models converge faster
    (so curves cross: a fast starter can end on a worse floor). With ``speed_from="lr"``
    large learning rates converge faster instead, which ties early speed to a bad floor:
    a task built to fool early stopping."""
    floor = (0.05 + 0.08 * (math.log10(params["lr"]) + 1.5) ** 2
             + 0.05 * (math.log10(params.get("reg", 1e-3)) + 3) ** 2 / 9
             + 0.02 * abs(params["width"] - 5))
    speed = (0.3 + 0.05 * params["width"] if speed_from == "width"
             else 0.3 + 0.5 * math.sqrt(params["lr"]))
    return floor + (1.0 - floor) * (1.0 + speed * epoch) ** -1.5


def make_synthetic(units: int, speed_from: str = "width"):
    configs = synthetic_configs()

    class Synthetic(rs.Trainable):
        max_iterations = MAX_T

        def setup(self, config):
            self.params, self.epoch = configs[config["i"]], 0

        def step(self):
            burn(units)
            self.epoch += 1
            return {"loss": synthetic_loss(self.params, self.epoch, speed_from)}

        def save(self):
            return {"epoch": self.epoch}

        def restore(self, state):
            self.epoch = state["epoch"]

    def epoch_fn(state, i):
        burn(units)
        state = (state or 0) + 1
        return state, synthetic_loss(configs[i], state, speed_from)

    return Synthetic, epoch_fn


# -- the SGD task --------------------------------------------------------------------------
_DATA = None


def digits():
    global _DATA
    if _DATA is None:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        X, y = load_digits(return_X_y=True)
        X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, random_state=0)
        scaler = StandardScaler().fit(X_train)
        _DATA = (scaler.transform(X_train), scaler.transform(X_val), y_train, y_val)
    return _DATA


def sgd_configs(seed: int = 4321) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"alpha": float(10 ** rng.uniform(-6, -1)), "eta0": float(10 ** rng.uniform(-4, 0)),
             "learning_rate": str(rng.choice(["constant", "invscaling", "adaptive"])),
             "loss": str(rng.choice(["hinge", "log_loss", "modified_huber"]))}
            for _ in range(N_CONFIGS)]


def make_sgd():
    configs = sgd_configs()

    def new_model(params):
        from sklearn.linear_model import SGDClassifier

        return SGDClassifier(random_state=0, **params)

    def epoch_fn(model_bytes, i):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            X_train, X_val, y_train, y_val = digits()
            model = pickle.loads(model_bytes) if model_bytes else new_model(configs[i])
            model.partial_fit(X_train, y_train, classes=np.arange(10))
            return pickle.dumps(model), 1.0 - model.score(X_val, y_val)

    class SGD(rs.Trainable):
        max_iterations = MAX_T

        def setup(self, config):
            self.i, self.model = config["i"], None

        def step(self):
            self.model, loss = epoch_fn(self.model, self.i)
            return {"loss": loss}

        def save(self):
            return self.model

        def restore(self, state):
            self.model = state

    return SGD, epoch_fn


# -- the systems ---------------------------------------------------------------------------
def run_raysweep(trainable, order, scheduler, storage) -> dict:
    start = time.perf_counter()
    results = rs.run(trainable, {"i": rs.grid(order)}, metric="loss", mode="min",
                     search="grid", scheduler=scheduler, max_concurrent=WORKERS, verbose=0,
                     storage_path=storage)
    elapsed = time.perf_counter() - start
    history = results.history()
    final = history[history.training_iteration == MAX_T].loss
    return {"time": elapsed, "epochs": len(history),
            "best": float(final.min()) if len(final) else math.inf}


def release_raysweep_workers() -> None:
    """raysweep keeps its idle workers for the next run; they hold the CPUs Tune needs."""
    from raysweep.execution.ray_executor import release_workers

    release_workers()


def run_tune(epoch_fn, order, scheduler_name, storage) -> dict:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, HyperBandScheduler

    release_raysweep_workers()

    class TuneTrainable(tune.Trainable):
        def setup(self, config):
            self.i, self.state = config["i"], None

        def step(self):
            self.state, loss = epoch_fn(self.state, self.i)
            return {"loss": loss}

        def reset_config(self, new_config):  # lets reuse_actors=True reuse the actor
            self.i, self.state = new_config["i"], None
            return True

        def save_checkpoint(self, checkpoint_dir):
            with open(os.path.join(checkpoint_dir, "state.pkl"), "wb") as handle:
                pickle.dump(self.state, handle)

        def load_checkpoint(self, checkpoint_dir):
            with open(os.path.join(checkpoint_dir, "state.pkl"), "rb") as handle:
                self.state = pickle.load(handle)

    scheduler = (ASHAScheduler(max_t=MAX_T, grace_period=1, reduction_factor=ETA)
                 if scheduler_name == "asha" else
                 HyperBandScheduler(max_t=MAX_T, reduction_factor=ETA))
    start = time.perf_counter()
    tuner = tune.Tuner(
        tune.with_resources(TuneTrainable, {"cpu": 1}),
        param_space={"i": tune.grid_search(list(order))},
        # No max_concurrent_trials: the 2 CPUs already run 2 trials at a time, and with it
        # Tune's HyperBand cannot fill a bracket and trains every trial to max_t.
        tune_config=tune.TuneConfig(metric="loss", mode="min", scheduler=scheduler,
                                    reuse_actors=True),
        run_config=tune.RunConfig(storage_path=storage, verbose=0,
                                  stop={"training_iteration": MAX_T}))
    grid = tuner.fit()
    elapsed = time.perf_counter() - start
    epochs, finals = 0, []
    for result in grid:
        frame = result.metrics_dataframe
        if frame is None or not len(frame):
            continue
        epochs += len(frame)
        finals += list(frame[frame.training_iteration == MAX_T].loss)
    return {"time": elapsed, "epochs": epochs, "best": min(finals) if finals else math.inf}


def run_optuna(epoch_fn, order) -> dict:
    import optuna
    from threadpoolctl import threadpool_limits

    release_raysweep_workers()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=ETA))
    for i in order:
        study.enqueue_trial({"i": int(i)})

    def objective(trial):
        i = trial.suggest_int("i", 0, N_CONFIGS - 1)
        state, loss = None, math.inf
        for epoch in range(1, MAX_T + 1):
            state, loss = epoch_fn(state, i)
            trial.report(loss, epoch)
            if epoch < MAX_T and trial.should_prune():
                raise optuna.TrialPruned()
        return loss

    start = time.perf_counter()
    with threadpool_limits(1):
        study.optimize(objective, n_trials=len(order), n_jobs=WORKERS)
    elapsed = time.perf_counter() - start
    epochs = sum(len(t.intermediate_values) for t in study.trials)
    finals = [t.intermediate_values[MAX_T] for t in study.trials
              if MAX_T in t.intermediate_values]
    return {"time": elapsed, "epochs": epochs, "best": min(finals) if finals else math.inf}


METHODS = ["raysweep FIFO", "raysweep ASHA", "raysweep Hyperband", "Ray Tune ASHA",
           "Ray Tune HyperBand", "Optuna SHA (n_jobs=2)"]


def compare(task: str, seeds: int, storage: str, units: int) -> str:
    if task == "sgd":
        trainable, epoch_fn = make_sgd()
    else:
        trainable, epoch_fn = make_synthetic(units, "lr" if task == "synthetic-lr" else "width")
    runs: dict[str, list[dict]] = {m: [] for m in METHODS}
    for seed in range(seeds):
        order = [int(i) for i in np.random.default_rng(seed).permutation(N_CONFIGS)]
        for method in METHODS:
            path = tempfile.mkdtemp(dir=storage)
            if method == "raysweep FIFO":
                out = run_raysweep(trainable, order, "fifo", path)
            elif method == "raysweep ASHA":
                out = run_raysweep(trainable, order, rs.schedulers.ASHA(
                    max_t=MAX_T, grace_period=1, reduction_factor=ETA), path)
            elif method == "raysweep Hyperband":
                out = run_raysweep(trainable, order, rs.schedulers.Hyperband(
                    max_t=MAX_T, reduction_factor=ETA), path)
            elif method == "Ray Tune ASHA":
                out = run_tune(epoch_fn, order, "asha", path)
            elif method == "Ray Tune HyperBand":
                out = run_tune(epoch_fn, order, "hyperband", path)
            else:
                out = run_optuna(epoch_fn, order)
            shutil.rmtree(path, ignore_errors=True)
            runs[method].append(out)
            print(f"  [{task} seed {seed}] {method:24s} {out['time']:7.2f} s "
                  f"{out['epochs']:5d} epochs  best {out['best']:.4f}", flush=True)
    med = {m: {k: statistics.median(r[k] for r in runs[m]) for k in ("time", "epochs", "best")}
           for m in METHODS}
    rows = [[m, med[m]["time"], int(med[m]["epochs"]), med[m]["best"]] for m in METHODS]
    text = table(f"{task}: 64 configs, up to {MAX_T} epochs, {WORKERS} workers "
                 f"(median of {seeds} seed{'s' * (seeds > 1)})",
                 ["method", "wall s", "epochs", "best final loss"], rows)
    fifo, asha, hb = med["raysweep FIFO"], med["raysweep ASHA"], med["raysweep Hyperband"]
    tune_asha, tune_hb = med["Ray Tune ASHA"], med["Ray Tune HyperBand"]
    optuna = med["Optuna SHA (n_jobs=2)"]
    checks = [
        ("ASHA best within 2% of FIFO's", asha["best"] <= fifo["best"] * 1.02),
        ("ASHA epochs <= 1/3 of FIFO's", asha["epochs"] <= fifo["epochs"] / 3),
        ("ASHA wall <= 0.5x Ray Tune ASHA", asha["time"] <= 0.5 * tune_asha["time"]),
        ("Hyperband wall <= 0.5x Ray Tune HyperBand", hb["time"] <= 0.5 * tune_hb["time"]),
        ("ASHA wall <= Optuna SHA", asha["time"] <= optuna["time"]),
        ("ASHA best <= Optuna SHA best", asha["best"] <= optuna["best"] + 1e-12),
    ]
    return text + "\n\n" + "\n".join(f"- {name}: {'yes' if ok else 'NO'}"
                                     for name, ok in checks)


# -- BOHB against Hyperband ----------------------------------------------------------------
def _bohb_curve(config, iteration):
    return 1.0, {"loss": synthetic_loss(config, iteration)}


def bohb_vs_hyperband(seeds: int, storage: str, num_samples: int) -> str:
    from raysweep.execution.simulated import Simulated

    space = {"lr": rs.loguniform(1e-4, 1.0), "reg": rs.loguniform(1e-6, 1e-1),
             "width": rs.randint(1, 9)}
    best: dict[str, list[float]] = {"Hyperband (random)": [], "BOHB": []}
    epochs: dict[str, list[int]] = {"Hyperband (random)": [], "BOHB": []}
    for seed in range(seeds):
        for label, scheduler, search in (
                ("Hyperband (random)", rs.schedulers.Hyperband(max_t=MAX_T), "random"),
                ("BOHB", rs.schedulers.BOHB(max_t=MAX_T), None)):
            results = rs.run(lambda config: None, space, metric="loss", mode="min",
                             num_samples=num_samples, scheduler=scheduler, search=search,
                             seed=seed, verbose=0, storage_path=storage,
                             executor=Simulated(4, _bohb_curve, max_iterations=MAX_T))
            history = results.history()
            best[label].append(float(history[history.training_iteration == MAX_T].loss.min()))
            epochs[label].append(len(history))
    rows = [[label, statistics.median(epochs[label]), statistics.median(best[label]),
             " ".join(f"{b:.4f}" for b in best[label])] for label in best]
    wins = statistics.median(best["BOHB"]) < statistics.median(best["Hyperband (random)"])
    return table(f"BOHB vs Hyperband: {num_samples} trials, max_t={MAX_T}, simulated "
                 f"4 workers (median of {seeds} seeds)",
                 ["method", "epochs", "best final loss", "per seed"], rows) + \
        f"\n\n- BOHB beats Hyperband (median): {'yes' if wins else 'NO'}"


# -- PBT against random search -------------------------------------------------------------
PBT_EPOCHS = 40


def moving_lr(config):
    """Loss shrinks by a factor that is best when lr matches a target that drops at 15."""
    state = rs.get_checkpoint() or {"epoch": 0, "loss": 1.0}
    epoch, loss = state["epoch"], state["loss"]
    while epoch < PBT_EPOCHS:
        burn(10)
        epoch += 1
        target = 0.1 if epoch <= 15 else 0.003
        gain = math.exp(-abs(math.log(config["lr"] / target)))
        loss *= 1.0 - 0.15 * gain
        rs.report({"loss": loss}, checkpoint={"epoch": epoch, "loss": loss})


def pbt_vs_random(seeds: int, storage: str) -> str:
    space = {"lr": rs.loguniform(1e-4, 1.0)}
    rows, pbt_best, random_best = [], [], []
    for seed in range(seeds):
        pbt = rs.schedulers.PBT(perturbation_interval=4, quantile_fraction=0.25,
                                hyperparam_mutations={"lr": rs.loguniform(1e-4, 1.0)})
        start = time.perf_counter()
        results = rs.run(moving_lr, space, metric="loss", mode="min", num_samples=8,
                         scheduler=pbt, seed=seed, verbose=0, storage_path=storage,
                         max_concurrent=8, resources_per_trial={"cpu": WORKERS / 8})
        pbt_time = time.perf_counter() - start
        history = results.history()
        epochs = len(history)
        best = float(history[history.training_iteration == PBT_EPOCHS].loss.min())
        trials = max(1, round(epochs / PBT_EPOCHS))
        start = time.perf_counter()
        baseline = rs.run(moving_lr, space, metric="loss", mode="min", num_samples=trials,
                          seed=seed, verbose=0, storage_path=storage, max_concurrent=8,
                          resources_per_trial={"cpu": WORKERS / 8})
        random_time = time.perf_counter() - start
        base_history = baseline.history()
        base = float(base_history[base_history.training_iteration == PBT_EPOCHS].loss.min())
        pbt_best.append(best)
        random_best.append(base)
        rows.append([seed, epochs, best, pbt_time, len(base_history), base, random_time])
    wins = statistics.median(pbt_best) < statistics.median(random_best)
    return table(f"PBT vs random search at equal epochs ({PBT_EPOCHS} epochs per trial; best "
                 "lr 0.1 until epoch 15, then 0.003)",
                 ["seed", "PBT epochs", "PBT best", "PBT s", "random epochs", "random best",
                  "random s"], rows) + \
        f"\n\n- PBT beats random search (median): {'yes' if wins else 'NO'}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one seed per comparison")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--only", default="synthetic,sgd,bohb,pbt,synthetic-lr")
    parser.add_argument("--bohb-samples", type=int, default=196,
                        help="trials per BOHB/Hyperband run (49 = one Hyperband iteration)")
    args = parser.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 3)
    sections = [s.strip() for s in args.only.split(",")]
    import ray

    ray.init(num_cpus=WORKERS, include_dashboard=False, logging_level="ERROR",
             address="local")
    storage = tempfile.mkdtemp(prefix="raysweep_mf_", dir="/dev/shm" if os.path.isdir(
        "/dev/shm") else None)
    out = []
    try:
        units = calibrate()
        print(f"one synthetic epoch = {units} numpy blocks (~20 ms on one core)", flush=True)
        for section in sections:
            if section in ("synthetic", "synthetic-lr", "sgd"):
                out.append(compare(section, seeds, storage, units))
            elif section == "bohb":
                out.append(bohb_vs_hyperband(max(seeds, 5), storage, args.bohb_samples))
            elif section == "pbt":
                out.append(pbt_vs_random(max(seeds, 3), storage))
            else:
                parser.error(f"--only: unknown section {section!r}")
            print(out[-1], flush=True)
    finally:
        shutil.rmtree(storage, ignore_errors=True)
        ray.shutdown()
    print("\n\n".join(out))


if __name__ == "__main__":
    main()
