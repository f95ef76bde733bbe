"""Draw the gallery's images from one real experiment (docs/guide/gallery.md).

A linear model trained by stochastic gradient descent on scikit-learn's diabetes data, epoch by
epoch with ``partial_fit``, judged by validation mean squared error, tuned by random search
with ASHA. Large learning rates with the squared loss diverge (MSEs of 1e20 and more next to
good ones of 0.3), which is what makes robust axes matter. With ``--optuna`` the same trials
are also copied into an Optuna study and
drawn with ``optuna.visualization.matplotlib`` for a side-by-side comparison.

    PYTHONPATH=. python docs/_static/gallery/make_gallery.py [--optuna] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings

import numpy as np

import raysweep as rs

HERE = os.path.dirname(os.path.abspath(__file__))


def train(config):
    """A linear model fitted by SGD on the diabetes data, ``20`` epochs, validation MSE."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import SGDRegressor
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_diabetes(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
    y_train, y_val = y_train / 100.0, y_val / 100.0
    model = SGDRegressor(loss=config["loss"], penalty=config["penalty"], alpha=config["alpha"],
                         learning_rate="constant", eta0=config["eta0"], random_state=0)
    for _ in range(20):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # overflow of a diverging model: its MSE says so
            model.partial_fit(x_train, y_train)
            error = model.predict(x_val) - y_val
        rs.report({"val_mse": float(np.mean(error ** 2))})


SPACE = {"eta0": rs.loguniform(1e-4, 1.0), "alpha": rs.loguniform(1e-6, 1e-1),
         "penalty": ["l2", "l1", "elasticnet"],
         "loss": ["squared_error", "huber", "epsilon_insensitive"]}


def train_pbt(config):
    """The same model for PBT: the fitted model is the checkpoint a clone starts from."""
    import pickle

    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import SGDRegressor
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_diabetes(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
    y_train, y_val = y_train / 100.0, y_val / 100.0
    state = rs.get_checkpoint()
    model, epoch = pickle.loads(state) if state else (None, 0)
    if model is None:
        model = SGDRegressor(penalty="l2", learning_rate="constant", random_state=0)
    model.set_params(eta0=config["eta0"], alpha=config["alpha"])
    while epoch < 30:
        epoch += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.partial_fit(x_train, y_train)
            error = model.predict(x_val) - y_val
        rs.report({"val_mse": float(np.mean(error ** 2))},
                  checkpoint=pickle.dumps((model, epoch)))


def run_pbt(storage: str):
    """A second, small experiment: PBT's lineage needs a PBT run."""
    from raysweep.schedulers import PBT

    space = {"eta0": rs.loguniform(1e-4, 0.05), "alpha": rs.loguniform(1e-6, 1e-1)}
    scheduler = PBT(perturbation_interval=5,
                    hyperparam_mutations={"eta0": rs.loguniform(1e-4, 0.05),
                                          "alpha": rs.loguniform(1e-6, 1e-1)})
    return rs.run(train_pbt, space, metric="val_mse", mode="min", num_samples=8, seed=2,
                  scheduler=scheduler, name="diabetes_sgd_pbt", storage_path=storage,
                  max_concurrent=4, verbose=0)  # on Ray: PBT needs trials side by side


def run_experiment(storage: str):
    return rs.run(train, SPACE, metric="val_mse", mode="min", num_samples=60, seed=5,
                  scheduler="asha", name="diabetes_sgd", storage_path=storage,
                  executor="inline", verbose=0)


def draw_raysweep(results, out: str) -> list[str]:
    from raysweep import plot

    written = []
    for kind, draw in (("history", plot.history), ("curves", plot.learning_curves),
                       ("parallel", plot.parallel_coordinates),
                       ("importance", plot.importance), ("dashboard", plot.dashboard)):
        path = os.path.join(out, f"raysweep_{kind}.png")
        draw(results).savefig(path, dpi=80)
        written.append(path)
    return written


def to_optuna(results):
    """The same trials as an Optuna study (params, intermediate values, last value)."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    distributions = {"eta0": FloatDistribution(1e-4, 1.0, log=True),
                     "alpha": FloatDistribution(1e-6, 1e-1, log=True),
                     "penalty": CategoricalDistribution(["l2", "l1", "elasticnet"]),
                     "loss": CategoricalDistribution(
                         ["squared_error", "huber", "epsilon_insensitive"])}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize")
    history = results.history()
    for trial in results.trials:
        curve = history[history["trial_id"] == trial.trial_id]
        values = dict(zip(curve["training_iteration"].astype(int), curve["val_mse"]))
        # every trial COMPLETE with its last value, as raysweep judges it (Optuna's plots
        # leave pruned trials out, which would compare different data)
        study.add_trial(optuna.trial.create_trial(
            params=dict(trial.config), distributions=distributions,
            value=(trial.last_result or {}).get("val_mse"), intermediate_values=values))
    return study


def draw_optuna(results, out: str) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    study = to_optuna(results)
    written = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna marks its matplotlib plots experimental
        for kind, draw in (("history", ovm.plot_optimization_history),
                           ("curves", ovm.plot_intermediate_values),
                           ("parallel", ovm.plot_parallel_coordinate),
                           ("importance", ovm.plot_param_importances)):
            ax = draw(study)
            path = os.path.join(out, f"optuna_{kind}.png")
            ax.figure.savefig(path, dpi=80, bbox_inches="tight")
            plt.close(ax.figure)
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=HERE, help="where the PNGs go")
    parser.add_argument("--optuna", action="store_true", help="also draw Optuna's plots")
    parser.add_argument("--storage", help="experiment storage (default: a temporary folder)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    storage = args.storage or tempfile.mkdtemp(prefix="raysweep_gallery_")
    results = run_experiment(storage)
    print(f"experiment: {results.path}")
    pbt = run_pbt(storage)
    from raysweep import plot

    lineage = os.path.join(args.out, "raysweep_lineage.png")
    plot.pbt_lineage(pbt).savefig(lineage, dpi=80)
    for path in draw_raysweep(results, args.out) + [lineage] + (
            draw_optuna(results, args.out) if args.optuna else []):
        print("wrote", path)


if __name__ == "__main__":
    main()
