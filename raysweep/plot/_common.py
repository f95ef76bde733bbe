"""What the plots of ``raysweep.plot`` share: loading, figures, colours, axes, legends.

Private; see ``raysweep.plot`` for the public functions and ``raysweep.plot._scale`` for the
rule that fits an axis to the bulk of the values.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from raysweep._goal import Goal, metric_values
from raysweep.plot._scale import auto_log as _auto_log  # noqa: F401 - used by the plots
from raysweep.plot._scale import readable_log_axis, robust_scale

# ------------------------------------------------------------------------------- helpers
def _results(obj: Any):
    if isinstance(obj, (str, os.PathLike)):
        from raysweep.results import load  # noqa: PLC0415

        return load(obj)
    if not hasattr(obj, "dataframe") or not hasattr(obj, "metric"):
        raise TypeError(f"results must be a raysweep.Results or an experiment directory, got "
                        f"{type(obj).__name__}")
    return obj


def _goal(results: Any) -> Goal:
    """The experiment's rule for "better" (``results.metric`` and ``results.mode``)."""
    return Goal.of(results.metric, results.mode)


def _figure(ax: Any, figsize: tuple[float, float]) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    try:
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError:
        raise ImportError("raysweep.plot needs matplotlib: pip install 'raysweep[plot]'") \
            from None
    figure = Figure(figsize=figsize, layout="constrained")
    return figure, figure.add_subplot()


def _message(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4",
            wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _metric_values(results: Any, frame: pd.DataFrame) -> np.ndarray:
    """The metric per trial as floats; NaN for failed trials and what is not a metric value
    (NaN, inf, a bool, a non-number: ``Goal``'s rule)."""
    if results.metric not in frame.columns:
        return np.full(len(frame), np.nan)
    values = metric_values(frame[results.metric])
    values[(frame["status"] == "ERROR").to_numpy()] = np.nan
    return values


def _non_finite_reports(results: Any, finite: np.ndarray) -> int:
    """How many trials (not failed) reported the metric as NaN, inf or a non-number; ``finite``
    is ``_metric_values(...)`` finiteness, row for row with ``results.trials``."""
    goal, count = _goal(results), 0
    for trial, ok in zip(results.trials, finite):
        if ok or trial.status.value == "ERROR":
            continue
        result = goal.result_of(trial, results.scope)
        count += bool(result) and results.metric in result
    return count


def _log_params(results: Any) -> dict[str, bool]:
    """``config/<name>`` -> whether the space samples it on a log scale (from the settings)."""
    found: dict[str, bool] = {}

    def walk(node: Any, prefix: str) -> None:
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        if kind == "dict":
            for key, child in node.get("items", []):
                walk(child, f"{prefix}{key}/")
        elif kind in ("choice", "grid"):
            for branch in node.get("branches", []):
                walk(branch, prefix)
        elif "log" in node and prefix:
            found[f"config/{prefix[:-1]}"] = bool(node["log"])

    space = (results.settings or {}).get("space") or {}
    walk(space.get("spec"), "")
    return found


def _cmap(goal: Goal) -> Any:
    from matplotlib import colormaps  # noqa: PLC0415

    # The best trials are the darkest, and are drawn last (on top).
    return colormaps["viridis" if goal.minimize else "viridis_r"]


def _norm(values: np.ndarray, mode: str | None = None) -> Any:
    """The colour scale: fitted to the bulk of the values (outliers take the end colour)."""
    from matplotlib.colors import LogNorm, Normalize  # noqa: PLC0415

    scale = robust_scale(values, mode)
    if scale is None:
        return Normalize(0, 1)
    low, high = scale.low, scale.high
    if high <= low:
        high = low + (abs(low) * 0.01 or 1.0)
    if scale.log:
        return LogNorm(low, high, clip=True)
    return Normalize(low, high, clip=True)


def _fit_y(ax: Any, values: np.ndarray, mode: str, log_y: bool | None, ylim: Any) -> Any:
    """Fit the y axis to the bulk of ``values`` (see ``raysweep.plot._scale``); return the Scale.

    ``log_y`` forces the scale; ``ylim`` (a pair) overrides the limits, and ``ylim="full"``
    keeps every value in view.
    """
    scale = robust_scale(values, mode, log=log_y, robust=not (isinstance(ylim, str)
                                                              and ylim == "full"))
    if scale is None:
        return None
    if scale.log:
        ax.set_yscale("log")
    if ylim is not None and not isinstance(ylim, str):
        ax.set_ylim(*ylim)
    else:
        ax.set_ylim(*scale.limits())
    if scale.log:
        low, high = sorted(ax.get_ylim())
        readable_log_axis(ax.yaxis, low, high, _fmt)
    return scale


def _colorbar(figure: Any, ax: Any, norm: Any, cmap: Any, label: str) -> Any:
    """The colour bar of ``norm``, plain numbers on a log one."""
    from matplotlib.cm import ScalarMappable  # noqa: PLC0415
    from matplotlib.colors import LogNorm  # noqa: PLC0415

    bar = figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=label, pad=0.01)
    if isinstance(norm, LogNorm) and norm.vmin is not None and norm.vmax is not None:
        readable_log_axis(bar.ax.yaxis, norm.vmin, norm.vmax, _fmt)
    return bar


