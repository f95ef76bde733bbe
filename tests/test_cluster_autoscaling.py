"""Autoscaling on localhost: Ray's own autoscaler launches nodes while a sweep runs.

The head is a ``ray start --head --autoscaling-config=...`` of Ray's ``fake_multinode``
provider (``RAY_FAKE_CLUSTER=1``): the autoscaler is the real one, and the nodes it launches
are real raylets on this machine, so trials really run on them. Everything lives under the
test's own ``--temp-dir`` and is stopped by it (``LocalCluster`` from ``test_cluster``).

An autoscaler only adds nodes for resource demand that waits: a sweep must ask for more
workers than the cluster has now (``max_concurrent``), and its pool then grows onto the nodes
as they join.
"""

from __future__ import annotations

import json
import textwrap
import time

import pytest

from test_cluster import LocalCluster, _free_port

pytest.importorskip("psutil")  # LocalCluster finds its node processes with it

pytestmark = [pytest.mark.cluster, pytest.mark.ray, pytest.mark.timeout(240)]

WORKER_TYPE = {"resources": {"CPU": 2, "auto_res": 1}, "node_config": {},
               "min_workers": 0, "max_workers": 2}


def _autoscaling_config(gcs_address: str) -> dict:
    return {
        "cluster_name": "raysweep-fake", "max_workers": 2, "upscaling_speed": 1.0,
        "idle_timeout_minutes": 5,
        "provider": {"type": "fake_multinode", "use_node_id_as_ip": True,
                     "disable_node_updaters": True, "disable_launch_config_check": True,
                     "gcs_address": gcs_address},
        "available_node_types": {
            "ray.head.default": {"resources": {"CPU": 1, "head_res": 1}, "node_config": {},
                                 "max_workers": 0},
            "ray.worker.cpu": WORKER_TYPE},
        "head_node_type": "ray.head.default", "auth": {"ssh_user": "ubuntu"}, "docker": {},
        "file_mounts": {}, "cluster_synced_files": [], "file_mounts_sync_continuously": False,
        "rsync_exclude": [], "rsync_filter": [], "initialization_commands": [],
        "setup_commands": [], "head_setup_commands": [], "worker_setup_commands": [],
        "head_start_ray_commands": [], "worker_start_ray_commands": []}


@pytest.fixture(scope="module")
def autoscaling():
    local = LocalCluster()
    local.env.update(RAY_FAKE_CLUSTER="1", AUTOSCALER_UPDATE_INTERVAL_S="1")
    try:
        port = _free_port()
        address = f"127.0.0.1:{port}"
        config = local.root / "autoscaling.json"
        config.write_text(json.dumps(_autoscaling_config(address)))
        local._start("head", ["--head", f"--port={port}", "--num-cpus=1",
                              '--resources={"head_res": 1}', "--include-dashboard=false",
                              f"--autoscaling-config={config}"])
        local.address = address
        yield local
    finally:
        local.stop()   # the launched nodes run from our temp dir too: stopped with the rest
    local.assert_stopped()


# Trials on the head wait (up to 45 s after the driver started) until one has run on a
# launched node, so the sweep is still asking for workers when the nodes come up, however
# slow the machine. Writes the per-trial node ids and the cluster's nodes as JSON.
DRIVER = textwrap.dedent('''
    import json, os, sys, time
    import ray
    import raysweep as rs

    spec = json.loads(sys.argv[1])
    started = time.time()
    ray.init(address=spec["address"])
    head = next(n["NodeID"] for n in ray.nodes() if "head_res" in n["Resources"])
    release = spec["release"]

    def train(config):
        if ray.get_runtime_context().get_node_id() == head:
            while not os.path.exists(release) and time.time() < started + 45:
                time.sleep(0.05)
        else:
            open(release, "w").close()
        time.sleep(0.3)
        return {"loss": config["x"]}

    results = rs.run(train, {"x": rs.uniform(0, 1)}, metric="loss", mode="min",
                     num_samples=spec["num_samples"], max_concurrent=spec["max_concurrent"],
                     seed=0, verbose=0, storage_path=spec["storage"], name=spec["name"],
                     address=spec["address"], time_budget_s=150)
    frame = results.dataframe()
    with open(spec["out"], "w") as handle:
        json.dump({"status": sorted(set(frame.status)), "trials": len(frame),
                   "node_ids": sorted(set(frame.node_id)), "head": head,
                   "launched": [n["NodeID"] for n in ray.nodes()
                                if n["Alive"] and "auto_res" in n["Resources"]]}, handle)
''')


def _sweep(cluster: LocalCluster, tmp_path, name: str, max_concurrent: int | None) -> dict:
    return cluster.driver(DRIVER, {
        "storage": str(tmp_path), "name": name, "num_samples": 10,
        "max_concurrent": max_concurrent, "release": str(tmp_path / f"{name}.release")},
        timeout=200)


# First in this module: no node has been launched yet, so only demand could bring one.
def test_default_sweep_gives_the_autoscaler_demand(autoscaling, tmp_path):
    """With max_concurrent unset the pool fits the nodes there are; the trials queued on it
    are asked of the autoscaler (request_resources), which launches a node for them."""
    out = _sweep(autoscaling, tmp_path, "default", max_concurrent=None)
    assert out["status"] == ["TERMINATED"]
    assert set(out["node_ids"]) - {out["head"]}, "no trial ran on a launched node"


def test_pool_grows_onto_nodes_the_autoscaler_launches(autoscaling, tmp_path):
    started = time.monotonic()
    out = _sweep(autoscaling, tmp_path, "asks_for_more", max_concurrent=5)
    assert out["status"] == ["TERMINATED"] and out["trials"] == 10
    assert out["launched"], "the autoscaler launched no node"
    assert set(out["node_ids"]) - {out["head"]}, "no trial ran on a launched node"
    assert set(out["node_ids"]) <= {out["head"], *out["launched"]}
    assert time.monotonic() - started < 150
