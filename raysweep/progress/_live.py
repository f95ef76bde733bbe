"""The rich panel redrawn in place: on a terminal (``LiveReporter``) or in a Jupyter cell
(``JupyterReporter``, through an IPython display handle; no ipywidgets)."""

from __future__ import annotations

import atexit
import io
from collections import deque
from typing import Any

from raysweep.progress._panel import render_panel
from raysweep.progress._reporters import PlainReporter
from raysweep.progress._state import Snapshot
from raysweep.progress._text import trial_line


class LiveReporter(PlainReporter):
    """A rich panel redrawn in place (at most ``refresh_per_second`` times a second).

    ``close()`` must be called at the end of the run (it draws the final panel and gives the
    terminal back); an exit hook does it as a last resort.
    """

    def __init__(self, *, metric: str, mode: str, total: int | None, verbose: int = 1,
                 console: Any = None, refresh_per_second: float = 4.0,
                 time_budget_s: float | None = None, scope: str = "last",
                 name: str | None = None) -> None:
        super().__init__(metric=metric, mode=mode, total=total, verbose=verbose,
                         time_budget_s=time_budget_s, scope=scope)
        if refresh_per_second <= 0:
            raise ValueError(f"LiveReporter: refresh_per_second must be > 0, got "
                             f"{refresh_per_second!r}")
        from rich.console import Console  # noqa: PLC0415

        self.console = console or Console()
        self.name = name
        self._scan_interval_s = 1.0 / refresh_per_second
        self._live: Any = None

    def update(self, controller: Any) -> None:
        snapshot = self._due_scan(controller)
        if snapshot is not None:
            self._show(snapshot, final=False)

    def _show(self, snapshot: Snapshot, final: bool) -> None:
        """Draw once: the first call starts the live display, the final one stops it."""
        panel = render_panel(snapshot, self.metric, self.mode, self.name, final=final)
        if self._live is None:
            from rich.live import Live  # noqa: PLC0415

            self._live = Live(panel, console=self.console, auto_refresh=False,
                              transient=False, redirect_stdout=True, redirect_stderr=True)
            self._live.start()  # draws the panel
            atexit.register(self._stop_live)
            drawn = True
        else:
            drawn = False
        if self.verbose >= 2:
            for trial in snapshot.finished_now:
                self._live.console.print(trial_line(trial, self.metric), markup=False,
                                         highlight=False, soft_wrap=True)
        if not drawn:
            self._live.update(panel, refresh=not final)  # stop() draws the final one

    def _stop_live(self) -> None:
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            controller = self._controller
            if self.verbose >= 1 and controller is not None:
                self._show(self._scan(controller), final=True)
        finally:
            self._stop_live()
            atexit.unregister(self._stop_live)


class _HTML:
    """A displayable object for IPython: HTML for notebooks, text elsewhere."""

    def __init__(self, html: str, text: str) -> None:
        self.html = html
        self.text = text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


class JupyterReporter(PlainReporter):
    """The same panel in a notebook cell, updated in place through an IPython display handle.

    Needs only IPython (no ipywidgets).
    """

    def __init__(self, *, metric: str, mode: str, total: int | None, verbose: int = 1,
                 refresh_per_second: float = 2.0, time_budget_s: float | None = None,
                 scope: str = "last", name: str | None = None, display: Any = None) -> None:
        super().__init__(metric=metric, mode=mode, total=total, verbose=verbose,
                         time_budget_s=time_budget_s, scope=scope)
        if display is None:
            from IPython.display import display  # noqa: PLC0415
        self._display = display
        self.name = name
        self._scan_interval_s = 1.0 / refresh_per_second
        self._handle: Any = None
        self._trial_lines: deque[str] = deque(maxlen=20)

    def update(self, controller: Any) -> None:
        snapshot = self._due_scan(controller)
        if snapshot is not None:
            self._show(snapshot, final=False)

    def _show(self, snapshot: Snapshot, final: bool) -> None:
        from rich.console import Console, Group  # noqa: PLC0415
        from rich.text import Text  # noqa: PLC0415

        if self.verbose >= 2:
            self._trial_lines.extend(trial_line(t, self.metric) for t in snapshot.finished_now)
        panel = render_panel(snapshot, self.metric, self.mode, self.name, final=final)
        if self._trial_lines:
            panel = Group(*(Text(line, no_wrap=True, overflow="ellipsis")
                            for line in self._trial_lines), panel)
        console = Console(record=True, file=io.StringIO(), width=110, force_terminal=True,
                          force_jupyter=False, color_system="truecolor")
        console.print(panel)
        html = console.export_html(inline_styles=True, clear=False, code_format=(
            '<pre style="font-family:Menlo,Consolas,monospace;font-size:12px;'
            'line-height:1.25;margin:0">{code}</pre>'))
        blob = _HTML(html, console.export_text(clear=True))
        if self._handle is None:
            self._handle = self._display(blob, display_id=True)
        else:
            self._handle.update(blob)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        controller = self._controller
        if self.verbose >= 1 and controller is not None:
            self._show(self._scan(controller), final=True)


