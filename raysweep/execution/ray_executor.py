"""Old home of the Ray executor, kept so that existing imports work: the code now lives in
the package ``raysweep.execution.ray`` (one module per job)."""

from raysweep.execution.ray import (RayExecutor, Shared, ensure_ray, register_by_value,
                                    release_workers, share)

__all__ = ["RayExecutor", "Shared", "ensure_ray", "register_by_value", "release_workers",
           "share"]
