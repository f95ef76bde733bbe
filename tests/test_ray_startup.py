"""The Ray a local sweep starts: it says so at once, keeps Ray's notices out of the console
and listens on the loopback interface only (a laptop sweep needs no outside listener)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

psutil = pytest.importorskip("psutil")

CHILD = textwrap.dedent("""
    import json, os, sys
    import psutil
    import raysweep as rs

    results = rs.run(lambda c: c["x"] ** 2, {"x": rs.uniform(-1, 1)}, num_samples=4, seed=1,
                     storage_path=sys.argv[1], verbose=1)
    listening = []
    for process in psutil.Process().children(recursive=True):
        try:
            connections = process.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        listening += [[process.name(), c.laddr.ip, c.laddr.port] for c in connections
                      if c.status == psutil.CONN_LISTEN]
    print("RESULT " + json.dumps({"trials": len(results), "listening": listening}), flush=True)
""")


@pytest.mark.ray
def test_a_local_sweep_announces_ray_and_listens_on_loopback_only(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE")}
    env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), env.get("PYTHONPATH", "")])
    env["RAYSWEEP_PROGRESS"] = "plain"
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(next(line for line in done.stdout.splitlines()
                             if line.startswith("RESULT "))[len("RESULT "):])
    assert result["trials"] == 4
    # the first things on screen say what is happening, before Ray's seconds of start-up
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[0] == "[raysweep] loading Ray ...", done.stderr
    assert lines[1].startswith("[raysweep] starting Ray: ") and "CPU" in lines[1], done.stderr
    assert lines[2].startswith("[raysweep] Ray is up ("), done.stderr
    assert "Token authentication is enabled" not in done.stderr + done.stdout
    # the GCS, the raylet and the workers: all on loopback
    names = {name for name, _, _ in result["listening"]}
    assert {"gcs_server", "raylet"} <= names, result
    outside = [entry for entry in result["listening"]
               if entry[1] not in ("127.0.0.1", "::ffff:127.0.0.1", "::1")]
    assert not outside, outside
