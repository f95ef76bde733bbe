"""The first minute: what a newcomer's `python script.py` costs, raysweep vs Optuna vs Ray Tune.

Every measurement is a fresh Python process (imports, Ray's start-up and shutdown included),
as a user running a script meets it. Two workloads:

* ``trivial``: 100 trials of ``(x - 3) ** 2``: the time to a first result is all overhead.
* ``cpu``: 100 trials of 100 ms of CPU work each (``time.thread_time``, the trial's own CPU
  time, so CPU that start-up or the driver takes from a trial makes it longer) on 2 CPUs: the
  ideal is 5 s, the efficiency is ideal / wall time of the process.

For each process the table gives the wall time from spawn to exit, the time until it first
printed anything (how long the screen stays silent), and the time spent in the tuning call
itself. Each side runs with its defaults as a newcomer meets them: raysweep ``rs.run`` (Ray,
and ``executor="inline"`` for reference), Optuna's ``study.optimize`` (TPE; ``n_jobs=2`` for
the CPU workload, threads, so the GIL serialises pure-Python work) and Ray Tune's ``Tuner``.

    python benchmarks/first_minute.py                 # everything, once
    python benchmarks/first_minute.py --repeat 3      # median of 3 of each
    python benchmarks/first_minute.py --only raysweep,optuna --work trivial
    python benchmarks/first_minute.py --baseline /path/to/older/checkout   # measure a change

Sides are measured one after the other in the same run, on whatever load the machine has:
compare the sides of one run, not figures taken on different days.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MARK = "FIRST_MINUTE_RESULT "
N_TRIALS = 100
CPU_S = 0.1
CPUS = 2
SIDES = ("raysweep", "raysweep-inline", "optuna", "ray-tune")


# ------------------------------------------------------------------------------- the child
def busy(seconds: float) -> None:
    # CPU time of this thread: CPU taken by anything else (Ray's start-up, the driver, other
    # threads) makes the trial longer. process_time would not do for Optuna's n_jobs threads:
    # it counts every thread of the process, so two threads would each do half the work.
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def trivial_value(x: float) -> float:
    return (x - 3) ** 2


def child(side: str, work: str, storage: str) -> dict:
    """Run one side's sweep in this (fresh) process; return its own timings."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    if side.startswith("raysweep"):
        import raysweep as rs

        timings["import_s"] = time.perf_counter() - started

        def objective(config):
            if work == "cpu":
                busy(CPU_S)
            return {"loss": trivial_value(config["x"])}

        run_start = time.perf_counter()
        kwargs = {"executor": "inline"} if side == "raysweep-inline" else {}
        results = rs.run(objective, {"x": rs.uniform(-10, 10)}, metric="loss", mode="min",
                         num_samples=N_TRIALS, storage_path=storage, seed=0, **kwargs)
        timings["run_s"] = time.perf_counter() - run_start
        assert len(results) == N_TRIALS
    elif side == "optuna":
        import optuna

        timings["import_s"] = time.perf_counter() - started

        def objective(trial):
            x = trial.suggest_float("x", -10, 10)
            if work == "cpu":
                busy(CPU_S)
            return trivial_value(x)

        run_start = time.perf_counter()
        study = optuna.create_study(direction="minimize")
        study.optimize(objective, n_trials=N_TRIALS, n_jobs=CPUS if work == "cpu" else 1)
        timings["run_s"] = time.perf_counter() - run_start
        assert len(study.trials) == N_TRIALS
    elif side == "ray-tune":
        from ray import tune

        timings["import_s"] = time.perf_counter() - started

        def trainable(config):
            if work == "cpu":
                busy(CPU_S)
            tune.report({"loss": trivial_value(config["x"])})

        run_start = time.perf_counter()
        tuner = tune.Tuner(trainable, param_space={"x": tune.uniform(-10, 10)},
                           tune_config=tune.TuneConfig(num_samples=N_TRIALS, metric="loss",
                                                       mode="min"),
                           run_config=tune.RunConfig(storage_path=storage))
        grid = tuner.fit()
        timings["run_s"] = time.perf_counter() - run_start
        assert len(grid) == N_TRIALS
    else:
        raise ValueError(f"unknown side {side!r}")
    return timings


