"""The integrations' shared rules: a missing framework names its extra; argument checks."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

import raysweep
from raysweep.integrations._common import check_every, check_metrics, require


def test_a_missing_framework_is_an_import_error_naming_the_extra():
    with pytest.raises(ImportError, match=r"raysweep.integrations.xgboost needs "
                                          r"no_such_framework_xyz.*pip install "
                                          r"'raysweep\[xgboost\]'"):
        require("no_such_framework_xyz", "xgboost", "xgboost")


def test_importing_an_integration_without_its_framework_names_the_extra(tmp_path):
    # a stand-in that fails to import, first on the path: what a machine without it sees
    (tmp_path / "lightgbm.py").write_text("raise ImportError('No module named lightgbm')\n")
    code = "import raysweep.integrations.lightgbm"
    root = os.path.dirname(os.path.dirname(os.path.abspath(raysweep.__file__)))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{root}"})
    assert proc.returncode != 0
    assert "pip install 'raysweep[lightgbm]'" in proc.stderr, proc.stderr[-2000:]


@pytest.mark.parametrize("metrics, expected", [
    (None, None), ("loss", {"loss": "loss"}), (["a", "b"], {"a": "a", "b": "b"}),
    ({"loss": "valid-logloss"}, {"loss": "valid-logloss"}),
])
def test_metrics_forms(metrics, expected):
    assert check_metrics("X", metrics) == expected


@pytest.mark.parametrize("bad", [3, "", [], {}, ["a", 1], {"a": ""}, {1: "a"}])
def test_bad_metrics(bad):
    with pytest.raises(ValueError, match=rf"X: metrics must be .*got {re.escape(repr(bad))}"):
        check_metrics("X", bad)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
def test_bad_checkpoint_every(bad):
    with pytest.raises(ValueError, match=r"X: checkpoint_every must be None .* or an int >= 1"):
        check_every("X", bad)
