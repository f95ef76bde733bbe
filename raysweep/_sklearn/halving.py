"""``HalvingGridSearchCV`` and ``HalvingRandomSearchCV`` on Ray: scikit-learn's successive
halving (still experimental in scikit-learn) with each iteration's candidates evaluated in
parallel on Ray workers.

They are scikit-learn's classes with ``fit`` from ``RayBatches``: the signature, the
parameter validation, the candidates (``ParameterGrid`` order, or ``ParameterSampler``'s
draws for a ``random_state``), the resources per iteration (``n_samples`` subsampled by
scikit-learn's own splitter, or an estimator parameter), the elimination with its
tie-breaking and ``cv_results_`` (``iter``, ``n_resources``) are scikit-learn's; only where
the fits run differs. ``n_jobs`` caps the candidates evaluated at once (None or negative:
every CPU of the Ray cluster); ``pre_dispatch`` is ignored.

Importing ``raysweep.sklearn`` does not enable scikit-learn's experimental classes
(``sklearn.experimental.enable_halving_search_cv``): these are imported from their module.
"""

from __future__ import annotations

from sklearn.model_selection._search_successive_halving import (
    HalvingGridSearchCV as _SklearnHalvingGrid,
)
from sklearn.model_selection._search_successive_halving import (
    HalvingRandomSearchCV as _SklearnHalvingRandom,
)

from raysweep._sklearn.batches import RayBatches


class HalvingGridSearchCV(_SklearnHalvingGrid, RayBatches):
    """``sklearn.model_selection.HalvingGridSearchCV`` with each iteration on Ray (same
    arguments, same candidates kept, same fitted attributes).

    Example:
        >>> from raysweep.sklearn import HalvingGridSearchCV
        >>> search = HalvingGridSearchCV(SVC(), {"C": [0.1, 1, 10, 100]}, factor=2,
        ...                              random_state=0)  # doctest: +SKIP
        >>> search.fit(X, y).cv_results_["n_resources"]  # doctest: +SKIP
    """


class HalvingRandomSearchCV(_SklearnHalvingRandom, RayBatches):
    """``sklearn.model_selection.HalvingRandomSearchCV`` with each iteration on Ray (same
    arguments, same candidates drawn and kept for a ``random_state``).

    Example:
        >>> from raysweep.sklearn import HalvingRandomSearchCV
        >>> search = HalvingRandomSearchCV(SVC(), {"C": stats.loguniform(1e-2, 1e2)},
        ...                                random_state=0)  # doctest: +SKIP
    """
