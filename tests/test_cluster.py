"""A real multi-node Ray cluster on localhost: spreading, custom resources, node loss, growth.

Every node is a ``ray start --block`` child process of this test module, started with
``--node-ip-address=127.0.0.1``, a dedicated ``--temp-dir`` and its own auth token
(``RAY_AUTH_MODE=token``, ``RAY_AUTH_TOKEN``). Stopping a node is a SIGTERM to that process
(Ray then tears down the node's raylet, GCS and workers); whatever is left is found by the
unique temp dir in its command line. The head records its address
(``ray_current_cluster``) inside that temp dir, never in ``/tmp/ray``, and the directory is
removed at the end, so no stale record is left behind for a later ``ray.init()``.

The sweeps run in a subprocess driver: a driver can be connected to one Ray at a time, and
the test session's own Ray (``ray_session``) is a different cluster.
"""

from __future__ import annotations

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
from dataclasses import dataclass
from pathlib import Path

import pytest

psutil = pytest.importorskip("psutil")

pytestmark = [pytest.mark.cluster, pytest.mark.ray, pytest.mark.timeout(180)]

_NODE_START_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class _Node:
    name: str
    process: subprocess.Popen
    log: Path

    def raylet_pid(self) -> int:
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                if child.name() == "raylet":
                    return child.pid
            except psutil.NoSuchProcess:
                continue
        raise RuntimeError(f"node {self.name}: no raylet process found")


