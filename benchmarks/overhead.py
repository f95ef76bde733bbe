"""Per-trial overhead, parallel efficiency, report throughput and driver memory.

Runs the same workloads through raysweep, Ray Tune (Tuner, function trainable,
reuse_actors=True) and raw Ray (tasks; two long-lived actors) in one process on one local Ray
with 2 CPUs, and prints tables of ratios. Times are wall-clock of the whole call, including
worker start-up where a system starts workers per run (raysweep's first run does; later runs
reuse its idle workers, reported separately as "warm").

    python benchmarks/overhead.py            # full (several minutes: Ray Tune is slow)
    python benchmarks/overhead.py --quick    # a smaller smoke run
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))

from _common import count_files, rss_mb, table  # noqa: E402

import ray  # noqa: E402

import raysweep as rs  # noqa: E402


def trivial(config):
    return {"loss": (config["x"] - 3) ** 2}


def busy_100ms(config):
    # 100 ms of this thread's CPU time, not of wall time: CPU that Ray's start-up or the
    # driver takes from the trial's core makes the trial longer, so it shows in the efficiency.
    # (thread_time, not process_time: a worker's other threads must not do the trial's work.)
    end = time.thread_time() + 0.1
    while time.thread_time() < end:
        pass
    return {"loss": config["x"]}


def make_reporter(n_reports):
    def chatty(config):
        for step in range(n_reports):
            rs.report({"loss": config["x"] + step})
    return chatty


def raysweep_run(objective, n, storage, **kwargs):
    start = time.perf_counter()
    results = rs.run(objective, {"x": rs.uniform(-10, 10)}, metric="loss", mode="min",
                     num_samples=n, verbose=0, storage_path=storage, **kwargs)
    elapsed = time.perf_counter() - start
    assert len(results) == n and set(results.dataframe().status) == {"TERMINATED"}
    return elapsed, results


def tune_run(objective, n, storage, report_loop=None):
    from ray import tune

    if report_loop is None:
        def trainable(config):
            tune.report(objective(config))
    else:
        def trainable(config):
            for step in range(report_loop):
                tune.report({"loss": config["x"] + step})
    start = time.perf_counter()
    tuner = tune.Tuner(
        trainable, param_space={"x": tune.uniform(-10, 10)},
        tune_config=tune.TuneConfig(num_samples=n, metric="loss", mode="min",
                                    reuse_actors=True),
        run_config=tune.RunConfig(storage_path=storage, verbose=0))
    grid = tuner.fit()
    elapsed = time.perf_counter() - start
    assert len(grid) == n
    return elapsed


def raw_tasks(n):
    @ray.remote(num_cpus=1)
    def f(x):
        return (x - 3) ** 2

    start = time.perf_counter()
    ray.get([f.remote(float(i)) for i in range(n)])
    return time.perf_counter() - start


def raw_actors(n, pipelined):
    @ray.remote(num_cpus=1)
    class Worker:
        def f(self, x):
            return (x - 3) ** 2

    start = time.perf_counter()
    workers = [Worker.remote() for _ in range(2)]
    if pipelined:  # all calls submitted at once: each actor always has work queued
        ray.get([workers[i % 2].f.remote(float(i)) for i in range(n)])
    else:  # one call in flight per actor, the next sent when it answers (a trial per call)
        inflight = {workers[0].f.remote(0.0): 0, workers[1].f.remote(1.0): 1}
        sent = 2
        while inflight:
            done, _ = ray.wait(list(inflight), num_returns=1)
            index = inflight.pop(done[0])
            if sent < n:
                inflight[workers[index].f.remote(float(sent))] = index
                sent += 1
    elapsed = time.perf_counter() - start
    for worker in workers:
        ray.kill(worker)
    return elapsed


def journaling_cost(n, storage):
    """Per-trial time of the same controller with and without the journal."""
    import numpy as np

    from raysweep.execution.controller import Controller
    from raysweep.execution.ray_executor import RayExecutor
    from raysweep.schedulers import FIFO
    from raysweep.search.basic import Random
    from raysweep.space import Space
    from raysweep.storage import ExperimentDir

    out = {}
    for label in ("off", "on", "off ", "on "):
        space = Space({"x": rs.uniform(-10, 10)})
        searcher, scheduler = Random(), FIFO()
        searcher.setup(space, "loss", "min", np.random.SeedSequence(0), n)
        scheduler.setup("loss", "min", np.random.SeedSequence(1))
        directory = None
        if label.strip() == "on":
            directory = ExperimentDir(tempfile.mkdtemp(dir=storage))
            directory.lock()
            directory.open_journal()
        executor = RayExecutor(resources={"cpu": 1})
        executor.setup(trivial, metric="loss", mode="min", stop=None)
        controller = Controller(executor=executor, searcher=searcher, scheduler=scheduler,
                                metric="loss", mode="min", num_samples=n, storage=directory)
        start = time.perf_counter()
        controller.run()
        elapsed = time.perf_counter() - start
        executor.shutdown()
        if directory is not None:
            directory.close()
        out.setdefault(label.strip(), []).append(elapsed / n)
    return {k: min(v) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller workloads")
    parser.add_argument("--no-tune", action="store_true", help="skip Ray Tune")
    args = parser.parse_args()
    n_trivial = 200 if args.quick else 1000
    n_busy = 20 if args.quick else 100
    n_reports = 1000 if args.quick else 5000
    n_memory = 2000 if args.quick else 10000
    with_tune = not args.no_tune

    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    storage = tempfile.mkdtemp(prefix="raysweep_bench_")
    print(f"# raysweep overhead benchmark ({'quick' if args.quick else 'full'}), Ray "
          f"{ray.__version__}, 2 CPUs")

    # 1. trivial trials
    times = {}
    times["raw Ray tasks"] = raw_tasks(n_trivial)
    times["2 actors, one call in flight each (floor)"] = raw_actors(n_trivial, pipelined=False)
    times["2 actors, all calls queued"] = raw_actors(n_trivial, pipelined=True)
    times["raysweep (cold: starts its workers)"] = raysweep_run(trivial, n_trivial, storage)[0]
    times["raysweep (warm: reuses idle workers)"] = raysweep_run(trivial, n_trivial, storage)[0]
    if with_tune:
        times["Ray Tune (reuse_actors=True)"] = tune_run(trivial, n_trivial, storage)
    floor = times["2 actors, one call in flight each (floor)"]
    tune_time = times.get("Ray Tune (reuse_actors=True)")
    rows = [[name, t / n_trivial * 1000, t / floor,
             (t / tune_time) if tune_time else "-"] for name, t in times.items()]
    print(table(f"{n_trivial} trivial trials ((x-3)**2), wall time per trial",
                ["system", "ms/trial", "x floor", "x Ray Tune"], rows))

    # 2. parallel efficiency
    ideal = n_busy * 0.1 / 2
    eff = {}
    from raysweep.execution.ray_executor import release_workers
    release_workers()
    eff["raysweep (cold)"] = ideal / raysweep_run(busy_100ms, n_busy, storage)[0]
    eff["raysweep (warm)"] = ideal / raysweep_run(busy_100ms, n_busy, storage)[0]
    if with_tune:
        eff["Ray Tune"] = ideal / tune_run(busy_100ms, n_busy, storage)
    print(table(f"{n_busy} trials of 100 ms CPU work on 2 CPUs: parallel efficiency "
                "(ideal wall / measured wall)", ["system", "efficiency"],
                [[k, v] for k, v in eff.items()]))

    # 3. report throughput
    total = 2 * n_reports
    rates = {"raysweep": total / raysweep_run(make_reporter(n_reports), 2, storage)[0]}
    if with_tune:
        rates["Ray Tune"] = total / tune_run(None, 2, storage, report_loop=n_reports)
    rows = [[k, v, (v / rates["Ray Tune"]) if "Ray Tune" in rates else "-"]
            for k, v in rates.items()]
    print(table(f"2 concurrent trials x {n_reports} rs.report calls", ["system", "reports/s",
                                                                       "x Ray Tune"], rows))

    # 4. journaling cost
    cost = journaling_cost(n_trivial, storage)
    print(table(f"journaling cost, {n_trivial} trivial trials (same controller)",
                ["journal", "ms/trial", "x off"],
                [["off", cost["off"] * 1000, 1.0], ["on", cost["on"] * 1000,
                                                    cost["on"] / cost["off"]]]))

    # 5. driver memory and files
    gc.collect()
    before = rss_mb()
    elapsed, results = raysweep_run(trivial, n_memory, storage, name="memory")
    del results
    gc.collect()
    grown = rss_mb() - before
    files, size = count_files(os.path.join(storage, "memory"))
    print(table(f"{n_memory} trivial trials: driver memory and experiment directory",
                ["system", "RSS growth MB", "KB/trial", "files", "MB on disk", "s"],
                [["raysweep", grown, grown * 1024 / n_memory, files, size, elapsed]]))
    ray.shutdown()


if __name__ == "__main__":
    main()
