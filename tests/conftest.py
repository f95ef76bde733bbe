"""Shared fixtures: one local Ray session (num_cpus=2) for every test that needs Ray."""

from __future__ import annotations

import os

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
