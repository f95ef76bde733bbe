"""Everything that imports ray (the rest of raysweep never does), one module per job:

``connect``    join a Ray cluster or start a local Ray (``ensure_ray``)
``executor``   ``RayExecutor``: the pool of worker slots the controller drives
``actor``      the worker actor hosting the trial runtime
``pool``       idle workers kept between runs of one driver (``release_workers``)
``markers``    files saying which trial a dead worker was running
``shipping``   user code pickled by value (``register_by_value``)
``resources``  resource shapes, node capacity, autoscaler demand
``share``      ``share(obj)``: data in the object store, fetched once per worker
"""

from raysweep.execution.ray.connect import ensure_ray
from raysweep.execution.ray.executor import RayExecutor
from raysweep.execution.ray.pool import release_workers
from raysweep.execution.ray.share import Shared, share
from raysweep.execution.ray.shipping import register_by_value

__all__ = ["RayExecutor", "Shared", "ensure_ray", "register_by_value", "release_workers",
           "share"]
