"""``share(obj)``: a large read-only value (a data set) put in Ray's object store once, in
the driver, and fetched once by each worker process that uses it (zero-copy for numpy arrays
on the same node), which then keeps it for every trial it runs.

The Ray executor ships the objective with ``ray.put``, so a ``Shared`` inside it travels
in-band and Ray tracks the reference. Anything else that pickles it with plain
``cloudpickle`` would lose the owner of a bare ``ObjectRef`` (a worker's ``ray.get`` would
then wait forever), so then the reference is pickled out-of-band with Ray's own pickler, and
Ray pins the object until ``release()`` unpins it.
"""

from __future__ import annotations

import logging
from typing import Any

import ray

logger = logging.getLogger("raysweep")


def share(value: Any) -> Shared:
    """Put ``value`` in the object store; the handle's ``get()`` returns it anywhere."""
    return Shared(value)


class Shared:
    """A value in Ray's object store: ``ray.put`` once, ``ray.get`` once per process."""

    def __init__(self, value: Any) -> None:
        self._ref = ray.put(value)
        self._pins = 0
        self._value: Any = None

    def get(self) -> Any:
        if self._value is None:
            self._value = ray.get(self._ref)
        return self._value

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        if _in_band():
            return (_from_ref, (self._ref,))
        self._pins += 1  # Ray pins an object whose reference leaves its serializer
        return (_from_bytes, (ray.cloudpickle.dumps(self._ref),))

    def release(self) -> None:
        """Unpin the object (the driver's own reference goes with this handle)."""
        if self._pins:
            try:
                worker: Any = ray._private.worker.global_worker
                core_worker = worker.core_worker
                for _ in range(self._pins):
                    core_worker.remove_object_ref_reference(self._ref)
            except Exception as exc:  # noqa: BLE001 - a private Ray API; worst case a leak
                logger.debug("raysweep: could not unpin a shared object: %s", exc)
            self._pins = 0
        self._value = None


def _in_band() -> bool:
    try:
        context = ray._private.worker.global_worker.get_serialization_context()
        return bool(context.is_in_band_serialization())
    except Exception:  # noqa: BLE001 - private Ray API: assume the common, out-of-band case
        return False


def _from_ref(ref: Any) -> Shared:
    shared = Shared.__new__(Shared)
    shared._ref, shared._pins, shared._value = ref, 0, None
    return shared


def _from_bytes(blob: bytes) -> Shared:
    return _from_ref(ray.cloudpickle.loads(blob))
