"""Plots of an experiment (needs matplotlib: ``pip install 'raysweep[plot]'``).

Every function takes a ``Results`` (or an experiment directory) and returns a matplotlib
``Figure``; pass ``ax=`` to draw into an existing axes instead. No pyplot state is touched, so
they are safe in scripts, servers and notebooks (a returned Figure displays itself there).

They stay quick and legible at 10,000 trials: lines are drawn as one collection, and the
line-heavy plots (parallel coordinates, learning curves, PBT lineage) draw the best trials plus
a seeded random sample of the rest (``max_lines``/``max_curves``/``max_trials``), with an
aggregate band of all trials behind the learning curves.

Example:
    >>> import raysweep as rs, raysweep.plot
    >>> results = rs.load("~/raysweep_results/svc")  # doctest: +SKIP
    >>> raysweep.plot.history(results).savefig("history.png")  # doctest: +SKIP

One concept per module: ``_history``, ``_importance``, ``_parallel`` (parallel coordinates),
``_curves`` (learning curves), ``_lineage`` (PBT); what they share is in ``_common`` and the
rule that fits an axis to the bulk of the values in ``_scale``. Which trial is best, and
which way is better, is ``raysweep._goal.Goal``'s rule, as everywhere else.
"""

from __future__ import annotations

from typing import Any

from raysweep.plot._common import _figure, _results
from raysweep.plot._curves import learning_curves
from raysweep.plot._history import history
from raysweep.plot._importance import importance, param_importance
from raysweep.plot._lineage import pbt_lineage
from raysweep.plot._parallel import parallel_coordinates

__all__ = ["dashboard", "history", "importance", "learning_curves", "parallel_coordinates",
           "param_importance", "pbt_lineage"]


# ------------------------------------------------------------------------------- dashboard
def dashboard(results: Any) -> Any:
    """History, parameter importance, parallel coordinates and (for iterative trials)
    learning curves, or the PBT lineage for a PBT run, in one figure."""
    results = _results(results)
    _figure(None, (1, 1))  # the matplotlib import check
    from matplotlib.figure import Figure  # noqa: PLC0415

    iterative = any(t.iteration > 1 for t in results.trials)
    forked = any(t.parent_id is not None for t in results.trials)
    figure = Figure(figsize=(15, 9), layout="constrained")
    grid = figure.add_gridspec(2, 2)
    history(results, ax=figure.add_subplot(grid[0, 0]))
    importance(results, ax=figure.add_subplot(grid[0, 1]))
    if iterative:
        parallel_coordinates(results, ax=figure.add_subplot(grid[1, 0]))
        if forked:
            pbt_lineage(results, ax=figure.add_subplot(grid[1, 1]))
        else:
            learning_curves(results, ax=figure.add_subplot(grid[1, 1]))
    else:
        parallel_coordinates(results, ax=figure.add_subplot(grid[1, :]))
    name = (results.settings or {}).get("name")
    counts = ", ".join(f"{v} {k.lower()}" for k, v in results.status_counts().items())
    figure.suptitle(f"raysweep{f' · {name}' if name else ''}: {len(results)} trials ({counts})")
    return figure

