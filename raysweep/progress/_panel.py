"""The rich panel: the renderable the live and Jupyter reporters draw from a ``Snapshot``."""

from __future__ import annotations

from typing import Any

from raysweep.progress._state import Snapshot
from raysweep.progress._text import format_config, format_duration, format_value, \
    ordered_statuses

STYLES = {"RUNNING": "cyan", "QUEUED": "dim cyan", "PENDING": "dim", "PAUSED": "yellow",
          "TERMINATED": "green", "ERROR": "red"}


def render_panel(snapshot: Snapshot, metric: str, mode: str, name: str | None = None,
                 final: bool = False) -> Any:
    """The rich renderable of the live panel."""
    from rich import box  # noqa: PLC0415
    from rich.console import Group  # noqa: PLC0415
    from rich.panel import Panel  # noqa: PLC0415
    from rich.progress_bar import ProgressBar  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(ratio=1)
    grid.add_column(no_wrap=True, justify="right")

    total = f"/{snapshot.total}" if snapshot.total else ""
    bar_text = Text(f"{snapshot.done}{total} trials")
    if snapshot.fraction is not None:
        bar_text.append(f"  {snapshot.fraction:4.0%}")
    timing = f"  {format_duration(snapshot.elapsed_s)}"
    if not final and snapshot.eta_s is not None:
        timing += f" · ETA {format_duration(snapshot.eta_s)}"
    bar_text.append(timing, style="dim")
    if snapshot.fraction is not None:
        bar = ProgressBar(total=1.0, completed=snapshot.fraction)
    else:
        bar = ProgressBar(total=None, pulse=not final)
    grid.add_row(bar, bar_text)

    status = Text()
    keys = ordered_statuses(snapshot.counts)
    for number, key in enumerate(keys):
        if number:
            status.append(" · ", style="dim")
        status.append(f"{snapshot.counts[key]} {key.lower()}", style=STYLES.get(key, ""))
    if not keys:
        status.append("waiting for the first trial", style="dim")
    workers = Text()
    if snapshot.slots and snapshot.slots > 1:  # (one in-process slot says nothing)
        busy = min(snapshot.running, snapshot.slots)
        workers.append(f"workers {busy}/{snapshot.slots} busy", style="dim")
    grid.add_row(status, workers)

    rows: list[Any] = [grid]  # full-width lines below the two-column grid
    if snapshot.best_trial is not None:
        best = Text(no_wrap=True, overflow="ellipsis")
        best.append(f"best {metric} ", style="bold")
        best.append(format_value(snapshot.best_value), style="bold green")
        best.append(f"  trial {snapshot.best_trial}  ", style="dim")
        best.append(format_config(snapshot.best_config))
        rows.append(best)
    for trial_id, line in snapshot.errors:
        rows.append(Text(f"error in trial {trial_id}: {line}", style="red", no_wrap=True,
                         overflow="ellipsis"))

    title = f"raysweep{f' · {name}' if name else ''} · {metric} ({mode})"
    if final:
        title += " · done"
    return Panel(Group(*rows), title=title, title_align="left", box=box.ROUNDED,
                 border_style="green" if final else "blue")

