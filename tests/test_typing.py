"""The package type-checks clean: py.typed is shipped, so the annotations are part of the API.

Runs mypy the way CI and a contributor do (``python -m mypy`` in the repo root, configured by
``[tool.mypy]`` in pyproject.toml), and prints mypy's report when it finds anything.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None,
    reason="mypy is not installed (it is in the dev extra)",
)


def start_mypy() -> subprocess.Popen:
    """Start mypy in the background (at niceness 19: it takes only CPU the tests leave idle).

    ``conftest.py`` calls this when the test below is collected, so the two minutes of CPU
    that a cold mypy run takes overlap the rest of the suite instead of adding to it."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--show-error-codes"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=lambda: os.nice(19),
    )


@pytest.mark.timeout(900)
def test_package_type_checks_clean(request):
    proc = getattr(request.config, "_raysweep_mypy", None) or start_mypy()
    report, _ = proc.communicate(timeout=880)
    errors = [line for line in report.splitlines() if ": error:" in line]
    assert proc.returncode == 0 and not errors, (
        f"mypy found {len(errors)} error(s) (exit {proc.returncode}):\n{report}"
    )
