"""raysweep's searchers on the BBOB suite (COCO's 24 noiseless functions) beside the peers.

The suite: ``pip install coco-experiment``; functions f1-f24, instance 1, dimensions 2, 5 and
10, every coordinate ``uniform(-5, 5)``, 100 sequential evaluations, 5 seeds, default
settings for every algorithm. The number compared is ``log10(best f - f_opt)`` (floored at
1e-8), its median over seeds per function; algorithms are ranked per function (1 = best,
ties share the rank) and the ranks averaged over the functions of a dimension.

raysweep's searchers are driven as ``rs.run`` drives them, in process and one trial at a
time: ``setup(space, metric, mode, SeedSequence(seed).spawn(2)[0], num_samples)``, then per
trial ``suggest(id)``, ``observe(id, result, final=False)`` and ``observe(id, final,
final=True)`` (the controller's calls, minus Ray). Peers: Optuna 5's default ``TPESampler``
and ``CmaEsSampler`` (ask/tell), ``GPSampler`` only where PyTorch is importable, hyperopt's
TPE (``fmin``). ``cmaes`` and ``optuna-tpe-wrapped`` (raysweep's ``CMAES`` and
``Optuna(TPESampler())``) join when ``raysweep.search`` has those classes.

Printed: mean rank per dimension at 50 and 100 evaluations; wins-ties-losses of each
raysweep searcher against each peer (functions where its median is lower); suggest time
(median ms, wall and CPU); pathologies: the share of points after the 10th with a coordinate
on a bound (f5, whose optimum is a corner, excluded) and within 1% of the range of one
("near": uniform random points score 4% in 2-D, 10% in 5-D, 18% in 10-D), of repeated
points, and of runs that stalled (no improvement over the last half of the budget, regret
still above 1e-8).

Every run is cached in ``benchmarks/.cache/bbob.jsonl`` under a key that holds the source
hash of the raysweep searcher's modules (or the peer's package version), so after editing
one searcher only its runs are recomputed.

Usage::

    python benchmarks/bbob.py                              # the whole suite (cached)
    python benchmarks/bbob.py --algos tpe,optuna-tpe --dims 2,5 --functions 1-5,20-24
    python benchmarks/bbob.py --seeds 3 --budget 50 --jobs 2
    python benchmarks/bbob.py --per-function --dims 10     # medians per function too
    python benchmarks/bbob.py --algos "tpe,tpe[multivariate=False],optuna-tpe"  # ablation
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib
import inspect
import json
import math
import os
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

# one BLAS thread per process: the runs are already parallel over processes
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
import numpy as np  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
CACHE = os.path.join(ROOT, "benchmarks", ".cache", "bbob.jsonl")
FLOOR = 1e-8
LOW, HIGH = -5.0, 5.0
STARTUP = 10           # points before this index are not counted in the bound share
CORNER_OPTIMUM = {5}   # f5 (linear slope): the optimum is a corner of the box
NEAR = 0.01            # "near a bound": a coordinate within 1% of the range of one

RAYSWEEP = {"random": "random", "tpe": "tpe", "gp": "gp", "evolution": "evolution",
            "pso": "pso", "de": "differential_evolution"}
PEERS = ["optuna-tpe", "optuna-cmaes", "optuna-gp", "hyperopt-tpe"]


def available() -> list[str]:
    import raysweep.search as search

    algos = list(RAYSWEEP)
    if getattr(search, "CMAES", None) is not None:
        algos.append("cmaes")
    if getattr(search, "Optuna", None) is not None:
        algos.append("optuna-tpe-wrapped")
    algos += ["optuna-tpe", "optuna-cmaes"]
    try:
        import torch  # noqa: F401

        algos.append("optuna-gp")
    except ImportError:
        pass
    return algos + ["hyperopt-tpe"]


# -- problems ----------------------------------------------------------------------------------
def make_problem(fn: int, dim: int) -> Any:
    import cocoex

    suite = cocoex.Suite("bbob", "instances: 1", f"dimensions: {dim} function_indices: {fn}")
    return next(iter(suite))


def f_opt(fn: int, dim: int) -> float:
    """f at BBOB's optimum (its coordinates have 4 decimals, so printing them is exact)."""
    problem = make_problem(fn, dim)
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            problem._best_parameter("print")   # writes ._bbob_problem_best_parameter.txt
            x = np.atleast_1d(np.loadtxt("._bbob_problem_best_parameter.txt"))
        finally:
            os.chdir(cwd)
    return float(problem(x))


