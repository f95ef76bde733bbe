"""The plain-text renderer: short values, configs, durations, the status and trial lines."""

from __future__ import annotations

import math
from typing import Any

from raysweep.progress._state import Snapshot, last_line
from raysweep.space import flatten
from raysweep.trial import Trial, TrialStatus

MAX_CONFIG_CHARS = 160
#: Statuses in the order they are shown; others follow alphabetically.
ORDER = ("RUNNING", "QUEUED", "PENDING", "PAUSED", "TERMINATED", "ERROR")


def format_value(value: Any) -> str:
    """Short text for a metric or parameter value (``0.0123457``, ``1e-05``, ``'rbf'``)."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int):
        return str(value)
    return str(value)


def format_config(config: dict[str, Any] | None, limit: int = MAX_CONFIG_CHARS) -> str:
    """``a=1, model/k=3`` (flattened), cut to ``limit`` characters."""
    if not config:
        return ""
    text = ", ".join(f"{k}={format_value(v)}" for k, v in flatten(config).items())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_duration(seconds: float | None) -> str:
    """``42s``, ``3m05s``, ``2h04m``."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def ordered_statuses(counts: dict[str, int]) -> list[str]:
    """The statuses present in ``counts``, in display order."""
    return [k for k in ORDER if counts.get(k)] + sorted(k for k in counts if k not in ORDER)


def _count_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[k]} {k.lower()}" for k in ordered_statuses(counts)) \
        or "no trials yet"


def status_line(snapshot: Snapshot, metric: str) -> str:
    """One plain line: done/total, statuses, best, elapsed and ETA."""
    total = f"/{snapshot.total}" if snapshot.total else ""
    percent = f" ({snapshot.fraction:.0%})" if snapshot.fraction is not None else ""
    parts = [f"{snapshot.done}{total} done{percent}", _count_text(snapshot.counts)]
    if snapshot.best_trial is not None:
        parts.append(f"best {metric}={format_value(snapshot.best_value)} "
                     f"(trial {snapshot.best_trial}: {format_config(snapshot.best_config, 80)})")
    timing = f"{format_duration(snapshot.elapsed_s)} elapsed"
    if snapshot.eta_s is not None and snapshot.done < (snapshot.total or math.inf):
        timing += f", ETA {format_duration(snapshot.eta_s)}"
    parts.append(timing)
    return " | ".join(parts)


def trial_line(trial: Trial, metric: str) -> str:
    """One plain line for a finished trial (``verbose=2``)."""
    result = trial.last_result or {}
    text = (f"trial {trial.trial_id} {trial.status.value} {metric}="
            f"{format_value(result.get(metric))} iter={trial.iteration} "
            f"config: {format_config(trial.config)}")
    if trial.status is TrialStatus.ERROR:
        text += f" error: {last_line(trial.error or '')[:160]}"
    return text
