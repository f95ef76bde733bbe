"""ASHA's scaling with workers, by simulation, next to synchronous successive halving and
Hyperband (the experiment of Li et al., "A System for Massively Parallel Hyperparameter
Tuning", MLSys 2020, rebuilt on raysweep's simulated executor).

The benchmark is a learning-curve model in the style of the paper's: every config has its
own floor and its own speed, curves cross (a large learning rate learns fast and ends on a
worse floor), the time per iteration depends on the config (wider models are slower), every
iteration is slowed or sped up by a random factor (jitter) and one trial in twenty runs on a
slow machine, three times slower (stragglers). A *good* configuration is one whose loss at the
full budget R is in the best 0.1% of the space (the threshold is computed by Monte Carlo over
a million random configs). For each method and each number of workers we measure
the virtual time until the first good configuration has been trained to R, take the median
over seeds, and print the speedup over one worker.

Methods (all with reduction factor 3, R = 81 iterations, minimum budget 1 iteration):
  * ASHA: ``rs.schedulers.ASHA`` (one bracket): promotes as soon as a trial ranks in the
    top third of its rung; never waits.
  * SHA: synchronous successive halving, i.e. ``rs.schedulers.Hyperband`` restricted to its
    most aggressive bracket: a rung is judged only when all its trials have reported there,
    and idle workers start new brackets meanwhile.
  * Hyperband: ``rs.schedulers.Hyperband`` (synchronous, cycling through its brackets).

Usage::

    python benchmarks/asha_simulation.py --quick     # 1, 4, 16, 64, 256 workers, 4 seeds
    python benchmarks/asha_simulation.py             # 1, 2, 4, ..., 256 workers, 10 seeds
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import tempfile
import time
import zlib

import numpy as np

R = 81
ETA = 3
ITERATION_S = 60.0  # mean seconds per iteration of a mid-sized model
TOP_FRACTION = 0.001
SLOW_SHARE = 0.05  # trials on a slow machine
SLOW_FACTOR = 3.0


def final_floor(lr, reg, width):
    """The loss a config converges to: best near lr=3e-2, reg=1e-3, width 6 (numpy-able)."""
    return (0.08 + 0.06 * (np.log10(lr) + 1.5) ** 2 + 0.02 * (np.log10(reg) + 3.0) ** 2
            + 0.01 * np.abs(width - 6))


def true_loss(lr, reg, width, iteration):
    """Noise-free loss after ``iteration`` iterations; large learning rates learn faster."""
    speed = 0.05 + 0.5 * np.sqrt(lr)
    return final_floor(lr, reg, width) + 0.5 / (1.0 + speed * iteration)


def seconds_per_iteration(width) -> float:
    """Mean virtual seconds of one iteration (before jitter and stragglers)."""
    return ITERATION_S * (0.4 + 0.15 * width)


def make_curve(jitter_sd: float):
    def curve(config, iteration, rng):
        lr, reg, width = config["lr"], config["reg"], config["width"]
        slowdown = max(0.1, 1.0 + jitter_sd * rng.standard_normal())
        if zlib.crc32(repr(sorted(config.items())).encode()) % 1000 < SLOW_SHARE * 1000:
            slowdown *= SLOW_FACTOR  # this trial landed on a slow machine
        clean = float(true_loss(lr, reg, width, iteration))
        return (seconds_per_iteration(width) * slowdown,
                {"loss": clean + 0.005 * rng.standard_normal(), "true_loss": clean})

    return curve


def space():
    import raysweep as rs

    return {"lr": rs.loguniform(1e-4, 1.0), "reg": rs.loguniform(1e-6, 1e-1),
            "width": rs.randint(1, 9)}


def good_threshold(samples: int = 1_000_000) -> tuple[float, float]:
    """The R-iteration loss of the best ``TOP_FRACTION`` of random configs, and the time
    one of those good configs needs to reach R at the least (the critical path)."""
    rng = np.random.default_rng(12345)
    lr = 10 ** rng.uniform(-4, 0, samples)
    reg = 10 ** rng.uniform(-6, -1, samples)
    width = rng.integers(1, 9, samples)
    losses = true_loss(lr, reg, width, R)
    threshold = float(np.quantile(losses, TOP_FRACTION))
    fastest = width[losses <= threshold].min()
    return threshold, R * seconds_per_iteration(fastest)


def make_scheduler(method: str):
    import raysweep as rs
    from raysweep.schedulers.hyperband import Hyperband

    if method == "ASHA":
        return rs.schedulers.ASHA(max_t=R, grace_period=1, reduction_factor=ETA)
    if method == "Hyperband":
        return Hyperband(max_t=R, reduction_factor=ETA)

    class SynchronousSHA(Hyperband):
        """Hyperband's most aggressive bracket, over and over: synchronous SHA."""

        name = "sha"

        def _new_bracket(self, s):
            return super()._new_bracket(self.s_max)

    return SynchronousSHA(max_t=R, reduction_factor=ETA)


class _Found(Exception):
    pass


