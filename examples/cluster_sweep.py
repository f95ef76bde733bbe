"""The quickstart's SVM sweep, pointed at a Ray cluster.

The only difference from a laptop run is ``address``: ``"auto"`` joins the cluster this
machine belongs to (a head or worker node started with ``ray start``), ``"host:6379"`` a
given head node; the ``RAY_ADDRESS`` environment variable does the same without changing the
script (``ray job submit`` sets it for you). Trials spread over every node; checkpoints and
results come back to this driver and are written under ``--storage`` on this machine, so no
shared filesystem is needed. An autoscaling cluster adds nodes for work that waits: by
default the sweep asks for one more worker per queued trial; ``--max-concurrent N`` asks for
N at once. See cluster/README.md for starting a cluster (token auth included).

Run:
    python examples/cluster_sweep.py                      # RAY_ADDRESS, else address="auto"
    python examples/cluster_sweep.py --address 10.0.0.5:6379 --num-samples 200
    python examples/cluster_sweep.py --max-concurrent 64  # the autoscaler adds nodes for 64
    python examples/cluster_sweep.py --resource accelerator_type:A100=0.1   # custom resource
    RAY_ADDRESS=local python examples/cluster_sweep.py    # no cluster: a local Ray
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.svm import SVC

import raysweep as rs

STORAGE = os.environ.get("RAYSWEEP_EXAMPLES_DIR", os.path.expanduser("~/raysweep_results"))


def svc_error(config):
    X, y = load_digits(return_X_y=True)
    model = SVC(C=config["C"], gamma=config["gamma"], kernel=config["kernel"])
    return {"error": 1 - cross_val_score(model, X, y, cv=3).mean()}


def parse_resource(text: str) -> tuple[str, float]:
    name, sep, amount = text.rpartition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--resource must look like NAME=AMOUNT, got {text!r}")
    return name, float(amount)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="The quickstart SVM sweep on a Ray cluster.")
    parser.add_argument("--address", default=None,
                        help="Ray cluster address (default: $RAY_ADDRESS, else 'auto')")
    parser.add_argument("--num-samples", type=int, default=40)
    parser.add_argument("--cpus-per-trial", type=float, default=1.0)
    parser.add_argument("--max-concurrent", type=int, default=None,
                        help="trials at once (default: what the nodes there now hold); more "
                             "than that lets an autoscaling cluster add nodes for the rest")
    parser.add_argument("--resource", type=parse_resource, action="append", default=[],
                        metavar="NAME=AMOUNT", help="a custom resource every trial needs")
    parser.add_argument("--storage", default=STORAGE, help="where the experiment is written")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    address = args.address or os.environ.get("RAY_ADDRESS") or "auto"
    resources = {"cpu": args.cpus_per_trial, **dict(args.resource)}
    space = {"C": rs.loguniform(1e-2, 1e3), "gamma": rs.loguniform(1e-5, 1e-1),
             "kernel": ["rbf", "poly"]}
    try:
        results = rs.run(svc_error, space, metric="error", mode="min",
                         num_samples=args.num_samples, seed=0, address=address,
                         resources_per_trial=resources, max_concurrent=args.max_concurrent,
                         max_failures=2,
                         storage_path=args.storage,
                         name=f"cluster_sweep_{time.strftime('%Y%m%d-%H%M%S')}")
    except ConnectionError as exc:
        found_none = address == "auto" and "authenticate" not in str(exc)
        hint = ("\nNo Ray cluster was found on this machine: start one (cluster/README.md), "
                "pass --address HOST:PORT, or try the sweep on a local Ray with "
                "RAY_ADDRESS=local.") if found_none else ""
        sys.exit(f"cluster_sweep.py: {exc}{hint}")

    frame = results.dataframe()
    print(frame.sort_values("error").head(5)[
        ["trial_id", "error", "config/C", "config/gamma", "config/kernel"]]
        .to_string(index=False))
    if "node_id" in frame:
        per_node = frame.node_id.str[:12].value_counts()
        print("trials per node:", ", ".join(f"{node}: {n}" for node, n in per_node.items()))
    print(f"experiment directory (on this machine): {results.path}")


if __name__ == "__main__":
    main()