# -- drivers: return (points, f values, wall s, CPU s per suggestion) ----------------------------
def _split_spec(algo: str) -> tuple[str, dict[str, Any]]:
    """``"tpe[gamma=0.2;multivariate=False]"`` -> ``("tpe", {"gamma": 0.2, ...})``: a
    raysweep searcher with non-default arguments, for ablations."""
    name, _, rest = algo.partition("[")
    kwargs = {}
    for item in filter(None, rest.rstrip("]").split(";")):
        key, _, value = item.partition("=")
        kwargs[key.strip()] = ast.literal_eval(value.strip())
    return name, kwargs


def _make_searcher(algo: str) -> Any:
    import raysweep.search as search

    name, kwargs = _split_spec(algo)
    if name == "cmaes":
        return search.CMAES(**kwargs)
    if name == "optuna-tpe-wrapped":
        import optuna

        return search.Optuna(optuna.samplers.TPESampler())
    if kwargs:
        cls = type(search.make_searcher(RAYSWEEP[name]))
        return cls(**kwargs)
    return search.make_searcher(RAYSWEEP[name])


def _ours(algo: str) -> bool:
    return _split_spec(algo)[0] in (*RAYSWEEP, "cmaes", "optuna-tpe-wrapped")


def run_raysweep(algo: str, problem: Any, dim: int, seed: int, budget: int) -> tuple:
    import raysweep as rs
    from raysweep.space import Space

    searcher = _make_searcher(algo)
    space = Space({f"x{i}": rs.uniform(LOW, HIGH) for i in range(dim)})
    search_seed = np.random.SeedSequence(seed).spawn(2)[0]   # what rs.run(seed=seed) passes
    searcher.setup(space, "loss", "min", search_seed, budget)
    points, values, wall, cpu = [], [], [], []
    for i in range(budget):
        trial_id = f"{i:05d}"
        t0, c0 = time.perf_counter(), time.process_time()
        config = searcher.suggest(trial_id)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if not isinstance(config, dict):   # FINISHED (a converged SciPy optimiser) or None
            break
        x = [config[f"x{j}"] for j in range(dim)]
        value = float(problem(np.array(x)))
        points.append(x)
        values.append(value)
        result = {"loss": value, "training_iteration": 1}
        searcher.observe(trial_id, result, final=False)
        searcher.observe(trial_id, {**result, "trial_id": trial_id}, final=True)
    return points, values, wall, cpu


def run_optuna(algo: str, problem: Any, dim: int, seed: int, budget: int) -> tuple:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    sampler = {"optuna-tpe": optuna.samplers.TPESampler,
               "optuna-cmaes": optuna.samplers.CmaEsSampler,
               "optuna-gp": optuna.samplers.GPSampler}[algo](seed=seed)
    study = optuna.create_study(sampler=sampler)
    points, values, wall, cpu = [], [], [], []
    for _ in range(budget):
        t0, c0 = time.perf_counter(), time.process_time()
        trial = study.ask()
        x = [trial.suggest_float(f"x{j}", LOW, HIGH) for j in range(dim)]
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        value = float(problem(np.array(x)))
        points.append(x)
        values.append(value)
        study.tell(trial, value)
    return points, values, wall, cpu


