"""Search quality of raysweep's searchers next to Optuna's and hyperopt's.

A quick smoke run on four chosen problems; the standard suite that search-quality claims
rest on is ``benchmarks/bbob.py`` (BBOB, 24 functions x 3 dimensions).

Problems (all minimised):
  * ``branin``: Branin on [-5, 10] x [0, 15]; regret = f - 0.397887.
  * ``rosenbrock4``: Rosenbrock in 4-D on [-2, 2]^4; regret = f.
  * ``levy10``: Levy in 10-D on [-10, 10]^10 (a standard multimodal BO benchmark, e.g. in
    TuRBO's paper); regret = f.
  * ``svc_digits``: scikit-learn's ``SVC`` on the bundled digits data, 3-fold CV error over
    C (log) and a conditional kernel choice: linear; rbf and sigmoid with gamma (log); poly
    with gamma and degree 2-5. The number reported is the CV error itself.

Methods: raysweep's ``random``, ``tpe``, ``gp``, ``evolution``, ``pso`` and
``Scipy("differential_evolution")``; Optuna 5's default ``TPESampler``, ``CmaEsSampler``
(when the ``cmaes`` package is installed) and ``GPSampler`` (only when PyTorch is
importable); hyperopt's TPE. Each method runs sequentially (one trial at a time): the
raysweep searchers are driven directly through ``setup`` / ``suggest`` / ``observe`` (no Ray
needed for search quality), Optuna through ``ask`` / ``tell``, hyperopt through ``fmin``.

Reported per problem and method: median and interquartile range (q25-q75) over seeds of the
best regret (or error) after 25, 50 and 100 evaluations, and the median time to produce one
suggestion, over all of them and over the last ten (about 100 observations), both in wall
time and in the process's CPU time (which a machine shared with other work inflates less).

Usage::

    python benchmarks/search_quality.py --quick        # smoke run: 2 seeds, 30 evaluations
    python benchmarks/search_quality.py                # 100 evaluations, 10 seeds
    python benchmarks/search_quality.py --problems branin,rosenbrock4 --methods tpe,optuna-tpe
    python benchmarks/search_quality.py --jobs 2 --out results.json
    python benchmarks/search_quality.py --load results.json more.json   # table of saved runs
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

MARKS = (25, 50, 100)


# -- problems --------------------------------------------------------------------------------
def branin(c: dict) -> float:
    x, y = c["x0"], c["x1"]
    b, k, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x * x + k * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10 - 0.397887357729738


def rosenbrock(c: dict) -> float:
    x = [c[f"x{i}"] for i in range(4)]
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(3))


def levy(c: dict) -> float:
    x = np.array([c[f"x{i}"] for i in range(10)])
    w = 1 + (x - 1) / 4
    head = np.sin(math.pi * w[0]) ** 2
    mid = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + np.sin(2 * math.pi * w[-1]) ** 2)
    return float(head + mid + tail)


_DIGITS: list[Any] = []


def svc_error(c: dict) -> float:
    """3-fold CV error of SVC on digits; ``c`` is flat: C, kernel, [gamma], [degree]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import SVC

    if not _DIGITS:
        _DIGITS.extend(load_digits(return_X_y=True))
    X, y = _DIGITS
    params = {k: v for k, v in c.items() if k in ("C", "kernel", "gamma", "degree")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = cross_val_score(SVC(**params, max_iter=100_000), X, y, cv=3).mean()
    return float(1.0 - score)


@dataclass
class Problem:
    name: str
    objective: Callable[[dict], float]     # flat config -> regret (or error)
    bounds: dict[str, tuple[float, float]]  # continuous problems: name -> (low, high)
    conditional: bool = False


PROBLEMS = {
    "branin": Problem("branin", branin, {"x0": (-5.0, 10.0), "x1": (0.0, 15.0)}),
    "rosenbrock4": Problem("rosenbrock4", rosenbrock, {f"x{i}": (-2.0, 2.0) for i in range(4)}),
    "levy10": Problem("levy10", levy, {f"x{i}": (-10.0, 10.0) for i in range(10)}),
    "svc_digits": Problem("svc_digits", svc_error, {}, conditional=True),
}
_KERNELS = ("linear", "rbf", "poly", "sigmoid")
_C, _GAMMA = (1e-2, 1e3), (1e-5, 1e-1)


def raysweep_space(problem: Problem) -> dict:
    import raysweep.space as rs

    if not problem.conditional:
        return {k: rs.uniform(lo, hi) for k, (lo, hi) in problem.bounds.items()}
    return {"C": rs.loguniform(*_C),
            "model": rs.choice([
                {"kernel": "linear"},
                {"kernel": "rbf", "gamma": rs.loguniform(*_GAMMA)},
                {"kernel": "poly", "gamma": rs.loguniform(*_GAMMA), "degree": rs.randint(2, 6)},
                {"kernel": "sigmoid", "gamma": rs.loguniform(*_GAMMA)}])}


def flat(config: dict) -> dict:
    out = {}
    for k, v in config.items():
        out.update(flat(v) if isinstance(v, dict) else {k: v})
    return out


# -- drivers: each returns the losses in evaluation order and the wall and CPU seconds spent
# -- producing each suggestion ----------------------------------------------------------------
def run_raysweep(name: str, problem: Problem, seed: int, n: int) -> tuple[list, list]:
    from raysweep.search import make_searcher
    from raysweep.search.scipy import Scipy
    from raysweep.space import Space

    searcher = Scipy("differential_evolution", popsize=5) if name == "de" else make_searcher(name)
    searcher.setup(Space(raysweep_space(problem)), "loss", "min", seed, n)
    losses, times, cpu = [], [], []
    for i in range(n):
        start, start_cpu = time.perf_counter(), time.process_time()
        config = searcher.suggest(f"{i:05d}")
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        if not isinstance(config, dict):  # finished early (differential evolution converged)
            break
        loss = problem.objective(flat(config))
        losses.append(loss)
        searcher.observe(f"{i:05d}", {"loss": loss}, final=True)
    return losses, times, cpu


def _optuna_config(trial: Any, problem: Problem) -> dict:
    if not problem.conditional:
        return {k: trial.suggest_float(k, lo, hi) for k, (lo, hi) in problem.bounds.items()}
    config = {"C": trial.suggest_float("C", *_C, log=True),
              "kernel": trial.suggest_categorical("kernel", list(_KERNELS))}
    if config["kernel"] != "linear":
        config["gamma"] = trial.suggest_float("gamma", *_GAMMA, log=True)
    if config["kernel"] == "poly":
        config["degree"] = trial.suggest_int("degree", 2, 5)
    return config


def run_optuna(name: str, problem: Problem, seed: int, n: int) -> tuple[list, list]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    sampler = {"optuna-tpe": lambda: optuna.samplers.TPESampler(seed=seed),
               "optuna-cmaes": lambda: optuna.samplers.CmaEsSampler(
                   seed=seed, warn_independent_sampling=False),
               "optuna-gp": lambda: optuna.samplers.GPSampler(seed=seed)}[name]()
    study = optuna.create_study(sampler=sampler)
    losses, times, cpu = [], [], []
    for _ in range(n):
        start, start_cpu = time.perf_counter(), time.process_time()
        trial = study.ask()
        config = _optuna_config(trial, problem)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        loss = problem.objective(config)
        losses.append(loss)
        study.tell(trial, loss)
    return losses, times, cpu


def run_hyperopt(name: str, problem: Problem, seed: int, n: int) -> tuple[list, list]:
    from hyperopt import Trials, fmin, hp, rand, tpe

    if not problem.conditional:
        space = {k: hp.uniform(k, lo, hi) for k, (lo, hi) in problem.bounds.items()}
    else:
        lg = (math.log(_GAMMA[0]), math.log(_GAMMA[1]))
        space = {"C": hp.loguniform("C", math.log(_C[0]), math.log(_C[1])),
                 "model": hp.choice("kernel", [
                     {"kernel": "linear"},
                     {"kernel": "rbf", "gamma": hp.loguniform("gamma_rbf", *lg)},
                     {"kernel": "poly", "gamma": hp.loguniform("gamma_poly", *lg),
                      "degree": hp.choice("degree", [2, 3, 4, 5])},
                     {"kernel": "sigmoid", "gamma": hp.loguniform("gamma_sigmoid", *lg)}])}
    losses, times, cpu = [], [], []
    clock = [time.perf_counter(), time.process_time()]

    def objective(config: dict) -> float:
        # the time spent outside the objective: hyperopt's suggestion plus its bookkeeping
        times.append(time.perf_counter() - clock[0])
        cpu.append(time.process_time() - clock[1])
        loss = problem.objective(flat(config))
        losses.append(loss)
        clock[:] = [time.perf_counter(), time.process_time()]
        return loss

    import logging

    logging.getLogger("hyperopt").setLevel(logging.ERROR)
    fmin(objective, space, algo=tpe.suggest if name == "hyperopt-tpe" else rand.suggest,
         max_evals=n, trials=Trials(), rstate=np.random.default_rng(seed),
         show_progressbar=False)
    return losses, times, cpu


def available_methods() -> list[str]:
    methods = ["random", "tpe", "gp", "evolution", "pso", "de", "optuna-tpe"]
    try:
        import cmaes  # noqa: F401

        methods.append("optuna-cmaes")
    except ImportError:
        pass
    try:
        import torch  # noqa: F401

        methods.append("optuna-gp")
    except ImportError:
        pass
    return methods + ["hyperopt-tpe"]


def run_one(job: tuple[str, str, int, int]) -> dict:
    method, problem_name, seed, n = job
    problem = PROBLEMS[problem_name]
    if method.startswith("optuna-"):
        losses, times, cpu = run_optuna(method, problem, seed, n)
    elif method.startswith("hyperopt-"):
        losses, times, cpu = run_hyperopt(method, problem, seed, n)
    else:
        losses, times, cpu = run_raysweep(method, problem, seed, n)
    return {"method": method, "problem": problem_name, "seed": seed,
            "losses": [float(v) for v in losses], "times": [float(t) for t in times],
            "cpu": [float(t) for t in cpu]}


# -- report ----------------------------------------------------------------------------------
def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def table(runs: list[dict], n: int) -> str:
    marks = [m for m in MARKS if m <= n] or [n]
    lines = []
    for problem in dict.fromkeys(r["problem"] for r in runs):
        what = "CV error" if PROBLEMS[problem].conditional else "regret"
        head = " | ".join(f"{what} @{m}: median (IQR)" for m in marks)
        lines += ["", f"**{problem}**", "",
                  f"| method | {head} | suggest ms, wall: all / last 10 | CPU: all / last 10 |",
                  "|" + "---|" * (len(marks) + 3)]
        for method in dict.fromkeys(r["method"] for r in runs if r["problem"] == problem):
            mine = [r for r in runs if r["problem"] == problem and r["method"] == method]
            cells = []
            for m in marks:
                best = [min(r["losses"][:m]) for r in mine if r["losses"]]
                q25, q50, q75 = np.percentile(best, [25, 50, 75])
                cells.append(f"{_fmt(q50)} ({_fmt(q25)}-{_fmt(q75)})")
            for clock in ("times", "cpu"):
                every = np.median(np.concatenate([r[clock] for r in mine])) * 1e3
                last = np.median(np.concatenate([r[clock][-10:] for r in mine])) * 1e3
                cells.append(f"{every:.1f} / {last:.1f}")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 seeds, 30 evaluations, no SVC")
    parser.add_argument("--problems", default=None, help="comma-separated subset")
    parser.add_argument("--methods", default=None, help="comma-separated subset")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (10)")
    parser.add_argument("--evals", type=int, default=None, help="evaluations per run (100)")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel processes")
    parser.add_argument("--out", default=None, help="also write the raw runs as JSON")
    parser.add_argument("--load", nargs="+", default=None, metavar="JSON",
                        help="print the table of runs saved with --out (later files replace "
                             "earlier runs of the same problem, method and seed)")
    args = parser.parse_args(argv)
    if args.load:
        merged: dict[tuple, dict] = {}
        for path in args.load:
            with open(path) as f:
                merged.update({(r["problem"], r["method"], r["seed"]): r for r in json.load(f)})
        runs = list(merged.values())
        print(table(runs, max(len(r["losses"]) for r in runs)))
        return

    seeds = args.seeds or (2 if args.quick else 10)
    n = args.evals or (30 if args.quick else 100)
    problems = (args.problems.split(",") if args.problems else
                [p for p in PROBLEMS if not (args.quick and p == "svc_digits")])
    methods = args.methods.split(",") if args.methods else available_methods()
    unknown = sorted(set(problems) - set(PROBLEMS)) + sorted(
        set(methods) - set(available_methods()))
    if unknown:
        parser.error(f"unknown or unavailable: {unknown}; problems {sorted(PROBLEMS)}, "
                     f"methods {available_methods()}")
    jobs = [(m, p, s, n) for p in problems for m in methods for s in range(seeds)]
    print(f"{len(jobs)} runs: problems {problems}, methods {methods}, {seeds} seeds, "
          f"{n} evaluations", flush=True)
    started = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            runs = list(pool.map(run_one, jobs))
    else:
        runs = [run_one(job) for job in jobs]
    if args.out:
        with open(args.out, "w") as f:
            json.dump(runs, f)
    print(table(runs, n))
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
