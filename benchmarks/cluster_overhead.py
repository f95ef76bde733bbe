"""Per-trial overhead on a real multi-node Ray cluster on this machine.

Starts a head node and a second node (``ray start --block``, one CPU each, token
authentication, a private temp dir) exactly as ``tests/test_cluster.py`` does, runs the sweeps
below from a driver process that joins the cluster with ``address=``, and stops both nodes
(SIGTERM to the ``ray start`` processes we started, then anything left that runs from our
temp dir). Nothing else on the machine is touched.

Measured in the driver (one trial per worker at a time, one worker per node):

* trivial trials (``(x - 3) ** 2``): wall ms per trial, first run (workers start) and second
  run (idle workers reused), and the driver's CPU ms per trial;
* 100 ms CPU-bound trials: parallel efficiency (ideal wall / measured wall);
* an iterative objective (2 trials x N ``rs.report`` calls): reports per second and driver
  CPU microseconds per report;
* ASHA over trials of 27 trivial epochs: every rung report waits for the driver's decision
  (a round trip), so this is the per-event cost of a scheduler that decides.

Driver CPU per event is what bounds how many workers one driver can feed: a driver that
spends ``c`` seconds of CPU per event keeps at most ``trial_s / (c * events_per_trial)``
workers busy with trials of ``trial_s`` seconds.

    python benchmarks/cluster_overhead.py            # 1,000 trivial trials, 100 x 100 ms
    python benchmarks/cluster_overhead.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

DRIVER = textwrap.dedent('''
    import json, os, sys, time
    import raysweep as rs

    spec = json.loads(sys.argv[1])

    def trivial(config):
        return (config["x"] - 3) ** 2

    def busy(config):
        end = time.perf_counter() + 0.1
        while time.perf_counter() < end:
            pass
        return config["x"]

    def chatty(config):
        for step in range(spec["reports"]):
            rs.report({"loss": config["x"] + step})

    def epochs(config):
        for step in range(27):
            rs.report({"loss": config["x"] + 1.0 / (step + 1)})

    def timed(objective, n, **kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        results = rs.run(objective, {"x": rs.uniform(-10, 10)}, metric="loss", mode="min",
                         num_samples=n, seed=0, verbose=0, address=spec["address"],
                         storage_path=spec["storage"], **kwargs)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert len(results) == n and set(results.dataframe().status) == {"TERMINATED"}
        return wall, cpu

    out = {}
    n = spec["trivial"]
    out["trivial_cold"] = timed(trivial, n)
    out["trivial_warm"] = timed(trivial, n)
    out["trivial_warm2"] = timed(trivial, n)
    out["busy"] = timed(busy, spec["busy"])
    out["chatty"] = timed(chatty, 2)
    asha = rs.schedulers.ASHA(max_t=27, grace_period=1, reduction_factor=3)
    out["asha"] = timed(epochs, spec["asha"], scheduler=asha, name="asha")
    out["asha_reports"] = len(rs.load(os.path.join(spec["storage"], "asha")).history())
    import ray
    out["nodes"] = len([node for node in ray.nodes() if node["Alive"]])
    out["cpus"] = ray.cluster_resources().get("CPU")
    with open(spec["out"], "w") as handle:
        json.dump(out, handle)
''')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalCluster:
    """Two ``ray start --block`` nodes on this machine, owned by this process."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="rs-ov-", dir="/tmp"))  # short: unix sockets
        self.temp_dir = self.root / "ray"
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN_PATH")}
        self.env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32),
                        RAY_USAGE_STATS_ENABLED="0")
        self.processes: list[subprocess.Popen] = []
        self.address = ""

    def _start(self, name: str, args: list[str]) -> None:
        log = self.root / f"{name}.log"
        command = ["ray", "start", "--block", "--node-ip-address=127.0.0.1",
                   "--disable-usage-stats", f"--temp-dir={self.temp_dir}", *args]
        with open(log, "wb") as out:
            process = subprocess.Popen(command, env=self.env, stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.processes.append(process)
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray start of node {name} failed:\n{log.read_text()}")
            time.sleep(0.2)

    def start(self) -> None:
        port = _free_port()
        self._start("head", ["--head", f"--port={port}", "--num-cpus=1",
                             "--include-dashboard=false"])
        self.address = f"127.0.0.1:{port}"
        self._start("node2", [f"--address={self.address}", "--num-cpus=1"])

    def stop(self) -> None:
        """SIGTERM our ``ray start`` processes (second node first), then whatever still runs
        from our temp dir; remove the temp dir (and with it the cluster's address record)."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        try:
            import psutil
        except ImportError:  # pragma: no cover - psutil comes with the bench extra
            psutil = None
        if psutil is not None:
            marker = str(self.temp_dir)
            leftovers = []
            for proc in psutil.process_iter(["cmdline"]):
                try:
                    if any(marker in part for part in proc.info["cmdline"] or ()):
                        leftovers.append(proc)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            for proc in leftovers:
                try:
                    proc.kill()
                except psutil.NoSuchProcess:
                    pass
            psutil.wait_procs(leftovers, timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    spec = {"trivial": 200 if args.quick else 1000, "busy": 20 if args.quick else 100,
            "reports": 500 if args.quick else 2000, "asha": 50 if args.quick else 300}
    cluster = LocalCluster()
    try:
        cluster.start()
        script = cluster.root / "driver.py"
        script.write_text(DRIVER)
        spec.update(address=cluster.address, storage=str(cluster.root / "results"),
                    out=str(cluster.root / "out.json"))
        proc = subprocess.run([sys.executable, str(script), json.dumps(spec)], env=cluster.env,
                              capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            raise SystemExit(f"driver failed:\n{proc.stdout}\n{proc.stderr[-6000:]}")
        out = json.loads(Path(spec["out"]).read_text())
    finally:
        cluster.stop()
    n, busy, reports = spec["trivial"], spec["busy"], 2 * spec["reports"]
    print(f"localhost cluster: {out['nodes']} nodes, {out['cpus']:g} CPUs (one worker each); "
          f"driver on the same machine")
    for key, label in (("trivial_cold", "trivial, first run"),
                       ("trivial_warm", "trivial, workers reused"),
                       ("trivial_warm2", "trivial, workers reused (again)")):
        wall, cpu = out[key]
        print(f"{label:<34} {n:>6} trials  {wall / n * 1e3:7.2f} ms/trial wall  "
              f"{cpu / n * 1e3:6.2f} ms/trial driver CPU")
    wall, cpu = out["busy"]
    ideal = busy * 0.1 / out["cpus"]
    print(f"{'100 ms CPU trials':<34} {busy:>6} trials  efficiency {ideal / wall:.2f} "
          f"(ideal {ideal:.1f} s, measured {wall:.1f} s)")
    wall, cpu = out["chatty"]
    print(f"{'iterative (2 trials)':<34} {reports:>6} reports {reports / wall:7.0f} reports/s  "
          f"{cpu / reports * 1e6:6.0f} us/report driver CPU (incl. start-up)")
    wall, cpu = out["asha"]
    reports, trials = out["asha_reports"], spec["asha"]
    print(f"{'ASHA, 27 trivial epochs':<34} {trials:>6} trials  {reports} reports, "
          f"{wall / trials * 1e3:.1f} ms/trial wall, {cpu / trials * 1e3:.2f} ms/trial and "
          f"{cpu / (reports + trials) * 1e6:.0f} us/event driver CPU")


if __name__ == "__main__":
    main()