def run_hyperopt(algo: str, problem: Any, dim: int, seed: int, budget: int) -> tuple:
    import logging

    from hyperopt import Trials, fmin, hp, tpe

    logging.getLogger("hyperopt").setLevel(logging.ERROR)
    points, values, wall, cpu = [], [], [], []
    clock = [time.perf_counter(), time.process_time()]

    def objective(config: dict) -> float:
        # everything hyperopt did since the last evaluation: its suggestion and bookkeeping
        wall.append(time.perf_counter() - clock[0])
        cpu.append(time.process_time() - clock[1])
        x = [config[f"x{j}"] for j in range(dim)]
        value = float(problem(np.array(x)))
        points.append(x)
        values.append(value)
        clock[:] = [time.perf_counter(), time.process_time()]
        return value

    space = {f"x{j}": hp.uniform(f"x{j}", LOW, HIGH) for j in range(dim)}
    fmin(objective, space, algo=tpe.suggest, max_evals=budget, trials=Trials(),
         rstate=np.random.default_rng(seed), show_progressbar=False)
    return points, values, wall, cpu


def run_one(job: dict) -> dict:
    algo, fn, dim, seed, budget = (job[k] for k in ("algo", "fn", "dim", "seed", "budget"))
    problem = make_problem(fn, dim)
    driver = (run_optuna if algo.startswith("optuna-") and algo != "optuna-tpe-wrapped"
              else run_hyperopt if algo == "hyperopt-tpe" else run_raysweep)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        points, values, wall, cpu = driver(algo, problem, dim, seed, budget)
    X = np.array(points, dtype=float).reshape(len(points), dim)
    on_bound = ((X <= LOW + 1e-9) | (X >= HIGH - 1e-9)).any(axis=1)
    margin = NEAR * (HIGH - LOW)
    near = ((X <= LOW + margin) | (X >= HIGH - margin)).any(axis=1)
    _, first = np.unique(X, axis=0, return_index=True)
    repeated = np.ones(len(X), dtype=bool)
    repeated[first] = False
    regret = np.maximum(np.array(values) - job["fopt"], 0.0)
    return {**{k: job[k] for k in ("key", "algo", "fn", "dim", "seed", "budget")},
            "best": np.minimum.accumulate(regret).tolist(),
            "bound": on_bound.astype(int).tolist(), "near": near.astype(int).tolist(),
            "repeated": repeated.astype(int).tolist(),
            "wall": wall, "cpu": cpu}


# -- cache keys ----------------------------------------------------------------------------------
def fingerprint(algo: str) -> str:
    """What the results of ``algo`` depend on: its modules' source, or the peer's version."""
    if _ours(algo):
        searcher = _make_searcher(algo)
        files = {inspect.getsourcefile(type(searcher))}
        for name in ("_common", "base", "basic"):
            files.add(inspect.getsourcefile(importlib.import_module(f"raysweep.search.{name}")))
        files.add(inspect.getsourcefile(importlib.import_module("raysweep.space")))
        digest = hashlib.sha256()
        for path in sorted(files):
            with open(path, "rb") as f:
                digest.update(f.read())
        extra = ""
        if algo == "optuna-tpe-wrapped":
            extra = importlib.import_module("optuna").__version__
        return digest.hexdigest()[:12] + extra
    package = {"hyperopt-tpe": "hyperopt"}.get(algo, "optuna")
    version = importlib.import_module(package).__version__
    if algo == "optuna-cmaes":
        version += "+cmaes" + importlib.import_module("cmaes").__version__
    return version


def load_cache() -> dict[str, dict]:
    runs: dict[str, dict] = {}
    if os.path.exists(CACHE):
        with open(CACHE) as f:
            for line in f:
                try:
                    run = json.loads(line)
                except json.JSONDecodeError:
                    continue   # a line torn by an interrupted run
                runs[run["key"]] = run
    return runs


# -- report --------------------------------------------------------------------------------------
def _score(run: dict, mark: int) -> float:
    best = run["best"][: mark][-1] if run["best"] else float("inf")
    return math.log10(max(best, FLOOR))


def medians(runs: list[dict], mark: int) -> dict[tuple, float]:
    """(algo, fn, dim) -> median over seeds of log10 regret at ``mark`` evaluations."""
    groups: dict[tuple, list[float]] = {}
    for run in runs:
        groups.setdefault((run["algo"], run["fn"], run["dim"]), []).append(_score(run, mark))
    return {key: float(np.median(v)) for key, v in groups.items()}