def _check_ylim(ylim: Any) -> None:
    if ylim is None or (isinstance(ylim, str) and ylim == "full"):
        return
    try:
        low, high = (float(v) for v in ylim)
    except (TypeError, ValueError):
        raise ValueError(f"ylim must be None, 'full' or a (low, high) pair, got {ylim!r}") \
            from None
    if not low < high:
        raise ValueError(f"ylim must be None, 'full' or a (low, high) pair with low < high, "
                         f"got {ylim!r}")


def _legend_outside(ax: Any, handles: list[Any] | None = None) -> Any:
    """The legend below the axes (under the x label), never over the data."""
    if handles is None:
        handles, _ = ax.get_legend_handles_labels()
    if not handles:
        return None
    from matplotlib.transforms import offset_copy  # noqa: PLC0415

    columns = min(len(handles), 3)
    below_label = offset_copy(ax.transAxes, fig=ax.figure, y=-34, units="points")
    return ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                     bbox_transform=below_label, ncol=columns, fontsize="small",
                     frameon=False, borderaxespad=0.0)


def _outlier_note(scale: Any, what: str) -> str:
    where = "above" if scale.above >= scale.below else "below"
    return f"{scale.clipped} {what} {where} the axis (up to {_fmt(scale.extreme)})"


def _pick(order_best_first: np.ndarray, rest: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """The best ``limit // 2`` plus a seeded random sample of everything else, up to ``limit``."""
    best = order_best_first[: max(1, limit // 2)]
    others = np.setdiff1d(np.concatenate([order_best_first, rest]), best, assume_unique=False)
    room = limit - len(best)
    if room > 0 and len(others):
        rng = np.random.default_rng(seed)
        others = rng.choice(others, size=min(room, len(others)), replace=False)
    else:
        others = others[:0]
    return np.concatenate([others, best[::-1]])  # sample first, best last (drawn on top)


def _check_limit(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise ValueError(f"{name} must be an int >= 2, got {value!r}")


def _config_columns(frame: pd.DataFrame, params: list[str] | None) -> list[str]:
    columns = [c for c in frame.columns if str(c).startswith("config/")]
    if params is None:
        return columns
    out = []
    for name in params:
        column = name if name in frame.columns else f"config/{name}"
        if column not in frame.columns:
            raise ValueError(f"params: no parameter {name!r}; available: "
                             f"{', '.join(c[len('config/'):] for c in columns)}")
        out.append(column)
    return out


def _label(column: str) -> str:
    return column.removeprefix("config/")


def _fmt(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:.3g}"
    return str(value)


def _count_outside(outside: np.ndarray, high: np.ndarray, scale: Any) -> Any:
    """A Scale-like note of the values drawn on the edge (the limits may be the user's)."""
    from raysweep.plot._scale import Scale  # noqa: PLC0415

    above, below = int(high.sum()), int((~high).sum())
    extreme = float(outside.max() if above >= below else outside.min())
    log = bool(scale.log) if scale is not None else False
    return Scale(0.0, 0.0, log, above, below, extreme)
