"""Smoke test: every script in examples/ runs to the end as a user would run it.

Each example runs in a subprocess with ``RAY_ADDRESS=local`` (its own fresh local Ray, never
another cluster on the machine) and ``RAYSWEEP_EXAMPLES_DIR`` pointing at a temporary
storage dir, in its ``--quick`` form where it has one. ``resume.py`` is run as its two
documented commands, the first interrupted with SIGINT (what Ctrl-C sends).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# Extra command-line arguments per example; the rest get --quick.
ARGS = {
    "cluster_sweep": ["--num-samples", "6"],
    "sklearn_searchcv": [],
}
SEPARATE = {"resume"}  # tested by its own test below
# need PyTorch (not in the dev extra): tests/integrations/test_torch_examples.py, -m torch
TORCH = {"lightning_asha", "transformers_asha"}
TIMEOUT_S = 240

pytestmark = pytest.mark.timeout(TIMEOUT_S + 60)


def _env(storage: Path) -> dict[str, str]:
    env = dict(os.environ, RAY_ADDRESS="local", RAYSWEEP_EXAMPLES_DIR=str(storage),
               PYTHONUNBUFFERED="1")
    env.pop("RAY_AUTH_TOKEN", None)  # a local Ray makes its own
    return env


def _run(name: str, args: list[str], storage: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *args],
                          env=_env(storage), capture_output=True, text=True,
                          timeout=TIMEOUT_S, cwd=EXAMPLES.parent)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def _experiment_dirs(output: str, storage: Path) -> list[Path]:
    """The experiment directories an example says it wrote; all must be under ``storage``."""
    dirs = [Path(match) for match in
            re.findall(r"experiment directory[^:]*: (\S+)", output)]
    for path in dirs:
        assert path.is_relative_to(storage), f"{path} is outside {storage}"
        assert (path / "journal.jsonl").is_file(), f"{path} is not an experiment directory"
    return dirs


@pytest.mark.ray  # each example starts its own local Ray
@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.py")
                                        if p.stem not in SEPARATE | TORCH))
def test_example_runs(name, tmp_path):
    storage = tmp_path / "results"
    proc = _run(name, ARGS.get(name, ["--quick"]), storage)
    assert _experiment_dirs(proc.stdout, storage), proc.stdout[-3000:]


@pytest.mark.ray
def test_quickstart_as_the_readme_runs_it(tmp_path):
    """README command (1) on a fresh machine: no RAY_ADDRESS, no Ray token in the home
    directory, nothing running; raysweep starts its own local Ray."""
    storage = tmp_path / "results"
    env = _env(storage)
    for key in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        env.pop(key, None)
    env["HOME"] = str(tmp_path / "home")
    proc = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py"), "--quick"],
                          env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
                          cwd=EXAMPLES.parent)
    assert proc.returncode == 0, f"quickstart failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    assert _experiment_dirs(proc.stdout, storage), proc.stdout[-3000:]


def test_cluster_sweep_documented_commands_parse():
    """The commands in the docs and manifests are accepted by the script's own parser."""
    import importlib.util  # noqa: PLC0415

    spec = importlib.util.spec_from_file_location("cluster_sweep", EXAMPLES / "cluster_sweep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    parser = module.build_parser()
    args = parser.parse_args(["--resource", "accelerator_type:A100=0.1", "--resource",
                              "w_res=0.5", "--num-samples", "200", "--address", "10.0.0.5:6379"])
    assert dict(args.resource) == {"accelerator_type:A100": 0.1, "w_res": 0.5}
    assert (args.num_samples, args.address) == (200, "10.0.0.5:6379")
    with pytest.raises(SystemExit):
        parser.parse_args(["--resource", "no_amount"])


def _journal(path: Path) -> list[dict]:
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines[:-1] if line.strip()]  # the last may be torn


@pytest.mark.ray
def test_resume_example_is_interrupted_then_resumed(tmp_path):
    storage = tmp_path / "results"
    journal = storage / "resume_demo" / "journal.jsonl"
    first = subprocess.Popen([sys.executable, str(EXAMPLES / "resume.py"), "--fresh"],
                             env=_env(storage), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        # Interrupt once a trial has finished and another has a checkpoint it can resume from
        # (at most epoch 7 of 10, so it cannot finish before the signal lands).
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            events = _journal(journal)
            finished = {e["id"] for e in events if e["e"] == "s" and e["s"] == "TERMINATED"}
            latest = {e["id"]: e["r"]["training_iteration"] for e in events
                      if e["e"] == "r" and e.get("ck")}
            resumable = {i for i, epoch in latest.items() if epoch <= 7} - finished
            if finished and resumable:
                break
            assert first.poll() is None, first.stdout.read()
            assert time.monotonic() < deadline, "no trial finished in time"
            time.sleep(0.05)
        first.send_signal(signal.SIGINT)
        output, _ = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 130, output[-3000:]
    assert "Resume with" in output

    second = _run("resume", [], storage)
    counts = re.search(r"(\d+) trials, (\d+) of them continued from a checkpoint", second.stdout)
    assert counts, second.stdout[-3000:]
    assert int(counts.group(1)) == 12 and int(counts.group(2)) >= 1
    _experiment_dirs(second.stdout, storage)

    import raysweep as rs  # noqa: PLC0415

    results = rs.load(storage / "resume_demo")
    assert set(results.dataframe().status) == {"TERMINATED"}
    history = results.history()
    for trial_id in finished:  # finished before the interrupt: kept, not run again
        assert list(history[history.trial_id == trial_id].training_iteration) == \
            list(range(1, 11))
