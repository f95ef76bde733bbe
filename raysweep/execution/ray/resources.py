"""Resource shapes: a trial's ``resources_per_trial`` as Ray actor options, how many trials
fit on a node, and the demand a sweep signals to the cluster's autoscaler."""

from __future__ import annotations

import logging
import math
from typing import Any

logger = logging.getLogger("raysweep")


def _split_resources(resources: dict[str, float]) -> dict[str, Any]:
    options: dict[str, Any] = {"num_cpus": 0, "num_gpus": 0}
    custom: dict[str, float] = {}
    for key, amount in resources.items():
        lowered = key.lower()
        if lowered == "cpu":
            options["num_cpus"] = amount
        elif lowered == "gpu":
            options["num_gpus"] = amount
        elif lowered == "memory":
            options["memory"] = amount
        else:
            custom[key] = amount
    if custom:
        options["resources"] = custom
    return options


def _node_key(key: str) -> str:
    lowered = key.lower()
    return {"cpu": "CPU", "gpu": "GPU", "memory": "memory"}.get(lowered, key)


def _fits(node_resources: dict[str, float], resources: dict[str, float]) -> int:
    """How many trials with ``resources`` fit on a node with ``node_resources``."""
    count = math.inf
    for key, amount in resources.items():
        if amount <= 0:
            continue
        have = node_resources.get(_node_key(key), 0.0)
        count = min(count, math.floor(have / amount + 1e-9))
    return 10**6 if count is math.inf else int(count)


def capacity(resources: dict[str, float], *, total: bool) -> int:
    """How many trials with ``resources`` fit on the cluster: on all its live nodes
    (``total``) or in what is free now."""
    import ray  # noqa: PLC0415 - the arithmetic above needs no Ray

    if not total:
        return _fits(ray.available_resources(), resources)
    return sum(_fits(node["Resources"], resources) for node in ray.nodes() if node.get("Alive"))


def request_workers(resources: dict[str, float], wanted: int) -> None:
    """Ask the cluster's autoscaler, if it has one, for room for ``wanted`` trials with
    ``resources`` (0 withdraws the request). A cluster without one ignores it; a failure is
    only logged: this is a hint, never fatal."""
    bundle = {_node_key(key): amount for key, amount in resources.items() if amount > 0}
    try:
        from ray.autoscaler.sdk import request_resources  # noqa: PLC0415

        request_resources(bundles=[dict(bundle) for _ in range(wanted)])
    except Exception as exc:  # noqa: BLE001
        logger.debug("raysweep: could not ask the autoscaler for workers: %s", exc)
