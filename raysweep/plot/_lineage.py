"""The PBT lineage plot: each trial as a lane over ``training_iteration``, a connector where
it cloned another trial's checkpoint."""

from __future__ import annotations

from typing import Any

import numpy as np

from raysweep.plot._common import (_check_limit, _cmap, _colorbar, _figure, _goal,
                                   _legend_outside, _message, _metric_values, _norm, _results)


def pbt_lineage(results: Any, *, ax: Any = None, max_trials: int = 60) -> Any:
    """Each trial as a lane over ``training_iteration``; an arrow where it cloned another.

    With PBT, a trial that exploits copies another trial's checkpoint and continues with a
    mutated config: the plot draws that as a connector from the donor's lane to the trial's
    lane at the iteration of the copy. Lanes are ordered and coloured by final metric (best at
    the top); past ``max_trials`` only the best are drawn.

    Args:
        results: A ``raysweep.Results`` or an experiment directory.
        ax: Draw into this matplotlib axes (default: a new figure).
        max_trials: At most this many lanes.

    Returns:
        matplotlib.figure.Figure

    An experiment run with another scheduler (no trial ever cloned another) has no lineage:
    the figure says so instead of drawing one flat lane per trial.
    """
    _check_limit("max_trials", max_trials)
    from matplotlib.collections import LineCollection  # noqa: PLC0415

    results = _results(results)
    not_pbt = _not_pbt(results)
    if not_pbt is not None:
        figure, ax = _figure(ax, (8.0, 3.0))
        _message(ax, not_pbt)
        return figure
    frame = results.dataframe()
    values = _metric_values(results, frame)
    ids = frame["trial_id"].tolist()
    goal = _goal(results)
    order = goal.order(values)  # best first
    chosen = [ids[i] for i in order[:max_trials]]
    figure, ax = _figure(ax, (8.0, max(3.0, min(10.0, 0.18 * len(chosen) + 1.5))))
    ax.set_xlabel("training_iteration")
    if not chosen:
        _message(ax, "no trials yet")
        return figure
    lane = {trial_id: len(chosen) - 1 - i for i, trial_id in enumerate(chosen)}  # best on top
    trials = {t.trial_id: t for t in results.trials}
    norm = _norm(values, results.mode)
    cmap = _cmap(goal)
    colour = dict(zip(ids, values))
    segments, colors, links, link_ends, forks = [], [], [], [], 0
    for trial_id in chosen:
        trial = trials[trial_id]
        schedule = results.pbt_schedule(trial_id)
        end = max(trial.iteration, schedule[-1]["training_iteration"])
        value = colour.get(trial_id, np.nan)
        color = cmap(norm(value)) if np.isfinite(value) else (0.6, 0.6, 0.6, 1.0)
        y = lane[trial_id]
        points = [entry["training_iteration"] for entry in schedule] + [end]
        segments.append(np.array([[points[0], y], [points[-1], y]], dtype=float))
        colors.append(color)
        for entry in schedule[1:]:
            forks += 1
            x = entry["training_iteration"]
            parent = entry.get("parent_id")
            link_ends.append((x, y))
            if parent in lane:
                links.append(np.array([[x, lane[parent]], [x, y]], dtype=float))
    ax.add_collection(LineCollection(segments, colors=colors, linewidths=3.0,
                                     capstyle="butt"))
    if links:
        ax.add_collection(LineCollection(links, colors="0.35", linewidths=0.8, alpha=0.7))
    if link_ends:
        xs, ys = zip(*link_ends)
        ax.scatter(xs, ys, marker="o", s=14, color="black", zorder=3,
                   label="cloned a better trial's checkpoint")
        _legend_outside(ax)
    ax.autoscale_view()
    ax.set_ylim(-1, len(chosen))
    if len(chosen) <= 40:
        ax.set_yticks(range(len(chosen)), [t for t in reversed(chosen)], fontsize=7)
    else:
        ax.set_yticks([])
    ax.set_ylabel("trial (best at the top)")
    _colorbar(figure, ax, norm, cmap, results.metric)
    shown = f"{len(chosen)} of {len(ids)} trials" if len(ids) > len(chosen) else \
        f"{len(ids)} trials"
    note = f"{forks} exploit steps" if forks else "no exploit steps (not a PBT run?)"
    ax.set_title(f"PBT lineage: {shown}, {note}")
    return figure


def _not_pbt(results: Any) -> str | None:
    """Why there is no lineage to draw (the settings name a scheduler that is not PBT and no
    trial forked), else None. Experiments whose settings do not say are drawn."""
    scheduler = (results.settings or {}).get("scheduler")
    if not isinstance(scheduler, str) or not scheduler:
        return None
    if "pbt" in scheduler.lower() or "populationbased" in scheduler.lower().replace(" ", ""):
        return None
    if any(t.parent_id is not None for t in results.trials):
        return None
    name = (results.settings or {}).get("name") or results.path or "this experiment"
    return (f"{name!r} is not a PBT run (scheduler {scheduler!r}, no trial cloned another): "
            "no lineage to draw; try learning_curves or history")

