"""The implementation of ``raysweep.sklearn`` (import ``SearchCV`` from there).

``space``: scikit-learn parameter grids and distributions as raysweep spaces;
``objective``: one candidate's cross-validation, run on the workers;
``search``: the ``SearchCV`` meta-estimator that drives ``raysweep.run``.
"""
