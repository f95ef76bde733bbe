"""Which display a run gets: ``make_reporter`` (Jupyter cell, live terminal panel, plain
lines, or nothing), with ``RAYSWEEP_PROGRESS=plain|live|off`` as the override."""

from __future__ import annotations

import os
from typing import Any

from raysweep.progress._live import JupyterReporter, LiveReporter
from raysweep.progress._reporters import PlainReporter, _Silent


def _in_ci() -> bool:
    """Whether a CI service runs us (``CI`` set, as GitHub, GitLab and most others do).

    CI logs keep every redraw of a live panel (rich calls a log a terminal when
    ``FORCE_COLOR`` is set, which many CI setups do), so a stream that is not really a
    terminal gets plain lines there even when rich says otherwise.
    """
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


def _isatty(stream: Any) -> bool:
    """Whether ``stream`` says it is a terminal (rich may call a pipe one: ``FORCE_COLOR``)."""
    try:
        return bool(stream.isatty())
    except Exception:  # noqa: BLE001 - no isatty, or a closed stream
        return False


def make_reporter(*, metric: str, mode: str, total: int | None, verbose: int = 1,
                  time_budget_s: float | None = None, scope: str = "last",
                  name: str | None = None, stream: Any = None,
                  interval_s: float = 10.0) -> PlainReporter:
    """The right display for where the run prints.

    A Jupyter kernel gets the panel in its cell, a terminal gets the live rich panel, anything
    else (a pipe, a file, a CI log: ``CI`` set, even with ``FORCE_COLOR``) gets plain lines
    every ``interval_s`` seconds. The environment variable ``RAYSWEEP_PROGRESS`` (``live``,
    ``plain`` or ``off``) overrides it.

    Args:
        metric: The experiment's metric.
        mode: ``"min"`` or ``"max"``.
        total: Trials expected (None when unknown).
        verbose: 0 silent, 1 progress, 2 also a line per finished trial.
        time_budget_s: The run's budget (the bar then also tracks time).
        scope: ``"last"`` or ``"all"``, the rule for "best so far".
        name: The experiment's name, shown in the panel title.
        stream: Where to print (default ``sys.stdout``).
        interval_s: Seconds between plain lines.

    Returns:
        A reporter with ``update(controller)`` and ``close()``.
    """
    choice = os.environ.get("RAYSWEEP_PROGRESS", "").strip().lower()
    if choice and choice not in ("live", "plain", "off"):
        raise ValueError(f"RAYSWEEP_PROGRESS must be 'live', 'plain' or 'off', got {choice!r}")
    common: dict[str, Any] = {"metric": metric, "mode": mode, "total": total, "verbose": verbose,
              "time_budget_s": time_budget_s, "scope": scope}
    if verbose < 1 or choice == "off":
        return _Silent(**common)
    if choice != "plain":
        from rich.console import Console  # noqa: PLC0415

        console = Console(file=stream) if stream is not None else Console()
        if console.is_jupyter and stream is None and choice != "live":
            try:
                return JupyterReporter(name=name, **common)
            except ImportError:
                pass
        elif choice == "live" or (console.is_terminal and not console.is_dumb_terminal
                                  and (_isatty(console.file) or not _in_ci())):
            return LiveReporter(console=console, name=name, **common)
    return PlainReporter(stream=stream, interval_s=interval_s, **common)
