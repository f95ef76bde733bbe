"""The fit data, shipped to the workers once per ``fit``.

``LocalData`` just holds the data (in-process executors). ``RayData`` puts it in the Ray
object store once, in the driver, with the Ray executor's ``share``; each worker process
fetches it once (zero-copy for numpy arrays on the same node) and keeps it for every candidate
it evaluates. Ray itself stays inside ``raysweep.execution.ray``.
"""

from __future__ import annotations

from typing import Any


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
        from raysweep.execution.ray import share  # noqa: PLC0415 - only when Ray is used

        self._shared = share(value)

    def get(self) -> Any:
        return self._shared.get()

    def release(self) -> None:
        """Unpin the object (the driver's own reference goes with this handle)."""
        self._shared.release()


def ship_code_by_value(*objects: Any) -> None:
    """Let Ray workers unpickle user-defined estimators, scorers and splitters.

    Classes and functions are pickled by reference (module and name), and a worker cannot
    import a module that only the driver can see (a test file, a project module off the
    worker's path). Modules outside site-packages found among ``objects`` (recursively
    through estimator parameters, lists and dicts) are pickled by value instead, as raysweep
    already does for the objective's own module.
    """
    from raysweep.execution.ray.shipping import _is_local_source, register_by_value

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
