"""Crash-point sweep: kill the driver right after each durable action of a sweep, resume,
and check that nothing was lost (see docs/guide/durability.md).

For k = 1, 2, ... a forked child runs the sweep with ``raysweep.storage._crash_at = k`` and
SIGKILLs itself right after its k-th durable action (a journal write, a checkpoint written
or deleted, a results snapshot, a file renamed into place). The experiment is then read with
``rs.load`` as it was left (a consistent prefix, or ``CorruptJournal``), and another child
resumes it to the end (``resume=True`` and ``rs.restore`` in turn), after which the
invariants are checked. k grows until a child completes the sweep without reaching k.

Children are forked from this process (imports are paid once, by the uninterrupted run that
gives the baseline); they use the inline executor.
Run it directly for the long version::

    python tests/crashpoints.py --long          # bigger sweeps, torn writes, killed resumes
    python tests/crashpoints.py fifo asha       # chosen schedulers, the CI sizes
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import traceback
from collections import Counter
from typing import Any

import raysweep as rs
from raysweep import storage
from raysweep.errors import CorruptJournal
from raysweep.trial import TrialStatus

LOG_ENV = "RAYSWEEP_CRASHPOINT_LOG"


def objective(config: dict[str, Any]) -> None:
    """Deterministic, fast, a checkpoint per report; it keeps its own iteration counter in
    the checkpoint and logs every report it makes to a side file (the ground truth)."""
    state = rs.get_checkpoint() or {"it": 0, "acc": 0.0}
    it, acc = state["it"], state["acc"]
    log = os.environ.get(LOG_ENV)
    trial_id = rs.get_trial_id()
    while it < config["max_t"]:
        it += 1
        acc += 1.0 - abs(config["lr"] - 0.3)
        if log:
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.write(fd, f"{trial_id} {it}\n".encode())
            os.close(fd)
        rs.report({"loss": -acc / it, "own_it": it, "lr_used": config["lr"]},
                  checkpoint={"it": it, "acc": acc})


def curve(config: dict[str, Any], iteration: int) -> tuple[float, dict[str, Any]]:
    """The simulated executor's stand-in for ``objective``: same metrics, virtual time."""
    acc = iteration * (1.0 - abs(config["lr"] - 0.3))
    return 1.0 + config["lr"], {"loss": -acc / iteration, "own_it": iteration,
                                "lr_used": config["lr"]}


def simulated(max_t: int) -> Any:
    return rs.Simulated(workers=3, curve=curve, max_iterations=max_t, checkpoints="blocking",
                        seed=0, start_time=0.0)


def sweep_args(scheduler: str, long: bool) -> dict[str, Any]:
    max_t = 6 if long else 4
    n = 6 if long else 3
    space = {"lr": rs.uniform(0.0, 1.0), "max_t": max_t}
    if scheduler == "fifo":
        sched: Any = "fifo"
    elif scheduler == "asha":
        sched = rs.schedulers.ASHA(max_t=max_t, grace_period=1, reduction_factor=2)
        n += 1
    elif scheduler == "hyperband":
        sched = rs.schedulers.Hyperband(max_t=max_t, reduction_factor=2)
        n += 1
    elif scheduler == "pbt":
        sched = rs.schedulers.PBT(perturbation_interval=2,
                                  hyperparam_mutations={"lr": rs.uniform(0.0, 1.0)},
                                  quantile_fraction=0.34)
    elif scheduler == "bohb":
        sched = rs.schedulers.BOHB(max_t=max_t, reduction_factor=2)
        n += 1
    else:
        raise ValueError(f"unknown scheduler {scheduler!r}")
    return dict(space=space, metric="loss", mode="min", num_samples=n, scheduler=sched, seed=7,
                executor="inline", verbose=0, keep_checkpoints=1)