# ------------------------------------------------------------------------------ the parent
def measure(side: str, work: str, env: dict[str, str]) -> dict:
    """Spawn a fresh process for ``side``; time it from spawn to exit."""
    storage = tempfile.mkdtemp(prefix="first_minute_")
    child_side = side
    if side == "raysweep-baseline":
        child_side = "raysweep"
        env = dict(env, PYTHONPATH=env["FIRST_MINUTE_BASELINE"])
    command = [sys.executable, os.path.abspath(__file__), "--child", child_side, "--work",
               work, "--storage", storage]
    spawned = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env=env, text=True, bufsize=1)
    first_output = None
    timings: dict = {}
    lines = []
    for line in process.stdout:
        if line.startswith(MARK):
            timings = json.loads(line[len(MARK):])
            continue
        if first_output is None and line.strip():
            first_output = time.perf_counter() - spawned
        lines.append(line)
    code = process.wait()
    wall = time.perf_counter() - spawned
    if code != 0 or not timings:
        tail = "".join(lines[-15:])
        raise RuntimeError(f"{side}/{work} failed (exit {code}):\n{tail}")
    return {"wall_s": wall, "first_output_s": first_output, **timings,
            "first_line": next((line.strip() for line in lines if line.strip()), "")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SIDES),
                        help=f"comma-separated sides (default all: {', '.join(SIDES)})")
    parser.add_argument("--work", choices=("trivial", "cpu", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each (median shown)")
    parser.add_argument("--baseline", metavar="DIR",
                        help="also run raysweep from this source tree (e.g. a checkout of an "
                        "earlier commit), as side 'raysweep-baseline', to measure a change")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--storage", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        timings = child(args.child, args.work, args.storage)
        print(MARK + json.dumps(timings), flush=True)
        return
    sides = [s.strip() for s in args.only.split(",") if s.strip()]
    if args.baseline:
        sides.insert(sides.index("raysweep") + 1 if "raysweep" in sides else 0,
                     "raysweep-baseline")
    unknown = set(sides) - set(SIDES) - {"raysweep-baseline"}
    if unknown:
        parser.error(f"--only: unknown sides {sorted(unknown)}; choose from {', '.join(SIDES)}")
    works = ("trivial", "cpu") if args.work == "both" else (args.work,)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(HERE)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.pop("RAY_ADDRESS", None)  # a laptop with no cluster
    if args.baseline:
        env["FIRST_MINUTE_BASELINE"] = os.path.abspath(args.baseline)
    print(f"# first minute: fresh processes, {N_TRIALS} trials, {os.cpu_count()} CPUs on this "
          f"machine, load average {os.getloadavg()[0]:.1f} at start, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
    for work in works:
        rows = []
        for side in sides:
            runs = [measure(side, work, env) for _ in range(args.repeat)]
            row = {key: statistics.median(r[key] for r in runs)
                   for key in ("wall_s", "first_output_s", "import_s", "run_s")
                   if all(r.get(key) is not None for r in runs)}
            row["side"] = side
            row["first_line"] = runs[0]["first_line"][:70]
            rows.append(row)
        reference = next((r["wall_s"] for r in rows if r["side"] == "optuna"), None)
        if work == "trivial":
            title = f"{N_TRIALS} trivial trials, fresh process"
        else:
            title = (f"{N_TRIALS} trials x {CPU_S * 1000:.0f} ms of CPU on {CPUS} CPUs, fresh "
                     f"process (ideal {N_TRIALS * CPU_S / CPUS:.1f} s)")
        print(f"\n## {title}\n")
        header = ["side", "process wall s", "vs Optuna", "silent for s", "import s",
                  "tuning call s"]
        if work == "cpu":
            header.append("efficiency")
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            cells = [row["side"], f"{row['wall_s']:.2f}",
                     f"{row['wall_s'] / reference:.1f}x" if reference else "-",
                     f"{row['first_output_s']:.2f}" if "first_output_s" in row else "-",
                     f"{row.get('import_s', float('nan')):.2f}",
                     f"{row.get('run_s', float('nan')):.2f}"]
            if work == "cpu":
                cells.append(f"{N_TRIALS * CPU_S / CPUS / row['wall_s']:.2f}")
            print("| " + " | ".join(cells) + " |")
        print("\nfirst line each printed:")
        for row in rows:
            print(f"  {row['side']}: {row['first_line']!r}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