class LocalCluster:
    """Ray nodes on this machine, each a ``ray start --block`` process we own."""

    def __init__(self) -> None:
        # Short path: Ray's unix sockets live under it (sun_path is limited to 107 bytes).
        self.root = Path(tempfile.mkdtemp(prefix="rs-cl-", dir="/tmp"))
        self.temp_dir = self.root / "ray"
        self.token = secrets.token_hex(32)
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN_PATH")}
        self.env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=self.token,
                        RAY_USAGE_STATS_ENABLED="0")
        # The GCS notices a killed node within ~3 s instead of up to a minute: until it does,
        # the node counts as alive and a sweep started meanwhile waits for workers there.
        self.env.update(RAY_health_check_period_ms="1000", RAY_health_check_timeout_ms="1000",
                        RAY_health_check_failure_threshold="3")
        self.nodes: list[_Node] = []
        self.address: str | None = None

    # -- nodes ------------------------------------------------------------------------------
    def _start(self, name: str, args: list[str]) -> _Node:
        log = self.root / f"{name}.log"
        env = dict(self.env, RAYSWEEP_TEST_NODE=name)
        command = ["ray", "start", "--block", "--node-ip-address=127.0.0.1",
                   "--disable-usage-stats", f"--temp-dir={self.temp_dir}", *args]
        with open(log, "wb") as out:
            process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
        node = _Node(name, process, log)
        self.nodes.append(node)
        deadline = time.monotonic() + _NODE_START_TIMEOUT_S
        while "Ray runtime started" not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray start of node {name} failed:\n{log.read_text()}")
            time.sleep(0.2)
        return node

    def start_head(self, num_cpus: int, resources: dict[str, float]) -> str:
        port = _free_port()
        self._start("head", ["--head", f"--port={port}", f"--num-cpus={num_cpus}",
                             f"--resources={json.dumps(resources)}",
                             "--include-dashboard=false"])
        self.address = f"127.0.0.1:{port}"
        return self.address

    def add_node(self, name: str, num_cpus: int, resources: dict[str, float]) -> _Node:
        return self._start(name, [f"--address={self.address}", f"--num-cpus={num_cpus}",
                                  f"--resources={json.dumps(resources)}"])

    def kill_raylet(self, node: _Node) -> None:
        """Crash a node the hard way: SIGKILL its raylet (``ray start`` then reaps the rest)."""
        os.kill(node.raylet_pid(), signal.SIGKILL)
        try:
            node.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.stop_node(node)

    def stop_node(self, node: _Node) -> None:
        if node.process.poll() is None:
            node.process.send_signal(signal.SIGTERM)
            try:
                node.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait(timeout=10)

    def processes(self) -> list:
        """Every process still running from our temp dir (only ours: the path is unique)."""
        marker = str(self.temp_dir)
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            try:
                if any(marker in part for part in proc.info["cmdline"] or ()):
                    found.append(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return found

    def assert_stopped(self) -> None:
        """After ``stop``: our temp dir (with any cluster record) is gone, and so is every
        process that ran from it."""
        assert not self.root.exists()
        survivors = []
        for proc in self.processes():
            try:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    survivors.append(proc)
            except psutil.NoSuchProcess:
                continue
        assert not survivors, f"node processes survived: {survivors}"

    def stop(self) -> None:
        """Stop our nodes (workers first), then anything still running from our temp dir."""
        for node in reversed(self.nodes):
            self.stop_node(node)
        leftovers = self.processes()
        for proc in leftovers:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(leftovers, timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- drivers ----------------------------------------------------------------------------
    def driver(self, script: str, spec: dict, *, env: dict[str, str] | None = None,
               timeout: float = 120.0, address: str | None = None) -> dict:
        """Run ``script`` (driver code) in a fresh Python process; return its JSON output.
        ``spec["address"]`` is ``address``, by default this cluster's."""
        path = self.root / f"driver_{secrets.token_hex(4)}.py"
        path.write_text(script)
        out = self.root / f"{path.stem}.json"
        spec = dict(spec, address=address or self.address, out=str(out))
        merged = dict(self.env)
        for key, value in (env or {}).items():  # None removes a variable
            merged.pop(key, None) if value is None else merged.__setitem__(key, value)
        proc = subprocess.run([sys.executable, str(path), json.dumps(spec)], env=merged,
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError(f"driver failed ({proc.returncode}):\n{proc.stdout}\n"
                                 f"{proc.stderr[-6000:]}")
        result = json.loads(out.read_text())
        result["_stderr"] = proc.stderr
        return result

    def start_driver(self, script: str, spec: dict) -> tuple[subprocess.Popen, Path]:
        path = self.root / f"driver_{secrets.token_hex(4)}.py"
        path.write_text(script)
        out = self.root / f"{path.stem}.json"
        spec = dict(spec, address=self.address, out=str(out))
        log = open(self.root / f"{path.stem}.log", "wb")  # noqa: SIM115 - closed by Popen's end
        proc = subprocess.Popen([sys.executable, str(path), json.dumps(spec)], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        return proc, out


# The driver: one iterative objective that checkpoints every step and reports where it ran
# (the node's name comes from the environment of its `ray start`). Runs rs.run once per entry
# of spec["runs"] and writes the dataframes and the cluster's nodes as JSON.
DRIVER = textwrap.dedent('''
    import json, os, sys, time
    import ray
    import raysweep as rs

    spec = json.loads(sys.argv[1])

    def train(config):
        state = rs.get_checkpoint() or {"step": 0}
        resumed_from = state["step"]
        node = os.environ.get("RAYSWEEP_TEST_NODE", "?")
        if spec.get("hold_file") and node != spec.get("hold_except"):
            deadline = time.time() + 90
            while not os.path.exists(spec["hold_file"]) and time.time() < deadline:
                time.sleep(0.05)
        for step in range(state["step"], spec["steps"]):
            time.sleep(spec["sleep_s"])
            if node == spec.get("signal_node") and step >= 1:
                open(os.path.join(spec["signal_dir"], f"{os.getpid()}-{step}"), "w").close()
            rs.report({"loss": config["x"] + step, "node": node, "resumed_from": resumed_from},
                      checkpoint={"step": step + 1})

    output = {"runs": []}
    for run in spec["runs"]:
        results = rs.run(train, {"x": rs.uniform(0, 1)}, metric="loss", mode="min",
                         num_samples=run["num_samples"], seed=0, verbose=0,
                         resources_per_trial=run.get("resources"),
                         max_failures=run.get("max_failures", 0),
                         storage_path=spec["storage"], name=run["name"],
                         address=spec["address"])
        frame = results.dataframe()
        output["runs"].append({"frame": json.loads(frame.to_json(orient="records")),
                               "history": json.loads(results.history().to_json(
                                   orient="records")),
                               "errors": results.errors})
    output["nodes"] = {n["NodeID"]: n["Resources"] for n in ray.nodes()}
    with open(spec["out"], "w") as handle:
        json.dump(output, handle)
''')


def _node_names(nodes: dict[str, dict]) -> dict[str, str]:
    """Map node id to node name by the custom resource each node was started with."""
    names = {}
    for node_id, resources in nodes.items():
        for name in ("head", "w1", "w2", "w3", "late"):
            if f"{name}_res" in resources:
                names[node_id] = name
    return names


def _journal(path: Path) -> list[dict]:
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines[:-1] if line.strip()]  # last may be torn


@pytest.fixture(scope="module")
def cluster():
    local = LocalCluster()
    try:
        local.start_head(num_cpus=1, resources={"head_res": 1})
        yield local
    finally:
        local.stop()
    local.assert_stopped()  # with the temp dir, the head's ray_current_cluster record


def test_head_address_is_recorded_only_in_our_temp_dir(cluster):
    recorded = cluster.temp_dir / "ray_current_cluster"
    assert recorded.read_text().strip().endswith(cluster.address.rsplit(":", 1)[1])
    default = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    if default.exists():  # another cluster's record (not ours) may legitimately be there
        assert default.read_text().strip() != recorded.read_text().strip()


def test_custom_resources_pin_trials_to_the_node_that_has_them(cluster, tmp_path):
    node = cluster.add_node("w1", num_cpus=2, resources={"w1_res": 1})
    try:
        out = cluster.driver(DRIVER, {
            "steps": 2, "sleep_s": 0.05, "storage": str(tmp_path),
            "runs": [
                {"name": "on_w1", "num_samples": 6, "resources": {"cpu": 1, "w1_res": 0.5}},
                {"name": "on_head", "num_samples": 3, "resources": {"cpu": 1, "head_res": 1}},
            ]})
    finally:
        cluster.stop_node(node)
    names = _node_names(out["nodes"])
    on_w1, on_head = (run["frame"] for run in out["runs"])
    assert {row["status"] for row in on_w1 + on_head} == {"TERMINATED"}
    assert {names[row["node_id"]] for row in on_w1} == {"w1"}
    assert {row["node"] for row in on_w1} == {"w1"}
    assert {names[row["node_id"]] for row in on_head} == {"head"}
    assert {row["node"] for row in on_head} == {"head"}


def test_pool_grows_when_a_node_joins(cluster, tmp_path):
    # Trials on the head hold until a trial has run on the node that joins later (or 90 s),
    # so the sweep is still going when that node arrives, however slow this machine is.
    hold = tmp_path / "release"
    driver, out = cluster.start_driver(DRIVER, {
        "steps": 2, "sleep_s": 0.1, "storage": str(tmp_path), "hold_file": str(hold),
        "hold_except": "late", "runs": [{"name": "grow", "num_samples": 8}]})
    journal = tmp_path / "grow" / "journal.jsonl"
    node = None
    try:
        deadline = time.monotonic() + 60
        while not any(e["e"] == "new" for e in _journal(journal)):  # the pool is set up
            assert driver.poll() is None and time.monotonic() < deadline, \
                "sweep did not start:\n" + out.with_suffix(".log").read_text(errors="replace")
            time.sleep(0.05)
        node = cluster.add_node("late", num_cpus=2, resources={"late_res": 1})
        deadline = time.monotonic() + 60
        while not any(e["e"] == "r" and e["r"].get("node") == "late"
                      for e in _journal(journal)):
            if driver.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        hold.touch()
        driver.wait(timeout=120)
    finally:
        hold.touch()
        if driver.poll() is None:
            driver.kill()
        if node is not None:
            cluster.stop_node(node)
    log = out.with_suffix(".log").read_text(errors="replace")
    assert driver.returncode == 0, log[-6000:]
    frame = json.loads(out.read_text())["runs"][0]["frame"]
    assert {row["status"] for row in frame} == {"TERMINATED"}
    assert "late" in {row["node"] for row in frame}, "no trial ran on the node that joined"


def _sweep_with_a_doomed_node(cluster, tmp_path, node_name: str, steps: int, run: dict):
    """Add node ``node_name``, start a sweep (``run``) from a driver process, and wait until
    a trial has finished and another is mid-way on that node: the moment to kill it.
    Returns ``(node, driver, out, journal, events so far)``."""
    node = cluster.add_node(node_name, num_cpus=2, resources={f"{node_name}_res": 1})
    signal_dir = tmp_path / "signals"
    signal_dir.mkdir()
    driver, out = cluster.start_driver(DRIVER, {
        "steps": steps, "sleep_s": 0.15, "storage": str(tmp_path), "signal_node": node_name,
        "signal_dir": str(signal_dir), "runs": [run]})
    journal = tmp_path / run["name"] / "journal.jsonl"
    try:
        events = _wait_for_kill_point(journal, signal_dir, driver, node_name)
    except BaseException:
        driver.kill()
        driver.wait(timeout=30)
        raise
    return node, driver, out, journal, events


def _wait_for_kill_point(journal, signal_dir, driver, node: str) -> list[dict]:
    """The journal's events once a trial has finished and another is mid-way on ``node``
    (it leaves a file in ``signal_dir``) with a checkpoint the driver has journaled (so the
    node's loss must restart it from that checkpoint, not from scratch; without waiting for
    the journal, a driver slowed by load may not have received the checkpoint yet): the
    moment to kill that node."""
    deadline = time.monotonic() + 90
    while True:
        events = _journal(journal)
        done = {e["id"] for e in events if e["e"] == "s" and e["s"] == "TERMINATED"}
        checkpointed_there = any(
            e["e"] == "r" and e.get("ck") and e["r"].get("node") == node and e["id"] not in done
            for e in events)
        if done and checkpointed_there and any(signal_dir.iterdir()):
            return events
        assert driver.poll() is None, "the sweep ended before the node could be killed"
        assert time.monotonic() < deadline, f"no trial finished / reached {node} in time"
        time.sleep(0.05)


def test_sweep_spreads_and_survives_losing_a_node(cluster, tmp_path):
    steps, num_samples = 8, 10
    # w2 is killed once a trial has finished and another is mid-way on it
    node, driver, out, journal, events = _sweep_with_a_doomed_node(
        cluster, tmp_path, "w2", steps,
        {"name": "spread", "num_samples": num_samples, "max_failures": 2})
    try:
        finished_before = {e["id"]: e for e in events
                           if e["e"] == "s" and e["s"] == "TERMINATED"}
        cluster.kill_raylet(node)
        driver.wait(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
        cluster.stop_node(node)
    log = out.with_suffix(".log").read_text(errors="replace")
    assert driver.returncode == 0, log[-6000:]
    result = json.loads(out.read_text())
    names = _node_names(result["nodes"])
    frame = result["runs"][0]["frame"]
    history = result["runs"][0]["history"]

    # Every trial ends TERMINATED with its full, correct result; nothing is missing.
    assert len(frame) == num_samples
    assert {row["status"] for row in frame} == {"TERMINATED"}
    for row in frame:
        assert row["training_iteration"] == steps
        assert row["loss"] == pytest.approx(row["config/x"] + steps - 1)
    # Trials ran on both nodes (node ids from the executor; the dead node may have left
    # the node table by the time the driver lists it).
    head_id = next(node_id for node_id, name in names.items() if name == "head")
    ran_on = {"head" if row["node_id"] == head_id else "w2" for row in frame}
    assert ran_on == {"head", "w2"}
    for row in frame:
        if row["resumed_from"] == 0:  # never moved: the executor's node is where it ran
            assert ("head" if row["node_id"] == head_id else "w2") == row["node"]
    assert "w2" in {row["node"] for row in history}
    # The node loss made at least one trial restart from a checkpoint, not from scratch.
    restarts = [e for e in _journal(journal) if e["e"] == "restart"]
    assert restarts, "no trial was lost with the node"
    assert any(row["resumed_from"] > 0 for row in frame)
    # Trials that had finished before the node died were not run again.
    for trial_id in finished_before:
        reports = [row for row in history if row["trial_id"] == trial_id]
        assert [row["training_iteration"] for row in reports] == list(range(1, steps + 1))


def test_losing_a_node_without_retries_ends_only_its_trials_in_error(cluster, tmp_path):
    # max_failures=0 (the default, as in Ray Tune): a trial lost with its node is not retried.
    # Trials that never touched the node, and trials that finished before it died, are not
    # affected; the sweep runs to the end on the head.
    steps, num_samples = 8, 8
    node, driver, out, journal, events = _sweep_with_a_doomed_node(
        cluster, tmp_path, "w3", steps,
        {"name": "no_retry", "num_samples": num_samples, "max_failures": 0})
    try:
        finished_before = {e["id"] for e in events if e["e"] == "s" and e["s"] == "TERMINATED"}
        cluster.kill_raylet(node)
        driver.wait(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
        cluster.stop_node(node)
    log = out.with_suffix(".log").read_text(errors="replace")
    assert driver.returncode == 0, log[-6000:]
    result = json.loads(out.read_text())
    run = result["runs"][0]
    frame, history, errors = run["frame"], run["history"], run["errors"]
    head_id = next(i for i, name in _node_names(result["nodes"]).items() if name == "head")

    assert len(frame) == num_samples
    assert {row["status"] for row in frame} <= {"TERMINATED", "ERROR"}
    nodes_of = {row["trial_id"]: set() for row in frame}
    for row in history:
        nodes_of[row["trial_id"]].add(row["node"])
    for row in frame:
        if row["status"] == "TERMINATED":  # complete and correct, wherever it ran
            assert row["training_iteration"] == steps
            assert row["loss"] == pytest.approx(row["config/x"] + steps - 1)
        else:  # lost with w3 (maybe before its first report), and says why
            assert row["node_id"] != head_id and nodes_of[row["trial_id"]] <= {"w3"}, row
            assert (row["training_iteration"] or 0) < steps
            assert "max_failures=0" in errors[row["trial_id"]], errors
        if nodes_of[row["trial_id"]] == {"head"}:
            assert row["status"] == "TERMINATED", row
    assert set(errors) == {row["trial_id"] for row in frame if row["status"] == "ERROR"}
    for trial_id in finished_before:  # kept as they were, not run again
        assert next(r for r in frame if r["trial_id"] == trial_id)["status"] == "TERMINATED"
        reports = [row for row in history if row["trial_id"] == trial_id]
        assert [row["training_iteration"] for row in reports] == list(range(1, steps + 1))


AUTH_DRIVER = textwrap.dedent('''
    import json, sys
    import raysweep as rs

    spec = json.loads(sys.argv[1])
    try:
        rs.run(lambda config: config["x"], {"x": rs.uniform(0, 1)}, num_samples=1, verbose=0,
               storage_path=spec["storage"], address=spec["address"])
        outcome = {"error": None}
    except Exception as exc:  # noqa: BLE001
        outcome = {"error": type(exc).__name__, "message": str(exc)}
    with open(spec["out"], "w") as handle:
        json.dump(outcome, handle)
''')


@pytest.mark.parametrize("case", [
    "token_missing",
    "token_wrong",
    "mode_unset",
])
def test_a_driver_that_cannot_authenticate_gets_a_clear_error(cluster, tmp_path, case):
    home = tmp_path / "home"  # no ~/.ray/auth_token here
    home.mkdir()
    env = {"HOME": str(home), "RAY_gcs_server_port_wait_time_s": "2"}
    if case == "token_missing":
        env["RAY_AUTH_TOKEN"] = None
    elif case == "token_wrong":
        env["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    else:
        env["RAY_AUTH_MODE"] = None  # the right token is there, but not presented
    outcome = cluster.driver(AUTH_DRIVER, {"storage": str(tmp_path)}, env=env, timeout=90)
    assert outcome["error"] == "ConnectionError", outcome
    assert "RAY_AUTH_MODE=token" in outcome["message"]
    assert "RAY_AUTH_TOKEN" in outcome["message"]


WHERE_DRIVER = textwrap.dedent('''
    import json, sys
    import ray
    import raysweep as rs

    spec = json.loads(sys.argv[1])
    results = rs.run(lambda config: config["x"], {"x": rs.uniform(0, 1)}, num_samples=2,
                     verbose=0, storage_path=spec["storage"],
                     address=spec.get("use_address"))   # default: no address
    with open(spec["out"], "w") as handle:
        json.dump({"status": sorted(set(results.dataframe().status)),
                   "resources": ray.cluster_resources()}, handle)
''')


def test_no_address_joins_the_recorded_cluster_or_a_fresh_local_ray(cluster, tmp_path):
    # Our head recorded its address in <temp dir>/ray_current_cluster; with RAY_TMPDIR
    # pointing there, that record is the one a bare rs.run() reads.
    joined = cluster.driver(WHERE_DRIVER, {"storage": str(tmp_path)},
                            env={"RAY_TMPDIR": str(cluster.temp_dir.parent)})
    assert joined["status"] == ["TERMINATED"]
    assert "head_res" in joined["resources"]

    # A record whose head is gone (nothing listens on its port): a fresh local Ray, one warning.
    stale_tmp = cluster.root / "stale"
    (stale_tmp / "ray").mkdir(parents=True)
    (stale_tmp / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{_free_port()}")
    fresh = cluster.driver(WHERE_DRIVER, {"storage": str(tmp_path)},
                           env={"RAY_TMPDIR": str(stale_tmp)})
    assert fresh["status"] == ["TERMINATED"]
    assert "head_res" not in fresh["resources"]
    assert fresh["_stderr"].count("is gone; starting a local Ray") == 1, fresh["_stderr"]


@pytest.mark.parametrize("use_address", [None, "auto"])
def test_ray_address_selects_the_cluster(cluster, tmp_path, use_address):
    # RAY_ADDRESS names our cluster; the temp dir holds no record, so only the variable can
    # lead the driver there (address=None and address="auto" both follow it, as in Ray).
    empty_tmp = tmp_path / "raytmp"
    empty_tmp.mkdir()
    out = cluster.driver(WHERE_DRIVER, {"storage": str(tmp_path), "use_address": use_address},
                         env={"RAY_ADDRESS": cluster.address, "RAY_TMPDIR": str(empty_tmp)})
    assert out["status"] == ["TERMINATED"]
    assert "head_res" in out["resources"]
    assert "is gone" not in out["_stderr"]