def _in_child(crash_at: int | None, work) -> tuple[str, Any]:
    """Run ``work()`` in a forked child; ("killed"|"ok"|"error", detail)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        code = 0
        try:
            storage._crash_at = crash_at if crash_at is not None else 10 ** 12
            storage._durable_actions = 0
            work()
            os.write(write, json.dumps({"actions": storage._durable_actions}).encode())
        except BaseException:  # noqa: BLE001 - reported to the parent
            os.write(write, json.dumps({"error": traceback.format_exc()}).encode())
            code = 1
        os._exit(code)
    os.close(write)
    chunks = []
    while True:
        chunk = os.read(read, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        return "killed", None
    info = json.loads(b"".join(chunks) or b"{}")
    if "error" in info:
        return "error", info["error"]
    return "ok", info.get("actions")


class Harness:
    def __init__(self, scheduler: str, root: str, long: bool = False, torn: bool = False,
                 executor: str = "inline"):
        self.scheduler = scheduler
        self.root = root
        self.long = long
        self.torn = torn
        self.executor = executor
        self.double = False  # also kill the first resume (``--double``)
        self.args = sweep_args(scheduler, long)
        if executor == "simulated":  # 3 workers: trials interleave, at virtual speed
            self.args["num_samples"] += 3
        # The same configs as an uninterrupted run, for searchers whose proposals do not
        # depend on timing. BOHB's model learns from results: with parallel workers, what has
        # finished when it proposes a trial after the resume differs from the uninterrupted
        # run (the restarted trials are behind), so its later configs may differ (the
        # journaled ones never do: replay proposes each of them again).
        self.same_configs = not (executor == "simulated" and scheduler == "bohb")
        self.tried = 0
        self.violations: list[str] = []
        self.baseline: dict[str, dict] | None = None
        self.killed_configs: dict[str, dict] = {}  # the trials journaled before the kill

    # -- runs -------------------------------------------------------------------------
    def _args(self) -> dict[str, Any]:
        if self.executor == "simulated":
            return {**self.args, "executor": simulated(self.args["space"]["max_t"])}
        return self.args

    def _fresh(self, path: str):
        name, parent = os.path.basename(path), os.path.dirname(path)
        return lambda: rs.run(objective, name=name, storage_path=parent, **self._args())

    def _resume(self, path: str, use_restore: bool):
        name, parent = os.path.basename(path), os.path.dirname(path)
        if use_restore and os.path.isfile(os.path.join(path, storage.EXPERIMENT_FILE)):
            return lambda: rs.restore(path, objective, verbose=0,
                                      executor=self._args()["executor"])
        return lambda: rs.run(objective, name=name, storage_path=parent, resume=True,
                              **self._args())

    def run(self, max_points: int | None = None) -> None:
        base = os.path.join(self.root, f"{self.scheduler}-baseline")
        os.environ[LOG_ENV] = base + ".log"
        # in this process: it also imports everything, so the forked children start warm
        storage._crash_at = None
        self._fresh(base)()
        self.baseline = _new_configs(base)
        self._check_final(base, "baseline")
        k = 0
        storage._crash_torn = self.torn
        while max_points is None or k < max_points:
            k += 1
            path = os.path.join(self.root, f"{self.scheduler}-k{k}")
            os.environ[LOG_ENV] = path + ".log"
            kind, detail = _in_child(k, self._fresh(path))
            if kind == "ok":
                break  # the sweep completed before its k-th durable action
            self.tried += 1
            where = f"{self.scheduler} k={k}"
            if kind == "error":
                self.violations.append(f"{where}: the first run failed: {detail}")
                continue
            self._check_prefix(path, where)
            self.killed_configs = _new_configs(path) if os.path.isfile(
                os.path.join(path, storage.JOURNAL_FILE)) else {}
            if self.double:  # the resume is killed too, at a point of its own
                kind, detail = _in_child(k * 7 % 13 + 1, self._resume(path, k % 2 == 1))
                if kind == "error":
                    self.violations.append(f"{where}: the killed resume failed: {detail}")
                    continue
                if kind == "killed":
                    self.tried += 1
                    self._check_prefix(path, where + " (2nd kill)")
            kind, detail = _in_child(None, self._resume(path, use_restore=k % 2 == 0))
            if kind != "ok":
                self.violations.append(f"{where}: resume failed: {detail}")
                continue
            self._check_final(path, where)
            shutil.rmtree(path, ignore_errors=True)

    # -- invariants -------------------------------------------------------------------
    def _fail(self, where: str, text: str) -> None:
        self.violations.append(f"{where}: {text}")

    def _check_prefix(self, path: str, where: str) -> None:
        """rs.load right after the kill: a consistent prefix, or CorruptJournal."""
        if not os.path.isfile(os.path.join(path, storage.EXPERIMENT_FILE)):
            return  # killed before the experiment existed: nothing to read
        try:
            results = rs.load(path)
        except CorruptJournal:
            return
        except Exception as exc:  # noqa: BLE001
            self._fail(where, f"rs.load after the kill raised {type(exc).__name__}: {exc}")
            return
        for trial in results.trials:
            expected = (self.baseline or {}).get(trial.trial_id)
            if expected is None:
                self._fail(where, f"rs.load shows trial {trial.trial_id} that no run creates")
            result = trial.last_result
            if result and result.get("own_it") != result.get("training_iteration"):
                self._fail(where, f"rs.load: trial {trial.trial_id} training_iteration "
                           f"{result.get('training_iteration')} != own {result.get('own_it')}")

    def _check_final(self, path: str, where: str) -> None:
        results = rs.load(path)
        args = self.args
        if len(results) != args["num_samples"]:
            self._fail(where, f"{len(results)} trials, expected {args['num_samples']}")
        events = list(storage.read_journal(path))
        ends = Counter(e["id"] for e in events
                       if e["e"] == "s" and e["s"] in ("TERMINATED", "ERROR"))
        for trial in results.trials:
            tid = trial.trial_id
            if trial.status is not TrialStatus.TERMINATED:
                self._fail(where, f"trial {tid} ends {trial.status.value}: {trial.error}")
            if ends[tid] != 1:
                self._fail(where, f"trial {tid} completed {ends[tid]} times")
            last = trial.last_result or {}
            if last.get("own_it") != last.get("training_iteration"):
                self._fail(where, f"trial {tid}: final training_iteration "
                           f"{last.get('training_iteration')} != its own {last.get('own_it')}")
            if last.get("lr_used") != trial.config.get("lr"):
                self._fail(where, f"trial {tid}: final row has config lr={trial.config['lr']} "
                           f"but its result was produced with lr={last.get('lr_used')}")
            if self.scheduler == "fifo" and last.get("own_it") != args["space"]["max_t"]:
                self._fail(where, f"trial {tid} (FIFO) ended at {last.get('own_it')}")
        if self.baseline is not None:
            configs = _new_configs(path)
            if not self.same_configs:  # still: the trials created before the kill agree
                killed = self.killed_configs
                configs = {tid: c for tid, c in configs.items() if tid in killed}
                expected = {tid: c for tid, c in self.baseline.items() if tid in killed}
            else:
                expected = self.baseline
            if configs != expected:
                self._fail(where, "the trials' configs differ from an uninterrupted run's")
        self._check_history(path, events, where)

    def _check_history(self, path: str, events: list[dict], where: str) -> None:
        """Each trial's valid history (reports not superseded by a restart or fork) counts
        1, 2, 3, ... (a fork continues from the donor's iteration); every iteration the
        objective reported is in it unless the trial ended before that iteration."""
        rows: dict[str, list[int]] = {}
        before: dict[str, list[int]] = {}
        for event in events:
            kind, tid = event["e"], event.get("id")
            if kind == "new":
                rows[tid] = []
            elif kind == "r":
                it = event["r"].get("training_iteration")
                if event["r"].get("own_it") != it:
                    self._fail(where, f"trial {tid}: journaled iteration {it} != own "
                               f"{event['r'].get('own_it')}")
                expected = rows[tid][-1] + 1 if rows[tid] else None
                if expected is not None and it != expected:
                    self._fail(where, f"trial {tid}: journal jumps from iteration "
                               f"{rows[tid][-1]} to {it}")
                rows[tid].append(it)
            elif kind in ("restart", "fork"):
                keep = event.get("i", 0)
                if kind == "fork":
                    before[tid] = list(rows[tid])
                rows[tid] = [i for i in rows[tid] if i <= keep]
                if kind == "fork" and rows[tid][-1:] != [keep]:
                    rows[tid] = list(range(1, keep + 1))  # continues from the donor's
            elif kind == "unfork":  # the fork produced nothing: as before it
                rows[tid] = before.pop(tid)
        for tid, its in rows.items():
            if len(its) != len(set(its)):
                self._fail(where, f"trial {tid}: an iteration is journaled twice: {its}")
        try:
            with open(path + ".log", encoding="ascii") as handle:
                reported = [line.split() for line in handle if line.strip()]
        except FileNotFoundError:
            reported = []
        for tid, it in ((t, int(i)) for t, i in reported):
            its = rows.get(tid, [])
            if its and it <= its[-1] and it not in its:
                self._fail(where, f"trial {tid}: iteration {it} was reported but is in "
                           f"no journal (journaled: {its})")


def _new_configs(path: str) -> dict[str, dict]:
    return {e["id"]: e["c"] for e in storage.read_journal(path) if e["e"] == "new"}


def _fast_tmp() -> str | None:
    """tmpfs when there is one: a process kill loses nothing in the page cache, so fsync
    adds only time here."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


SCHEDULERS = ("fifo", "asha", "hyperband", "pbt", "bohb")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("schedulers", nargs="*", default=list(SCHEDULERS))
    parser.add_argument("--long", action="store_true", help="bigger sweeps, torn writes too")
    parser.add_argument("--executor", choices=("inline", "simulated", "both"), default="both")
    parser.add_argument("--double", action="store_true",
                        help="also kill the first resume, at a crash point of its own")
    parser.add_argument("--max-points", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the experiment directories")
    options = parser.parse_args(argv)
    root = tempfile.mkdtemp(prefix="raysweep-crashpoints-", dir=_fast_tmp())
    tried, violations = 0, []
    try:
        executors = ("inline", "simulated") if options.executor == "both" else \
            (options.executor,)
        for name in options.schedulers:
            for executor in executors:
                for torn in ((False, True) if options.long else (False,)):
                    where = os.path.join(root, executor, "torn" if torn else "clean")
                    harness = Harness(name, where, long=options.long, torn=torn,
                                      executor=executor)
                    harness.double = options.double or options.long
                    harness.run(options.max_points)
                    tried += harness.tried
                    violations += harness.violations
                    print(f"{name}, {executor}{', torn writes' if torn else ''}: crash points "
                          f"tried: {harness.tried}, violations: {len(harness.violations)}",
                          flush=True)
    finally:
        if not options.keep:
            shutil.rmtree(root, ignore_errors=True)
    for text in violations[:50]:
        print("VIOLATION", text)
    print(f"crash points tried: {tried}, violations: {len(violations)}")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
