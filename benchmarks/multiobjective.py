"""Multi-objective search quality (hypervolume) beside Optuna, and the speed of the Pareto
arithmetic.

Quality: ZDT1, ZDT2 (10 variables), DTLZ2 (3 objectives, 7 variables) and the constrained
BNH and TNK problems; 200 sequential evaluations per run (the figure at 100 is the same run's
first 100), 10 seeds (``--quick``: 3). The number compared is the hypervolume of the feasible
points found, as a fraction of the true front's, with the reference points ZDT (11, 11),
DTLZ2 (2.5, 2.5, 2.5), BNH (140, 50), TNK (1.2, 1.2); the median over seeds is printed. The
true fronts: ZDT1/ZDT2/DTLZ2 in closed form; BNH from its known Pareto set (x1 = x2 in [0, 3],
then x2 = 3); TNK from the feasible points of a 2000 x 2000 grid (a slight underestimate).

raysweep's searchers are driven as the controller drives them, one trial at a time:
``setup(space, metrics, modes, SeedSequence(seed).spawn(2)[0], budget)``, then per trial
``suggest(id)``, ``observe(id, result, final=False)`` and ``observe(id, result,
final=True)``, the result carrying every metric and, for the constrained problems, the
constraint values under ``raysweep._goal.CONSTRAINTS``. ``random`` is raysweep's Random.
Peers: Optuna's ``NSGAIISampler`` and ``TPESampler`` (multi-objective; both with
``constraints_func`` on the constrained problems), ask/tell, default settings, seeded.
Ask time: the median time of one suggestion (for Optuna: ``ask`` plus its ``suggest_*``).

Speed (``--speed``): non-dominated sorting, hypervolume and crowding distance on 10,000
points, 2 and 3 objectives, uniform random points and points on a front (best of 3).

Usage::

    nice -n 19 python benchmarks/multiobjective.py --quick
    nice -n 19 python benchmarks/multiobjective.py            # 10 seeds
    python benchmarks/multiobjective.py --speed
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from raysweep._goal import CONSTRAINTS  # noqa: E402
from raysweep._pareto import (  # noqa: E402
    crowding_distance,
    hypervolume,
    nondominated_ranks,
)

ALGOS = ["nsga2", "random", "optuna-nsga2", "optuna-tpe"]
BUDGET, MARKS = 200, (100, 200)


# -- problems: x in the box -> (losses, constraint values or None) ------------------------------
def zdt1(x: np.ndarray) -> tuple[list[float], None]:
    g = 1 + 9 * x[1:].mean()
    return [x[0], g * (1 - math.sqrt(x[0] / g))], None


def zdt2(x: np.ndarray) -> tuple[list[float], None]:
    g = 1 + 9 * x[1:].mean()
    return [x[0], g * (1 - (x[0] / g) ** 2)], None


def dtlz2(x: np.ndarray) -> tuple[list[float], None]:
    g = float(np.sum((x[2:] - 0.5) ** 2))
    a, b = x[0] * math.pi / 2, x[1] * math.pi / 2
    return [(1 + g) * math.cos(a) * math.cos(b), (1 + g) * math.cos(a) * math.sin(b),
            (1 + g) * math.sin(a)], None


def bnh(x: np.ndarray) -> tuple[list[float], list[float]]:
    x1, x2 = x
    return ([4 * x1**2 + 4 * x2**2, (x1 - 5) ** 2 + (x2 - 5) ** 2],
            [(x1 - 5) ** 2 + x2**2 - 25, 7.7 - (x1 - 8) ** 2 - (x2 + 3) ** 2])


def tnk(x: np.ndarray) -> tuple[list[float], list[float]]:
    x1, x2 = x
    return ([x1, x2], [-x1**2 - x2**2 + 1 + 0.1 * math.cos(16 * math.atan2(x1, x2)),
                       (x1 - 0.5) ** 2 + (x2 - 0.5) ** 2 - 0.5])


# name -> (function, bounds per variable, number of objectives, reference point)
PROBLEMS: dict[str, tuple[Any, list[tuple[float, float]], int, list[float]]] = {
    "ZDT1": (zdt1, [(0.0, 1.0)] * 10, 2, [11.0, 11.0]),
    "ZDT2": (zdt2, [(0.0, 1.0)] * 10, 2, [11.0, 11.0]),
    "DTLZ2": (dtlz2, [(0.0, 1.0)] * 7, 3, [2.5, 2.5, 2.5]),
    "BNH": (bnh, [(0.0, 5.0), (0.0, 3.0)], 2, [140.0, 50.0]),
    "TNK": (tnk, [(1e-12, math.pi), (1e-12, math.pi)], 2, [1.2, 1.2]),
}


def true_hypervolume(name: str) -> float:
    ref = PROBLEMS[name][3]
    if name == "ZDT1":
        return 110 + 10 + 2 / 3   # the integral of 11 - (1 - sqrt(f1)) over [0, 1], + 10 * 11
    if name == "ZDT2":
        return 110 + 10 + 1 / 3
    if name == "DTLZ2":
        return 2.5**3 - math.pi / 6  # the box minus the unit sphere's octant
    if name == "BNH":
        t = np.linspace(0, 3, 20001)
        s = np.linspace(3, 5, 20001)
        xs = np.concatenate([np.stack([t, t], 1), np.stack([s, np.full_like(s, 3.0)], 1)])
        front = np.array([bnh(x)[0] for x in xs])
        return hypervolume(front, ref)
    # TNK: the feasible points of a fine grid
    grid = np.linspace(1e-12, math.pi, 2000)
    x1, x2 = np.meshgrid(grid, grid)
    feasible = ((-x1**2 - x2**2 + 1 + 0.1 * np.cos(16 * np.arctan2(x1, x2)) <= 0)
                & ((x1 - 0.5) ** 2 + (x2 - 0.5) ** 2 - 0.5 <= 0))
    points = np.stack([x1[feasible], x2[feasible]], 1)
    return hypervolume(points[nondominated_ranks(points) == 1], ref)


def score(points: list[tuple[list[float], list[float] | None]], name: str,
          true_hv: float) -> float:
    feasible = [f for f, c in points if c is None or max(c) <= 0]
    F = np.array(feasible, dtype=float).reshape(-1, PROBLEMS[name][2])
    return hypervolume(F, PROBLEMS[name][3]) / true_hv


# -- drivers: return (points in evaluation order, seconds per suggestion) -----------------------
def run_raysweep(algo: str, name: str, seed: int) -> tuple[list, list[float]]:
    import raysweep as rs
    from raysweep.search import NSGA2, Random
    from raysweep.space import Space

    fn, bounds, m, _ = PROBLEMS[name]
    space = Space({f"x{i}": rs.uniform(lo, hi) for i, (lo, hi) in enumerate(bounds)})
    metrics = [f"f{j}" for j in range(m)]
    sub_seed = np.random.SeedSequence(seed).spawn(2)[0]
    searcher: Any
    if algo == "nsga2":
        searcher = NSGA2()
        searcher.setup(space, metrics, "min", sub_seed, BUDGET)
    else:  # Random ignores the metric; the base Searcher still binds one
        searcher = Random()
        searcher.setup(space, metrics[0], "min", sub_seed, BUDGET)
    points, asks = [], []
    for i in range(BUDGET):
        trial_id = f"{i:05d}"
        start = time.perf_counter()
        config = searcher.suggest(trial_id)
        asks.append(time.perf_counter() - start)
        x = np.array([config[f"x{j}"] for j in range(len(bounds))])
        losses, constraints = fn(x)
        result: dict[str, Any] = dict(zip(metrics, losses))
        if constraints is not None:
            result[CONSTRAINTS] = constraints
        result["training_iteration"] = 1
        searcher.observe(trial_id, result, final=False)
        searcher.observe(trial_id, result, final=True)
        points.append((losses, constraints))
    return points, asks


def run_optuna(algo: str, name: str, seed: int) -> tuple[list, list[float]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    fn, bounds, m, _ = PROBLEMS[name]
    constrained = name in ("BNH", "TNK")

    def constraints_func(trial: Any) -> Any:
        return trial.user_attrs["c"]

    kwargs: dict[str, Any] = {"seed": seed}
    if constrained:
        kwargs["constraints_func"] = constraints_func
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sampler = (optuna.samplers.NSGAIISampler(**kwargs) if algo == "optuna-nsga2"
                   else optuna.samplers.TPESampler(**kwargs))
        study = optuna.create_study(directions=["minimize"] * m, sampler=sampler)
        points, asks = [], []
        for _ in range(BUDGET):
            start = time.perf_counter()
            trial = study.ask()
            x = np.array([trial.suggest_float(f"x{j}", lo, hi)
                          for j, (lo, hi) in enumerate(bounds)])
            asks.append(time.perf_counter() - start)
            losses, constraints = fn(x)
            if constrained:
                trial.set_user_attr("c", constraints)
            study.tell(trial, losses)
            points.append((losses, constraints))
    return points, asks


def run_one(job: tuple[str, str, int]) -> dict[str, Any]:
    algo, name, seed = job
    runner = run_optuna if algo.startswith("optuna") else run_raysweep
    points, asks = runner(algo, name, seed)
    return {"algo": algo, "problem": name, "seed": seed, "points": points,
            "ask_ms": 1000 * float(np.median(asks))}


def quality(seeds: int, jobs: int, algos: list[str], problems: list[str]) -> None:
    print(f"hypervolume / true front's, median of {seeds} seeds; median ask time (ms)")
    print(f"{'problem':8s} {'evals':>5s} " + " ".join(f"{a:>13s}" for a in algos))
    with ProcessPoolExecutor(jobs) as pool:
        for name in problems:  # one problem at a time, printed as it completes
            true_hv = true_hypervolume(name)
            work = [(a, name, s) for a in algos for s in range(seeds)]
            runs = list(pool.map(run_one, work))
            for mark in MARKS:
                cells = []
                for algo in algos:
                    scores = [score(r["points"][:mark], name, true_hv) for r in runs
                              if r["algo"] == algo]
                    cells.append(f"{np.median(scores):13.3f}")
                print(f"{name:8s} {mark:5d} " + " ".join(cells))
            asks = [np.median([r["ask_ms"] for r in runs if r["algo"] == a]) for a in algos]
            print(f"{name:8s} {'ask':>5s} " + " ".join(f"{t:13.2f}" for t in asks), flush=True)


def speed() -> None:
    rng = np.random.default_rng(0)
    print("10,000 points, best of 3 (ms)")
    print(f"{'objectives':>10s} {'set':>7s} {'sort':>8s} {'hypervol':>9s} {'crowding':>9s}")
    for m in (2, 3):
        for kind in ("random", "front"):
            F = rng.random((10_000, m))
            if kind == "front":  # every point non-dominated (on a sphere)
                F = F / np.linalg.norm(F, axis=1, keepdims=True)
            cells = []
            ref = np.full(m, 1.1)
            for fn, args in ((nondominated_ranks, (F,)), (hypervolume, (F, ref)),
                             (crowding_distance, (F,))):
                best = math.inf
                for _ in range(3):
                    start = time.perf_counter()
                    fn(*args)  # type: ignore[operator]
                    best = min(best, time.perf_counter() - start)
                cells.append(1000 * best)
            print(f"{m:10d} {kind:>7s} {cells[0]:8.1f} {cells[1]:9.1f} {cells[2]:9.1f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 seeds")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--algos", default=",".join(ALGOS))
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--speed", action="store_true", help="only the speed table")
    args = parser.parse_args(argv)
    if args.speed:
        speed()
        return
    quality(3 if args.quick else args.seeds, args.jobs, args.algos.split(","),
            args.problems.split(","))


if __name__ == "__main__":
    main()
