"""Upstream scikit-learn tests: every test runs with the shared Ray session (the fits of
raysweep's classes run on it), and the excluded ones are strict xfails with their reason."""

from __future__ import annotations

import pytest
from upstream_harness import BASELINE, MAY_PASS, exclusion_reason

_FILES = {"test_upstream_search.py": "test_search.py",
          "test_upstream_successive_halving.py": "test_successive_halving.py"}


def pytest_configure(config):
    # scikit-learn's own marker (for pytest-run-parallel); unknown to us otherwise
    config.addinivalue_line("markers", "thread_unsafe: scikit-learn's marker, no effect here")


def pytest_collection_modifyitems(config, items):
    for item in items:
        ours = item.path.name
        if ours not in _FILES:
            continue
        item.add_marker(pytest.mark.ray)
        reason = None if BASELINE else exclusion_reason(_FILES[ours], item.name)
        if reason is not None:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=reason not in MAY_PASS))


@pytest.fixture(autouse=True)
def _shared_ray(request):
    """raysweep's search classes start Ray if it is not running: use the shared session."""
    if not BASELINE:
        request.getfixturevalue("ray_session")
