"""How many workers can one raysweep driver feed? The real controller, searchers and
schedulers against the simulated executor, at 10 to 10,000 workers and up to 10^6 trials.

For each combination of search and scheduler (random + FIFO, random + ASHA, TPE + ASHA) and
each worker count, one ``raysweep.run`` is made in a fresh process and measured:

* events/s of driver CPU: executor events (reports and trial ends) per second of the
  process's CPU time, whole run (``ev/s``), and with the simulator's own time taken out
  (``ctrl ev/s``: what the controller, searcher, scheduler and journal cost);
* the per-event cost as the experiment grows (microseconds per event at 10^4, 10^5, 10^6
  trials), so growth shows;
* driver memory per trial (resident memory growth divided by trials created) and the peak;
* journal bytes per report and per trial;
* TPE's milliseconds per suggestion as its history grows;
* worker utilisation: busy worker-seconds / (workers x virtual seconds), i.e. whether the
  driver kept the simulated cluster busy (with ``--driver-time`` the clock also advances
  by the driver's CPU time, so a slow driver shows up as idle workers).

A run that exceeds ``--max-cpu-s`` is cut short and reported with the trials it reached.

The workload: 3 hyperparameters; iterations take 30-90 virtual seconds depending on the
config; ASHA uses max_t=27, grace_period=1, reduction_factor=3 (about 3 reports per trial on
average), and FIFO trials run 3 iterations so both cost about the same per trial.

Usage::

    python benchmarks/scale.py --quick          # a few minutes
    python benchmarks/scale.py                  # the full table (an hour or more)
    python benchmarks/scale.py --combos random+asha --workers 1000 --trials 1000000
    python benchmarks/scale.py --tpe-suggest 1000,10000,100000   # TPE ms/suggestion only
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

COMBOS = ("random+fifo", "random+asha", "tpe+asha")
MAX_T = 27
FIFO_ITERATIONS = 3
MILESTONES = (1_000, 10_000, 100_000, 1_000_000)


def curve(config, iteration):
    """A learning curve: configs converge to different floors at different speeds.

    Time per iteration depends on the config (deeper nets are slower); curves cross
    because a high learning rate starts fast and ends on a worse floor.
    """
    lr, layers, dropout = config["lr"], config["layers"], config["dropout"]
    speed = 0.2 + 4.0 * lr * 10  # high lr: fast start
    floor = 0.05 + abs(math.log10(lr) + 2.5) * 0.08 + 0.1 * dropout + 0.02 * abs(layers - 4)
    loss = floor + (1.0 - floor) * math.exp(-speed * iteration / 3.0)
    return 30.0 + 10.0 * layers, {"loss": loss}


def space():
    import raysweep as rs

    return {"lr": rs.loguniform(1e-4, 1e-1), "layers": rs.randint(1, 7),
            "dropout": rs.uniform(0.0, 0.5)}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _OutOfTime(Exception):
    pass


def run_one(combo: str, workers: int, trials: int, max_cpu_s: float,
            driver_time: bool) -> dict:
    """One measured run in this process; returns a dict of numbers."""
    import raysweep as rs
    from raysweep.execution.simulated import Simulated
    from raysweep.search.tpe import TPE

    search_name, scheduler_name = combo.split("+")
    suggest_ms: list[tuple[int, float]] = []

    class TimedTPE(TPE):
        def suggest(self, trial_id):
            started = time.perf_counter()
            config = super().suggest(trial_id)
            suggest_ms.append((len(self._done), (time.perf_counter() - started) * 1e3))
            return config

    class TimedSimulated(Simulated):
        sim_s = 0.0
        events = 0

        def poll(self, timeout_s):
            started = time.process_time()  # CPU, not wall: robust on a busy machine
            events = super().poll(timeout_s)
            self.sim_s += time.process_time() - started
            self.events += len(events)
            return events

        def start(self, *args):
            started = time.process_time()
            super().start(*args)
            self.sim_s += time.process_time() - started

    executor = TimedSimulated(workers, curve, include_driver_time=driver_time,
                              max_iterations=FIFO_ITERATIONS if scheduler_name == "fifo"
                              else MAX_T)
    marks: list[dict] = []
    cpu0 = time.process_time()
    rss0 = _rss_bytes()

    class Meter(rs.Callback):
        done = 0

        def on_trial_complete(self, trial):
            self.done += 1
            if self.done in MILESTONES or self.done % 1000 == 0:
                cpu = time.process_time() - cpu0
                if self.done in MILESTONES or self.done == trials:
                    marks.append({"trials": self.done, "cpu_s": cpu,
                                  "events": executor.events, "sim_s": executor.sim_s,
                                  "rss": _rss_bytes()})
                if cpu > max_cpu_s and self.done < trials:
                    raise _OutOfTime

    searcher = TimedTPE() if search_name == "tpe" else search_name
    scheduler = (rs.schedulers.ASHA(max_t=MAX_T, grace_period=1, reduction_factor=3)
                 if scheduler_name == "asha" else scheduler_name)
    root = tempfile.mkdtemp(prefix="raysweep_scale_")
    meter = Meter()
    finished = True
    try:
        rs.run(lambda config: None, space(), metric="loss", mode="min", num_samples=trials,
               search=searcher, scheduler=scheduler, seed=0, verbose=0, name="scale",
               storage_path=root, executor=executor, callbacks=[meter])
    except _OutOfTime:
        finished = False
    cpu = time.process_time() - cpu0
    journal = os.path.join(root, "scale", "journal.jsonl")
    journal_bytes = os.path.getsize(journal)
    shutil.rmtree(root, ignore_errors=True)
    reports = executor.stats["reports"]
    virtual_s = executor.now()
    out = {
        "combo": combo, "workers": workers, "trials_asked": trials, "trials_done": meter.done,
        "finished": finished, "reports": reports, "events": executor.events, "cpu_s": cpu,
        "sim_s": executor.sim_s, "marks": marks, "rss0": rss0,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "journal_bytes": journal_bytes, "virtual_s": virtual_s,
        "utilisation": executor.stats["busy_s"] / max(1e-9, workers * virtual_s),
        "lost_iterations": executor.stats["lost_iterations"],
    }
    if suggest_ms:
        out["suggest_ms"] = _suggest_profile(suggest_ms)
    return out


def tpe_suggest_ms(observations: int, pending: int = 1000, calls: int = 50,
                   searcher_class=None, **tpe_args) -> dict[str, float]:
    """CPU ms per ``TPE.suggest`` (or ``searcher_class``'s) with ``observations`` finished
    trials (random configs of this workload, scored at max_t) and ``pending`` running ones,
    as at 1,000 workers.

    Much faster than a sweep that long: the history is filled without asking TPE for it.
    """
    import numpy as np

    from raysweep.search.tpe import TPE
    from raysweep.space import Space

    searcher, domain = (searcher_class or TPE)(**tpe_args), Space(space())
    searcher.setup(domain, "loss", "min", 0)
    rng = np.random.default_rng(0)
    for number in range(observations + pending):
        trial_id = f"{number:07d}"
        config = domain.sample(rng)
        searcher._record(trial_id, config)  # as suggest() records what it hands out
        searcher._pending[trial_id] = None
        if number < observations:
            searcher.observe(trial_id, {"loss": curve(config, MAX_T)[1]["loss"]}, final=True)
    times = []
    for call in range(calls):
        trial_id = f"s{call}"
        started = time.process_time()
        config = searcher.suggest(trial_id)
        times.append((time.process_time() - started) * 1e3)
        searcher.observe(trial_id, {"loss": curve(config, MAX_T)[1]["loss"]}, final=True)
    times.sort()
    return {"observations": observations, "median_ms": times[len(times) // 2],
            "p90_ms": times[int(len(times) * 0.9)]}


def _suggest_profile(samples: list[tuple[int, float]]) -> dict[str, float]:
    """Mean ms per suggestion over the 200 calls before each history size milestone."""
    profile = {}
    for size in (100, 1_000, 10_000, 100_000, 1_000_000):
        window = [ms for history, ms in samples if size - 200 <= history <= size]
        if window:
            profile[str(size)] = sum(window[-200:]) / len(window[-200:])
    return profile


# -- the table ----------------------------------------------------------------------------
def _per_event_us(marks: list[dict]) -> dict[int, float]:
    """Driver CPU microseconds per event over each decade (10^3..10^4, 10^4..10^5, ...)."""
    out = {}
    previous = {"trials": 0, "cpu_s": 0.0, "events": 0}
    for mark in marks:
        if mark["trials"] in MILESTONES:
            events = mark["events"] - previous["events"]
            if events > 0:
                out[mark["trials"]] = (mark["cpu_s"] - previous["cpu_s"]) / events * 1e6
            previous = mark
    return out


def _bytes_per_trial(row: dict) -> float:
    marks = [m for m in row["marks"] if m["trials"] >= 1_000]
    if len(marks) >= 2:  # slope between the first and last mark: what each trial adds
        first, last = marks[0], marks[-1]
        return (last["rss"] - first["rss"]) / max(1, last["trials"] - first["trials"])
    return (row["peak_rss"] - row["rss0"]) / max(1, row["trials_done"])


def print_table(rows: list[dict]) -> None:
    header = (f"{'search+scheduler':<17}{'workers':>8}{'trials':>10}{'events':>11}"
              f"{'cpu s':>8}{'ev/s':>8}{'ctrl ev/s':>10}  {'us/event @1e4/1e5/1e6':<22}"
              f"{'B/trial':>8}{'peak MB':>8}{'jB/rep':>7}{'jB/trial':>9}{'util':>6}"
              f"  TPE ms/suggest @1e3/1e4/1e5 obs")
    print(header)
    print("-" * len(header))
    for row in rows:
        cpu = row["cpu_s"]
        events = row["events"]
        ctrl = cpu - row["sim_s"]
        per = _per_event_us(row["marks"])
        growth = "/".join(f"{per[m]:.0f}" if m in per else "-"
                          for m in (10_000, 100_000, 1_000_000))
        trials = f"{row['trials_done']:,}" + ("" if row["finished"] else "*")
        tpe = row.get("suggest_ms", {})
        tpe_text = "/".join(f"{tpe[k]:.1f}" if k in tpe else "-"
                            for k in ("1000", "10000", "100000")) if tpe else ""
        print(f"{row['combo']:<17}{row['workers']:>8,}{trials:>10}{events:>11,}"
              f"{cpu:>8.1f}{events / cpu:>8,.0f}{events / max(ctrl, 1e-9):>10,.0f}  "
              f"{growth:<22}{_bytes_per_trial(row):>8,.0f}{row['peak_rss'] / 2**20:>8,.0f}"
              f"{row['journal_bytes'] / max(1, row['reports']):>7.0f}"
              f"{row['journal_bytes'] / max(1, row['trials_done']):>9.0f}"
              f"{row['utilisation']:>6.2f}  {tpe_text}")
    if any(not row["finished"] for row in rows):
        print("* cut short at --max-cpu-s; numbers cover the trials reached")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="10^4 trials (TPE: 2,000) at 10/100/1,000 workers")
    parser.add_argument("--combos", default=",".join(COMBOS))
    parser.add_argument("--workers", default=None, help="comma-separated worker counts")
    parser.add_argument("--trials", type=int, default=None,
                        help="trials per run (default: 10^6 at 1,000 workers, else 10^5)")
    parser.add_argument("--max-cpu-s", type=float, default=None,
                        help="cut a run short after this much driver CPU time")
    parser.add_argument("--driver-time", action="store_true",
                        help="advance the virtual clock by the driver's CPU time too")
    parser.add_argument("--json", default=None, help="also write the raw numbers here")
    parser.add_argument("--tpe-suggest", default=None, metavar="N,N,...",
                        help="only time TPE.suggest at these history sizes (default and "
                             "max_history=None), with 1,000 trials pending")
    parser.add_argument("--gp-suggest", default=None, metavar="N,N,...",
                        help="only time GP.suggest at these history sizes (default and "
                             "max_history=None up to 1,000), with 10 trials pending")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.gp_suggest:  # the GP keeps its whole history: its cost grows with it
        from raysweep.search.gp import GP

        print(f"{'observations':>12}{'max_history':>13}{'median ms':>11}{'p90 ms':>9}")
        for size in (int(n) for n in args.gp_suggest.split(",")):
            for label, extra in (("500", {}), ("None", {"max_history": None})):
                if label == "None" and size > 1000:
                    continue  # tens of seconds per suggestion: not worth the wait
                row = tpe_suggest_ms(size, pending=10, calls=20, searcher_class=GP, **extra)
                print(f"{size:>12,}{label:>13}{row['median_ms']:>11.1f}{row['p90_ms']:>9.1f}",
                      flush=True)
        return
    if args.tpe_suggest:
        print(f"{'observations':>12}{'max_history':>13}{'median ms':>11}{'p90 ms':>9}")
        for size in (int(n) for n in args.tpe_suggest.split(",")):
            for label, extra in (("1000", {}), ("None", {"max_history": None})):
                row = tpe_suggest_ms(size, **extra)
                print(f"{size:>12,}{label:>13}{row['median_ms']:>11.1f}{row['p90_ms']:>9.1f}",
                      flush=True)
        return
    if args.one:  # child process: one measured run, JSON on stdout
        combo, workers, trials, max_cpu_s = args.one.split(":")
        row = run_one(combo, int(workers), int(trials), float(max_cpu_s), args.driver_time)
        print(json.dumps(row))
        return
    combos = [c.strip() for c in args.combos.split(",") if c.strip()]
    for combo in combos:
        if combo not in COMBOS:
            parser.error(f"--combos: {combo!r} is not one of {', '.join(COMBOS)}")
    workers = [int(w) for w in (args.workers or ("10,100,1000" if args.quick else
                                                 "10,100,1000,10000")).split(",")]
    max_cpu_s = args.max_cpu_s or (60.0 if args.quick else 900.0)
    rows = []
    for combo in combos:
        for count in workers:
            if args.trials:
                trials = args.trials
            elif args.quick:
                trials = 2_000 if combo.startswith("tpe") else 10_000
            else:
                trials = 1_000_000 if count == 1000 else 100_000
            command = [sys.executable, __file__, "--one", f"{combo}:{count}:{trials}:{max_cpu_s}"]
            if args.driver_time:
                command.append("--driver-time")
            print(f"[scale] {combo} at {count:,} workers, {trials:,} trials ...",
                  file=sys.stderr, flush=True)
            started = time.perf_counter()
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(output.strip().splitlines()[-1]))
            print(f"[scale]   {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    print_table(rows)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    main()
