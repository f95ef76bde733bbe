"""Reading and resuming a 10,000-trial experiment, against Optuna's JournalStorage.

Each measurement runs in a fresh Python process, so imports count, as they do for a user:
  * load:   ``rs.load(path).dataframe()``  vs  Optuna ``load_study`` + ``trials_dataframe``
  * resume: ``rs.run(..., resume=True, num_samples=N+1)`` until its first new trial starts
            (inline executor: the driver's own restore cost, no Ray start-up in the figure)
  * journaling cost per trial while the experiment is written (raysweep inline vs Optuna).

    python benchmarks/restore.py            # 10,000 trials
    python benchmarks/restore.py --quick    # 2,000 trials
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.dirname(__file__))

from _common import table  # noqa: E402

LOAD_RS = """
import time, sys
t0 = time.perf_counter()
import raysweep as rs
frame = rs.load(sys.argv[1]).dataframe()
assert len(frame) == int(sys.argv[2])
print(time.perf_counter() - t0)
"""

LOAD_OPTUNA = """
import time, sys
t0 = time.perf_counter()
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
storage = JournalStorage(JournalFileBackend(sys.argv[1]))
study = optuna.load_study(study_name="bench", storage=storage)
t1 = time.perf_counter()
frame = study.trials_dataframe()
assert len(frame) == int(sys.argv[2])
print(time.perf_counter() - t0, t1 - t0)
"""

RESUME_RS = """
import time, sys, os
t0 = time.perf_counter()
import raysweep as rs
first = []
def objective(config):
    if not first:
        first.append(time.perf_counter() - t0)
        print(first[0], flush=True)
        os._exit(0)
    return (config["x"] - 3) ** 2
rs.run(objective, {"x": rs.uniform(-10, 10)}, num_samples=int(sys.argv[3]) + 1, seed=0,
       name=os.path.basename(sys.argv[1]), storage_path=os.path.dirname(sys.argv[1]),
       resume=True, executor="inline", verbose=0)
"""


def python(code: str, *args: str) -> list[float]:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                         capture_output=True, text=True, check=True)
    return [float(x) for x in out.stdout.split()]


def best_of(runs: int, code: str, *args: str) -> list[float]:
    results = [python(code, *args) for _ in range(runs)]
    return min(results, key=lambda r: r[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 2000 if args.quick else 10000
    root = tempfile.mkdtemp(prefix="raysweep_restore_bench_")

    import optuna

    import raysweep as rs

    start = time.perf_counter()
    rs.run(lambda c: (c["x"] - 3) ** 2, {"x": rs.uniform(-10, 10)}, num_samples=n, seed=0,
           name="bench", storage_path=root, executor="inline", verbose=0)
    rs_write = (time.perf_counter() - start) / n
    path = os.path.join(root, "bench")

    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    journal = os.path.join(root, "optuna.log")
    storage = JournalStorage(JournalFileBackend(journal))
    study = optuna.create_study(study_name="bench", storage=storage)
    start = time.perf_counter()
    study.optimize(lambda t: (t.suggest_float("x", -10, 10) - 3) ** 2, n_trials=n)
    optuna_write = (time.perf_counter() - start) / n
    memory = optuna.create_study()
    start = time.perf_counter()
    memory.optimize(lambda t: (t.suggest_float("x", -10, 10) - 3) ** 2, n_trials=n)
    optuna_memory = (time.perf_counter() - start) / n

    rs_load = best_of(3, LOAD_RS, path, str(n))[0]
    op_total, op_load = best_of(3, LOAD_OPTUNA, journal, str(n))
    rs_resume = best_of(3, RESUME_RS, path, "", str(n))[0]
    size_rs = os.path.getsize(os.path.join(path, "journal.jsonl")) / 2**20
    size_op = os.path.getsize(journal) / 2**20
    print(f"# restore benchmark: {n} finished trivial trials")
    print(table("read an experiment back (fresh process, imports included)",
                ["system", "seconds", "journal MB"],
                [["raysweep rs.load(path).dataframe()", rs_load, size_rs],
                 ["Optuna load_study + trials_dataframe", op_total, size_op],
                 ["  (of which load_study)", op_load, ""]]))
    print(table("resume=True until the first new trial starts (fresh process, imports "
                "included, inline executor)", ["system", "seconds"],
                [["raysweep", rs_resume]]))
    print(table("journaling while the sweep runs (in-process, trivial objective)",
                ["system", "ms/trial"],
                [["raysweep (inline executor, journal on)", rs_write * 1000],
                 ["Optuna JournalStorage", optuna_write * 1000],
                 ["Optuna in memory", optuna_memory * 1000]]))


if __name__ == "__main__":
    main()
