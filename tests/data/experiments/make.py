"""Writes the checked-in experiments of tests/test_journal_compat.py with a given release.

Run it with the release under test first on the path, e.g. (from the repository root)::

    PYTHONPATH=/path/to/old/raysweep python tests/data/experiments/make.py

Each experiment is run in a child process that SIGKILLs itself (``RAYSWEEP_CRASH_AT``) part
way through, so the directory holds finished, paused and unfinished trials, checkpoints and
(for PBT) forks: work for a resume to do. The objective is ``objective`` below; the test uses
the same function, so a resume continues exactly these trials.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# (name, durable action to die after)
EXPERIMENTS = (("asha_v1", 48), ("pbt_v1", 28))


def objective(config):
    import raysweep as rs

    state = rs.get_checkpoint() or {"it": 0, "acc": 0.0}
    it, acc = state["it"], state["acc"]
    while it < config["max_t"]:
        it += 1
        acc += 1.0 - abs(config["lr"] - 0.3)
        rs.report({"loss": -acc / it, "own_it": it}, checkpoint={"it": it, "acc": acc})


def curve(config, iteration):
    """The simulated executor's stand-in for ``objective`` (PBT needs trials side by side)."""
    acc = iteration * (1.0 - abs(config["lr"] - 0.3))
    return 1.0 + config["lr"], {"loss": -acc / iteration, "own_it": iteration}


def arguments(name: str) -> dict:
    """The run arguments of experiment ``name`` (the test resumes with the same)."""
    import raysweep as rs

    if name.startswith("asha"):
        scheduler = rs.schedulers.ASHA(max_t=4, grace_period=1, reduction_factor=2)
        samples = 6
        executor = "inline"
    else:
        scheduler = rs.schedulers.PBT(perturbation_interval=2,
                                      hyperparam_mutations={"lr": rs.uniform(0.0, 1.0)},
                                      quantile_fraction=0.34)
        samples = 4
        executor = rs.Simulated(workers=3, curve=curve, max_iterations=6,
                                checkpoints="blocking", seed=0, start_time=0.0)
    max_t = 4 if name.startswith("asha") else 6
    return dict(space={"lr": rs.uniform(0.0, 1.0), "max_t": max_t}, metric="loss", mode="min",
                num_samples=samples, scheduler=scheduler, seed=7, executor=executor,
                verbose=0, keep_checkpoints=1, name=name)


def _child(name: str, storage_path: str) -> None:
    import raysweep as rs

    rs.run(objective, storage_path=storage_path, **arguments(name))


def main() -> None:
    if len(sys.argv) == 3:  # the child
        _child(sys.argv[1], sys.argv[2])
        return
    for name, crash_at in EXPERIMENTS:
        target = os.path.join(HERE, name)
        shutil.rmtree(target, ignore_errors=True)
        env = dict(os.environ, RAYSWEEP_CRASH_AT=str(crash_at))
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), name, HERE], env=env,
                              check=False)
        print(name, "exit", proc.returncode)
        for leftover in (".lock", "results.csv"):
            path = os.path.join(target, leftover)
            if os.path.exists(path) and leftover == ".lock":
                os.unlink(path)


if __name__ == "__main__":
    main()