def time_to_good(method: str, workers: int, seed: int, threshold: float, jitter_sd: float,
                 budget_s: float, root: str) -> tuple[float, int]:
    """Virtual seconds until a good config reaches R (``inf`` if not within ``budget_s``)."""
    import raysweep as rs
    from raysweep.execution.simulated import Simulated

    executor = Simulated(workers, make_curve(jitter_sd), max_iterations=R, seed=seed)
    found: list[float] = []

    class Watch(rs.Callback):
        def on_trial_result(self, trial, result):
            if result["training_iteration"] >= R and result["true_loss"] <= threshold:
                found.append(executor.now())
                raise _Found

    name = f"{method}-{workers}-{seed}"
    try:
        rs.run(lambda config: None, space(), metric="loss", mode="min", num_samples=10**7,
               scheduler=make_scheduler(method), seed=seed, verbose=0, name=name,
               storage_path=root, time_budget_s=budget_s, executor=executor,
               callbacks=[Watch()])
    except _Found:
        pass
    finally:
        shutil.rmtree(os.path.join(root, name), ignore_errors=True)
    return (found[0] if found else math.inf), executor.stats["reports"]


def main(argv: list[str] | None = None) -> None:
    global TOP_FRACTION
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer worker counts and seeds")
    parser.add_argument("--workers", default=None, help="comma-separated worker counts")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--methods", default="ASHA,SHA,Hyperband")
    parser.add_argument("--top", type=float, default=TOP_FRACTION,
                        help="a good config is in this best fraction of the space")
    parser.add_argument("--jitter-sd", type=float, default=0.3,
                        help="sd of the random slowdown factor of each iteration (mean 1)")
    parser.add_argument("--budget-h", type=float, default=5_000.0,
                        help="give up on a run after this many virtual hours")
    args = parser.parse_args(argv)
    workers = [int(w) for w in (args.workers or ("1,4,16,64,256" if args.quick else
                                                 "1,2,4,8,16,32,64,128,256")).split(",")]
    seeds = args.seeds or (4 if args.quick else 10)
    methods = [m.strip() for m in args.methods.split(",")]
    for method in methods:
        if method not in ("ASHA", "SHA", "Hyperband"):
            parser.error(f"--methods: {method!r} is not one of ASHA, SHA, Hyperband")
    if not 0 < args.top < 1:
        parser.error(f"--top must be in (0, 1), got {args.top}")
    TOP_FRACTION = args.top
    threshold, critical_s = good_threshold()
    # A storage path in memory: checkpoints of paused trials cost an fsync each on disk.
    root = tempfile.mkdtemp(prefix="raysweep_asha_", dir="/dev/shm" if os.path.isdir(
        "/dev/shm") else None)
    print(f"good config: loss at R={R} <= {threshold:.4f} (best {TOP_FRACTION:.1%} of the "
          f"space); jitter sd {args.jitter_sd}, {SLOW_SHARE:.0%} of trials {SLOW_FACTOR:g}x "
          f"slower; median of {seeds} seeds")
    # runs[method][workers] = [(virtual seconds to a good config, iterations run)] by seed
    runs: dict[str, dict[int, list[tuple[float, int]]]] = {m: {} for m in methods}
    started = time.perf_counter()
    try:
        for count in workers:
            for method in methods:
                runs[method][count] = [
                    time_to_good(method, count, seed, threshold, args.jitter_sd,
                                 args.budget_h * 3600, root) for seed in range(seeds)]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    base = workers[0]
    header = f"{'workers':>8}" + "".join(
        f"{m + ' h':>13}{'speedup':>8}{'eff':>6}{'floor':>7}{'work':>6}" for m in methods)
    print(header)
    print("-" * len(header))
    for count in workers:
        line = f"{count:>8}"
        for method in methods:
            hours = statistics.median(t for t, _ in runs[method][count]) / 3600
            speedup, floor, work = _paired(runs[method][base], runs[method][count], base,
                                           count, critical_s)
            line += f"{hours:>13.2f}{speedup:>8.1f}{speedup / count:>6.2f}{floor:>7.1f}" \
                    f"{work:>6.2f}"
        print(line)
    print(f"\nh: median over seeds of the virtual hours to a good config. speedup: median over "
          f"seeds of (same seed on {base} worker(s)) / (this run) x {base}; eff: speedup / "
          f"workers. floor: the speedup if the search work divided perfectly among the "
          f"workers and only the critical path ({critical_s / 3600:.2f} h) did not, i.e. "
          f"T{base} / (c + (T{base} - c) x {base} / workers), median over seeds. work: "
          f"iterations run before a good config was found, relative to {base} worker(s) "
          f"(median over seeds); above 1, more workers did extra work (for ASHA: trials "
          f"promoted on rungs that had seen few results).")
    print(f"Critical path: the fastest good config needs {critical_s / 3600:.2f} h to reach R "
          f"by itself, so no number of workers finds one sooner, and time-to-good bends "
          f"toward that floor once the search work divided by the workers is no longer much "
          f"larger than it. ({time.perf_counter() - started:.0f} s of real time)")


def _paired(base_runs: list[tuple[float, int]], runs: list[tuple[float, int]], base: int,
            count: int, critical_s: float) -> tuple[float, float, float]:
    """Median over seeds of the speedup over ``base`` workers (each seed against itself: the
    time to a good config varies tenfold between seeds, so a ratio of medians would compare
    different seeds), of the critical-path model's speedup, and of the work ratio."""
    speedups, floors, works = [], [], []
    for (t_base, work_base), (t, work) in zip(base_runs, runs):
        if not (math.isfinite(t_base) and math.isfinite(t)):
            continue
        speedups.append(t_base / t * base)
        floor_t = min(t_base, critical_s + (t_base - critical_s) * base / count)
        floors.append(t_base / floor_t * base)
        works.append(work / max(1, work_base))
    if not speedups:
        return math.nan, math.nan, math.nan
    return statistics.median(speedups), statistics.median(floors), statistics.median(works)


if __name__ == "__main__":
    main()