def report(runs: list[dict], algos: list[str], fns: list[int], dims: list[int], budget: int,
           per_function: bool) -> str:
    from scipy.stats import rankdata

    marks = sorted({min(50, budget), budget})
    out = []
    ranks = {}
    for mark in marks:
        med = medians(runs, mark)
        for dim in dims:
            per_fn = []
            for fn in fns:
                row = [med.get((a, fn, dim), math.inf) for a in algos]
                per_fn.append(rankdata(row))
            ranks[mark, dim] = np.mean(per_fn, axis=0) if per_fn else np.zeros(len(algos))
    head = " | ".join(f"@{m} d={d}" for m in marks for d in dims)
    out += [f"\n## Mean rank over {len(fns)} functions (1 = best; median of {{seeds}} seeds)",
            "", f"| algorithm | {head} |", "|---|" + "---|" * (len(marks) * len(dims))]
    for i, algo in enumerate(algos):
        cells = " | ".join(f"{ranks[m, d][i]:.2f}" for m in marks for d in dims)
        out.append(f"| {algo} | {cells} |")

    med = medians(runs, budget)
    ours = [a for a in algos if _ours(a)]
    peers = [a for a in algos if a not in ours]
    if ours and peers:
        out += [f"\n## Wins-ties-losses @{budget} (functions where the median is lower)", "",
                "| raysweep | " + " | ".join(f"vs {p} d={d}" for p in peers for d in dims) + " |",
                "|---|" + "---|" * (len(peers) * len(dims))]
        for algo in ours:
            cells = []
            for peer in peers:
                for dim in dims:
                    a = np.array([med.get((algo, fn, dim), math.inf) for fn in fns])
                    b = np.array([med.get((peer, fn, dim), math.inf) for fn in fns])
                    cells.append(f"{(a < b).sum()}-{(a == b).sum()}-{(a > b).sum()}")
            out.append(f"| {algo} | " + " | ".join(cells) + " |")

    out += ["\n## Suggest time (median ms: wall / CPU) and pathologies", "",
            "| algorithm | " + " | ".join(f"ms d={d}" for d in dims)
            + " | " + " | ".join(f"on bound d={d}" for d in dims)
            + " | " + " | ".join(f"near d={d}" for d in dims)
            + " | repeated | stalled runs |", "|---|" + "---|" * (3 * len(dims) + 2)]
    for algo in algos:
        mine = [r for r in runs if r["algo"] == algo]
        cells = []
        for dim in dims:
            rs_ = [r for r in mine if r["dim"] == dim]
            wall = np.concatenate([r["wall"] for r in rs_]) * 1e3 if rs_ else [np.nan]
            cpu = np.concatenate([r["cpu"] for r in rs_]) * 1e3 if rs_ else [np.nan]
            cells.append(f"{np.median(wall):.1f} / {np.median(cpu):.1f}")
        for dim in dims:
            flags = [b for r in mine if r["dim"] == dim and r["fn"] not in CORNER_OPTIMUM
                     for b in r["bound"][STARTUP:]]
            cells.append(f"{100 * np.mean(flags):.1f}%" if flags else "-")
        for dim in dims:   # runs cached before the "near" flags were recorded have none
            flags = [b for r in mine if r["dim"] == dim and r["fn"] not in CORNER_OPTIMUM
                     for b in r.get("near", [])[STARTUP:]]
            cells.append(f"{100 * np.mean(flags):.1f}%" if flags else "-")
        repeated = [b for r in mine for b in r["repeated"]]
        cells.append(f"{100 * np.mean(repeated):.1f}%" if repeated else "-")
        stalled = [r["best"][len(r["best"]) // 2] == r["best"][-1] and r["best"][-1] > FLOOR
                   for r in mine if r["best"]]
        cells.append(f"{100 * np.mean(stalled):.0f}%" if stalled else "-")
        out.append(f"| {algo} | " + " | ".join(cells) + " |")

    if per_function:
        for dim in dims:
            out += [f"\n## Median log10(regret) @{budget}, d={dim}", "",
                    "| f | " + " | ".join(algos) + " |", "|---|" + "---|" * len(algos)]
            for fn in fns:
                row = [med.get((a, fn, dim), math.nan) for a in algos]
                best = np.nanmin(row)
                cells = [f"**{v:.2f}**" if v == best else f"{v:.2f}" for v in row]
                out.append(f"| f{fn} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def _unversioned(key: str) -> str:
    algo, _version, rest = key.split("|", 2)
    return f"{algo}|{rest}"


def _ints(text: str) -> list[int]:
    values: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        values += list(range(int(lo), int(hi or lo) + 1))
    return values


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--functions", default="1-24", help="e.g. 1-24 or 1,3,15-17")
    parser.add_argument("--dims", default="2,5,10")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1")
    parser.add_argument("--budget", type=int, default=100, help="evaluations per run")
    parser.add_argument("--algos", default=None, help=f"comma-separated subset of {available()}")
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel processes")
    parser.add_argument("--fresh", default="", help="comma-separated algos to recompute")
    parser.add_argument("--per-function", action="store_true", help="print per-function medians")
    parser.add_argument("--any-version", action="store_true",
                        help="with --cached-only: use cached runs whatever code version made "
                             "them (the last one cached); for looking at ablations")
    parser.add_argument("--cached-only", action="store_true",
                        help="run nothing: report the cached runs (functions and dims that "
                             "every algorithm has finished)")
    args = parser.parse_args(argv)
    fns, dims = _ints(args.functions), _ints(args.dims)
    algos = args.algos.split(",") if args.algos else available()
    bad = sorted({_split_spec(a)[0] for a in algos} - set(available()))
    if bad or not set(fns) <= set(range(1, 25)) or not set(dims) <= {2, 3, 5, 10, 20, 40}:
        parser.error(f"unknown or unavailable: algos {bad} (known {available()}), functions "
                     f"must be in 1-24, dims in 2,3,5,10,20,40; got {fns} and {dims}")
    fresh = set(args.fresh.split(",")) - {""}
    cache = load_cache()
    if args.any_version:   # re-key by everything but the fingerprint; later lines win
        cache = {_unversioned(key): run for key, run in cache.items()}
    prints = {a: fingerprint(a) for a in algos}
    optima = {(fn, dim): f_opt(fn, dim) for fn in fns for dim in dims}
    jobs, runs = [], []
    for algo in algos:
        for dim in dims:
            for fn in fns:
                for seed in range(args.seeds):
                    key = f"{algo}|{prints[algo]}|f{fn}|d{dim}|s{seed}|n{args.budget}"
                    lookup = _unversioned(key) if args.any_version else key
                    if lookup in cache and algo not in fresh:
                        runs.append(cache[lookup])
                    else:
                        jobs.append({"key": key, "algo": algo, "fn": fn, "dim": dim,
                                     "seed": seed, "budget": args.budget,
                                     "fopt": optima[fn, dim]})
    if args.cached_only:
        jobs = []
        have = {}
        for run in runs:
            have.setdefault((run["fn"], run["dim"]), set()).add(run["algo"])
        full = {key for key, got in have.items() if got >= set(algos)}
        fns = [fn for fn in fns if all((fn, dim) in full for dim in dims)]
        runs = [run for run in runs if run["fn"] in fns]
    print(f"{len(runs)} runs cached, {len(jobs)} to run ({args.jobs} processes)", flush=True)
    started = time.perf_counter()
    os.makedirs(os.path.dirname(CACHE), exist_ok=True)
    jobs.sort(key=lambda j: -j["dim"])   # longest first
    with open(CACHE, "a") as cache_file, ProcessPoolExecutor(max(1, args.jobs)) as pool:
        futures = [pool.submit(run_one, job) for job in jobs]
        for done, future in enumerate(as_completed(futures), 1):
            run = future.result()
            runs.append(run)
            cache_file.write(json.dumps(run) + "\n")
            cache_file.flush()
            if done % 50 == 0 or done == len(jobs):
                print(f"  {done}/{len(jobs)} ({time.perf_counter() - started:.0f} s)",
                      flush=True)
    text = report(runs, algos, fns, dims, args.budget, args.per_function)
    print(text.replace("{seeds}", str(args.seeds)))
    print(f"\n(budget {args.budget}, functions {args.functions}, dims {args.dims}, "
          f"{time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
