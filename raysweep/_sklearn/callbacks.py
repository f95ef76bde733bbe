"""scikit-learn's callback API (``set_callbacks``, scikit-learn >= 1.9) around a search on
raysweep, with the hooks scikit-learn calls, in the same numbers and with the same arguments.

The task tree is ``GridSearchCV``'s: the root ``fit`` task (its begin and end here, in the
driver), its ``search`` subtask (driver), one ``candidate-split-evaluation`` leaf per
candidate and split, and ``refit-with-best-params`` (driver). The leaf contexts are made
here, in the driver, and travel to the workers, where scikit-learn's own ``_fit_and_score``
calls their hooks around each fit, as it does in a joblib worker: a callback brings its
events back to the caller's process through scikit-learn's callback transport (a local
socket), so on a Ray cluster the callbacks see the fits of the driver's machine only.

With an older scikit-learn (no ``sklearn.callback``) there is nothing to call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

try:
    from sklearn.callback._callback_support import callback_management_context
except ImportError:  # scikit-learn < 1.9: no callbacks
    callback_management_context = None


class SklearnCallbacks:
    """The callback contexts of one ``fit`` of ``search``."""

    def __init__(self, search: Any) -> None:
        self.search = search
        self.supported = callback_management_context is not None and \
            hasattr(search, "_init_callback_context")
        self.active = self.supported and bool(getattr(search, "_skl_callbacks", None))
        self._root: Any = None
        self._search: Any = None
        self._fit_args: dict[str, Any] = {}

    @contextlib.contextmanager
    def managed(self) -> Iterator[None]:
        """Calls the callbacks' ``teardown`` however ``fit`` ends (as scikit-learn does)."""
        if not self.supported:
            yield
            return
        with callback_management_context(self.search):
            yield

    def begin(self, X: Any, y: Any, sample_weight: Any, *, refit: bool) -> None:
        """``setup`` and the root task's begin."""
        if not self.supported:
            return
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        self._fit_args = {"X": X, "y": y, "metadata": metadata}
        self._root = self.search._init_callback_context(max_subtasks=1 + refit)
        self._root.call_on_fit_task_begin(estimator=self.search, **self._fit_args)

    @property
    def root(self) -> Any:
        """The root (``fit``) context, for a ``_run_search`` that makes its own subtasks."""
        return self._root

    def search_begin(self, n_candidates: int, n_splits: int) -> list[Any] | None:
        """The ``search`` task's begin; the leaf contexts, candidate-major (None: no
        callbacks, nothing to send to the workers)."""
        if self._root is None:
            return None
        self._search = self._root.subcontext(
            task_name="search", max_subtasks=n_candidates * n_splits,
            sequential_subtasks=False).call_on_fit_task_begin(estimator=self.search)
        if not self.active:
            return None
        return [self._search.subcontext(task_name="candidate-split-evaluation", task_id=i)
                for i in range(n_candidates * n_splits)]

    def search_end(self) -> None:
        if self._search is not None:
            self._search.call_on_fit_task_end(estimator=self.search)

    @contextlib.contextmanager
    def refit(self, best_estimator: Any) -> Iterator[None]:
        """The ``refit-with-best-params`` task around the refit of ``best_estimator``."""
        if self._root is None:
            yield
            return
        context = self._root.subcontext(task_name="refit-with-best-params")
        with context.propagate_callback_context(best_estimator):
            context.call_on_fit_task_begin(estimator=self.search, **self._fit_args)
            yield
        context.call_on_fit_task_end(estimator=self.search, **self._fit_args)

    def end(self) -> None:
        """The root task's end (``teardown`` follows in ``managed``)."""
        if self._root is not None:
            self._root.call_on_fit_task_end(estimator=self.search, **self._fit_args)
