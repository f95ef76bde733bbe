"""scikit-learn's ``sklearn/model_selection/tests/test_search.py`` (from the installed
scikit-learn) with ``GridSearchCV``/``RandomizedSearchCV`` rebound to raysweep's; see
``upstream_harness`` for how, and for the tests excluded and why."""

from upstream_harness import load, collected_from

globals().update(collected_from(load("test_search.py")))
