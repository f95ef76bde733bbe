"""scikit-learn's ``sklearn/model_selection/tests/test_successive_halving.py`` (from the
installed scikit-learn) with ``HalvingGridSearchCV``/``HalvingRandomSearchCV`` rebound to
raysweep's; see ``upstream_harness`` for how, and for the tests excluded and why."""

from upstream_harness import collected_from, load

globals().update(collected_from(load("test_successive_halving.py")))
