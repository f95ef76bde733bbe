"""The PyTorch examples (``examples/lightning_asha.py``, ``examples/transformers_asha.py``) run
to the end as a user runs them, in their ``--quick`` form, each with its own fresh local Ray.

They need PyTorch (~2.9 GB of wheels), so they carry the ``torch`` marker, deselected by
default, and ``tests/test_examples.py`` leaves them out: run them with
``pytest -m torch tests/integrations``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.torch, pytest.mark.timeout(400)]
pytest.importorskip("torch")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(name: str, tmp_path: Path) -> str:
    storage = tmp_path / "results"
    env = dict(os.environ, RAY_ADDRESS="local", RAYSWEEP_EXAMPLES_DIR=str(storage),
               PYTHONUNBUFFERED="1")
    env.pop("RAY_AUTH_TOKEN", None)  # a local Ray makes its own
    proc = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), "--quick"], env=env,
                          capture_output=True, text=True, timeout=340, cwd=EXAMPLES.parent)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    directory = re.search(r"experiment directory: (\S+)", proc.stdout)
    assert directory, proc.stdout[-3000:]
    assert Path(directory.group(1)).is_relative_to(storage)
    assert (Path(directory.group(1)) / "journal.jsonl").is_file()
    return proc.stdout


def _check_asha(output: str) -> None:
    """ASHA stopped trials early, and the best checkpoint scored on the test set."""
    epochs = re.search(r"(\d+) epochs in all, instead of (\d+)", output)
    assert epochs, output[-3000:]
    assert int(epochs.group(1)) < int(epochs.group(2))
    accuracy = re.search(r"test accuracy (\d\.\d+)", output)
    assert accuracy and float(accuracy.group(1)) > 0.5, output[-3000:]


def test_lightning_example(tmp_path):
    pytest.importorskip("lightning")
    _check_asha(_run("lightning_asha", tmp_path))


def test_transformers_example(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    _check_asha(_run("transformers_asha", tmp_path))
