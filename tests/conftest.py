"""Shared fixtures: one local Ray session (num_cpus=2) for every test that needs Ray.

Every test that starts Ray (in this process or in a subprocess it launches) carries
``@pytest.mark.ray``, so ``pytest -m "not ray"`` runs without Ray. Tests that ask for the
``ray_session`` fixture are marked here as well, and a test without the marker that leaves Ray
running in this process fails, naming itself."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("RAY_DEDUP_LOGS", "0")


@pytest.fixture(scope="session")
def ray_session():
    """A real local Ray runtime shared by the whole test session; shut down at the end."""
    import ray

    started = False
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, address="local",
                 logging_level="WARNING")
        started = True
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture
def storage(tmp_path):
    """A fresh storage_path per test."""
    return str(tmp_path / "results")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "ray_session" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.ray)


def pytest_collection_finish(session):
    """mypy runs beside the suite (tests/test_typing.py waits for its report), started once
    the selection is final so a deselected type check starts nothing."""
    typing = [item for item in session.items if item.name == "test_package_type_checks_clean"]
    if typing and not typing[0].get_closest_marker("skipif").args[0]:
        session.config._raysweep_mypy = typing[0].module.start_mypy()


def _ray_running() -> bool:
    ray = sys.modules.get("ray")
    return ray is not None and ray.is_initialized()


@pytest.fixture(autouse=True)
def _ray_tests_are_marked(request):
    """A test that started Ray in this process must be marked ``ray`` (see the docstring)."""
    before = _ray_running()
    yield
    if not before and _ray_running() and request.node.get_closest_marker("ray") is None:
        pytest.fail(f"{request.node.nodeid} started Ray without @pytest.mark.ray", pytrace=False)
