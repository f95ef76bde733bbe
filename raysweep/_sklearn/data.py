"""The fit data, shipped to the workers once per ``fit`` (the only module here that uses Ray).

``LocalData`` just holds the data (in-process executors). ``RayData`` puts it in the Ray
object store once, in the driver; each worker process fetches it once (zero-copy for numpy
arrays on the same node) and keeps it for every candidate it evaluates.

The Ray executor ships the objective with ``ray.put``, so the reference travels in-band and
Ray tracks it. Anything else that pickles the objective with plain ``cloudpickle`` would lose
the owner of a bare ``ObjectRef`` (a worker's ``ray.get`` would then wait forever), so in that
case ``RayData`` pickles its reference out-of-band with Ray's own pickler, and Ray pins the
object until ``release()`` unpins it at the end of ``fit``.
"""

from __future__ import annotations

import logging
from typing import Any


logger = logging.getLogger("raysweep")


class LocalData:
    """The data itself, for executors that run in the driver's process."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def get(self) -> Any:
        return self._value

    def release(self) -> None:
        self._value = None


class RayData:
    """The data in the Ray object store: ``ray.put`` once, ``ray.get`` once per worker."""

    def __init__(self, value: Any) -> None:
        import ray

        self._ref = ray.put(value)
        self._pins = 0
        self._value: Any = None

    def get(self) -> Any:
        if self._value is None:
            import ray

            self._value = ray.get(self._ref)
        return self._value

    def __reduce__(self):
        import ray

        if _in_band(ray):
            return (_from_ref, (self._ref,))
        self._pins += 1  # Ray pins an object whose reference leaves its serializer
        return (_from_bytes, (ray.cloudpickle.dumps(self._ref),))

    def release(self) -> None:
        """Unpin the object (the driver's own reference goes with this handle)."""
        if self._pins:
            try:
                import ray

                core_worker = ray._private.worker.global_worker.core_worker
                for _ in range(self._pins):
                    core_worker.remove_object_ref_reference(self._ref)
            except Exception as exc:  # noqa: BLE001 - a private Ray API; worst case a leak
                logger.debug("raysweep.sklearn: could not unpin the fit data: %s", exc)
            self._pins = 0
        self._value = None


def _in_band(ray: Any) -> bool:
    try:
        context = ray._private.worker.global_worker.get_serialization_context()
        return bool(context.is_in_band_serialization())
    except Exception:  # noqa: BLE001 - private Ray API: assume the common, out-of-band case
        return False


def _from_ref(ref: Any) -> RayData:
    data = RayData.__new__(RayData)
    data._ref, data._pins, data._value = ref, 0, None
    return data


def _from_bytes(blob: bytes) -> RayData:
    import ray

    return _from_ref(ray.cloudpickle.loads(blob))


def ship_code_by_value(*objects: Any) -> None:
    """Let Ray workers unpickle user-defined estimators, scorers and splitters.

    Classes and functions are pickled by reference (module and name), and a worker cannot
    import a module that only the driver can see (a test file, a project module off the
    worker's path). Modules outside site-packages found among ``objects`` (recursively
    through estimator parameters, lists and dicts) are pickled by value instead, as raysweep
    already does for the objective's own module.
    """
    from raysweep.execution.ray_executor import _is_local_source, register_by_value

    seen: set[int] = set()
    modules: set[str] = set()

    def visit(value: Any, depth: int) -> None:
        if depth > 8 or id(value) in seen or value is None:
            return
        seen.add(id(value))
        if isinstance(value, (str, bytes, int, float, bool)):
            return
        if isinstance(value, dict):
            for item in value.values():
                visit(item, depth + 1)
            return
        if isinstance(value, (list, tuple, set)):
            for item in value:
                visit(item, depth + 1)
            return
        is_code = isinstance(value, type) or (callable(value) and hasattr(value, "__qualname__"))
        owner = value if is_code else type(value)
        for cls in getattr(owner, "__mro__", (owner,)):
            module = getattr(cls, "__module__", None)
            if module and module != "__main__" and _is_local_source(module):
                modules.add(module)
        get_params = getattr(value, "get_params", None)
        if callable(get_params) and not isinstance(value, type):
            try:
                visit(get_params(deep=False), depth + 1)
            except Exception:  # noqa: BLE001 - not a scikit-learn estimator after all
                pass

    for obj in objects:
        visit(obj, 0)
    for name in sorted(modules):
        register_by_value(name)
