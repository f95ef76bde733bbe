"""Live progress: a rich panel on a terminal or in Jupyter, plain lines at a bounded rate elsewhere.

``make_reporter`` picks the display; every reporter has the same two-method contract the
controller relies on: ``update(controller)`` (called once per driver-loop iteration, cheap when
nothing is due) and ``close()`` (draws the final state and releases the terminal).

What is shown: trials by status (a trial the driver has handed to a worker that is still busy
with an earlier one is *queued*, not running), a progress bar towards ``num_samples`` (a grid
sweep's size, or the time budget), the best result so far with its config, the last few errors
and how many workers are busy. The ETA appears only once it means something: after a full wave
of trials (at least ``max(3, workers)``) has finished in this session, measured from the moment
the first trial ran (so Ray's start-up does not inflate it); a time budget's remaining time is
always shown as the bound it is. ``verbose=0`` shows nothing, ``1`` the panel (or lines),
``2`` also one line per finished trial. ``RAYSWEEP_PROGRESS=plain|live|off`` overrides the
automatic choice.
"""

from __future__ import annotations

import atexit
import io
import itertools
import math
import os
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from raysweep.results import last_metric_result, metric_loss
from raysweep.space import flatten
from raysweep.trial import Trial, TrialStatus

if TYPE_CHECKING:
    from typing_extensions import Self

_MAX_CONFIG_CHARS = 160
_MAX_ERRORS = 3
_ETA_MIN_DONE = 3  # trials finished in this session before an ETA is shown


# ------------------------------------------------------------------------------- snapshot
@dataclass
class Snapshot:
    """What the display shows at one moment (plain data; no rich objects)."""

    counts: dict[str, int]
    done: int
    total: int | None
    elapsed_s: float
    eta_s: float | None
    fraction: float | None
    best_value: float | None = None
    best_trial: str | None = None
    best_config: dict[str, Any] | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)
    running: int = 0
    slots: int | None = None
    queued: int = 0
    finished_now: list[Trial] = field(default_factory=list)


class _Tracker:
    """Follows the controller's trial table incrementally.

    A finished trial (TERMINATED or ERROR) never changes again within a run, so it is folded
    into the counts and the best once; each scan then touches only new and unfinished trials.
    That keeps a refresh cheap at 50,000 trials.
    """

    def __init__(self, metric: str, mode: str, scope: str, total: int | None,
                 time_budget_s: float | None) -> None:
        self.metric = metric
        self.sign = 1.0 if mode == "min" else -1.0
        self.scope = scope
        self.total = total
        self.time_budget_s = time_budget_s
        self.start = time.monotonic()
        self.start_wall = time.time()
        self._elapsed = lambda: time.monotonic() - self.start
        self._origin: float | None = None  # a virtual clock's wall time at its zero
        self._virtual_wall: Any = None
        self._seen = 0
        self._open: dict[str, Trial] = {}
        self._finished: dict[str, int] = {}
        self._best: tuple[float, Trial] | None = None
        self._errors: deque[tuple[str, str]] = deque(maxlen=_MAX_ERRORS)
        self._done_before: int | None = None  # finished in earlier sessions (resume)
        self._first_run_at: float | None = None  # elapsed time when a trial first ran

    def _loss(self, trial: Trial) -> float:
        if trial.status is TrialStatus.ERROR:
            return math.inf
        if self.scope == "all":
            return trial.best_loss if math.isfinite(trial.best_loss) else math.inf
        return metric_loss(last_metric_result(trial, self.metric), self.metric, self.sign)

    def _consider(self, trial: Trial, loss: float,
                  best: tuple[float, Trial] | None) -> tuple[float, Trial] | None:
        if math.isfinite(loss) and (best is None or loss < best[0]):
            return (loss, trial)
        return best

    def follow_clock(self, executor: Any) -> None:
        """Measure time on ``executor``'s clock when it is virtual (the simulated executor).

        The controller's time budget and the trials' timestamps are then in virtual seconds, so
        the elapsed time, the ETA, the budget bar and the test for "finished in an earlier
        session" must be too. Call before the first ``scan``; real clocks change nothing.
        """
        now, wall = getattr(executor, "now", None), getattr(executor, "wall_time", None)
        if not callable(now) or not callable(wall):
            return
        try:
            if abs(float(now()) - time.monotonic()) <= 1.0:
                return  # the real monotonic clock
            origin = float(wall()) - float(now())
        except Exception:  # noqa: BLE001 - an executor that cannot tell: keep the real clock
            return
        if not math.isfinite(origin):
            return
        self._origin = origin
        self._virtual_wall = wall

    def _earlier(self, trial: Trial) -> bool:
        """Whether ``trial`` was created before this session (a resumed experiment)."""
        if self._origin is not None:  # virtual clock: this session's trials start at origin
            return trial.created_at < self._origin - 1e-3
        return bool(trial.created_at) and trial.created_at < self.start_wall - 1.0

    def _start_virtual(self, trials: dict[str, Trial]) -> None:
        """On a virtual clock, elapsed time counts from this session's first trial."""
        wall = self._virtual_wall
        starts = [t.created_at for t in trials.values() if not self._earlier(t)]
        try:
            begin = min(starts) if starts else float(wall())
        except Exception:  # noqa: BLE001 - the clock broke: back to the real one
            self._origin = None
            return

        def elapsed() -> float:
            try:
                return max(0.0, float(wall()) - begin)
            except Exception:  # noqa: BLE001
                return 0.0

        self._elapsed = elapsed

    def scan(self, trials: dict[str, Trial], slots: int | None,
             started: Any = None) -> Snapshot:
        """Fold the trial table into a snapshot.

        ``started(trial_id)`` tells whether a RUNNING trial has begun on its worker (the
        executor's ``running_since`` is not None); without it every RUNNING trial counts as
        running. The others are shown as ``QUEUED``.
        """
        if self._done_before is None and self._origin is not None:
            self._start_virtual(trials)
        new = list(itertools.islice(trials.values(), self._seen, None))
        self._seen += len(new)
        for trial in new:
            self._open[trial.trial_id] = trial
        finished_now: list[Trial] = []
        earlier = 0
        for trial_id, trial in list(self._open.items()):
            if not trial.status.is_finished:
                continue
            del self._open[trial_id]
            status = trial.status.value
            self._finished[status] = self._finished.get(status, 0) + 1
            self._best = self._consider(trial, self._loss(trial), self._best)
            if self._done_before is None and self._earlier(trial):
                earlier += 1  # finished before this session (a resumed experiment)
                continue
            if trial.status is TrialStatus.ERROR:
                self._errors.append((trial.trial_id, _last_line(trial.error or "")))
            finished_now.append(trial)
        if self._done_before is None:
            self._done_before = earlier
        counts = dict(self._finished)
        best = self._best
        running = queued = 0
        for trial in self._open.values():
            key = trial.status.value
            if trial.status is TrialStatus.RUNNING:
                if started is None or started(trial.trial_id):
                    running += 1
                else:
                    queued += 1
                    key = "QUEUED"
            counts[key] = counts.get(key, 0) + 1
            best = self._consider(trial, self._loss(trial), best)
        done = sum(self._finished.values())
        elapsed = self._elapsed()
        if self._first_run_at is None and (running or finished_now):
            self._first_run_at = elapsed
        fraction, eta = self._eta(done, elapsed, slots)
        snapshot = Snapshot(counts=counts, done=done, total=self.total, elapsed_s=elapsed,
                            eta_s=eta, fraction=fraction, errors=list(self._errors),
                            running=running, slots=slots, queued=queued,
                            finished_now=finished_now)
        if best is not None:
            snapshot.best_value = self.sign * best[0]
            snapshot.best_trial = best[1].trial_id
            snapshot.best_config = best[1].config
        return snapshot

    def _eta(self, done: int, elapsed: float,
             slots: int | None) -> tuple[float | None, float | None]:
        """The bar's fraction and the ETA (None until it means something).

        The rate is trials finished in this session over the time since the first one ran:
        start-up (Ray, workers) is not a trial's cost, and counting it made the first ETA of
        an 11-second sweep "2m30s". Before a wave of ``max(3, slots)`` trials has finished the
        rate says little (the first wave finishes together), so there is no ETA yet.
        """
        fraction = eta = None
        if self.total:
            fraction = min(1.0, done / self.total)
            done_here = done - (self._done_before or 0)
            remaining = max(0, self.total - done)
            running_for = elapsed - (self._first_run_at or 0.0)
            if remaining == 0:
                eta = 0.0
            elif done_here >= max(_ETA_MIN_DONE, slots or 1) and running_for > 0:
                eta = remaining * running_for / done_here
        if self.time_budget_s:
            budget_fraction = min(1.0, elapsed / self.time_budget_s)
            budget_left = max(0.0, self.time_budget_s - elapsed)
            fraction = budget_fraction if fraction is None else max(fraction, budget_fraction)
            eta = budget_left if eta is None else min(eta, budget_left)
        return fraction, eta


def _started(controller: Any) -> Any:
    """``trial_id -> bool``: whether a RUNNING trial has begun on its worker (None: unknown)."""
    running_since = getattr(getattr(controller, "executor", None), "running_since", None)
    if not callable(running_since):
        return None

    def started(trial_id: str) -> bool:
        try:
            return running_since(trial_id) is not None
        except Exception:  # noqa: BLE001 - an executor that cannot tell: call it running
            return True

    return started


def _grid_total(controller: Any) -> int | None:
    """A grid sweep's size: its points times the passes, plus ``points_to_evaluate``."""
    searcher = getattr(controller, "searcher", None)
    if not getattr(searcher, "supports_grid", False):
        return None
    try:
        passes = searcher.num_samples or 1
        return int(searcher.space.grid_size) * int(passes) + len(searcher.points_to_evaluate)
    except Exception:  # noqa: BLE001 - not set up: no total, as before
        return None


def _slots(controller: Any) -> int | None:
    try:
        slots = controller.executor.num_slots
    except Exception:  # noqa: BLE001 - an executor that cannot tell (not set up yet)
        return None
    return slots if isinstance(slots, int) else None


# ------------------------------------------------------------------------------ formatting
def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def format_value(value: Any) -> str:
    """Short text for a metric or parameter value (``0.0123457``, ``1e-05``, ``'rbf'``)."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int):
        return str(value)
    return str(value)


def format_config(config: dict[str, Any] | None, limit: int = _MAX_CONFIG_CHARS) -> str:
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


_ORDER = ("RUNNING", "QUEUED", "PENDING", "PAUSED", "TERMINATED", "ERROR")


def _count_text(counts: dict[str, int]) -> str:
    keys = [k for k in _ORDER if counts.get(k)] + sorted(k for k in counts if k not in _ORDER)
    return ", ".join(f"{counts[k]} {k.lower()}" for k in keys) or "no trials yet"


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
        text += f" error: {_last_line(trial.error or '')[:160]}"
    return text


# ------------------------------------------------------------------------------- reporters
class PlainReporter:
    """Plain status lines at most every ``interval_s`` seconds: for logs, CI and pipes.

    Args:
        metric: The experiment's metric.
        mode: ``"min"`` or ``"max"``.
        total: Trials expected (None when unknown, e.g. grid search).
        verbose: 0 silent, 1 status lines, 2 also a line per finished trial.
        interval_s: Seconds between status lines.
        stream: Where to write (default ``sys.stdout``).
        time_budget_s: The run's wall-clock budget, for the ETA.
        scope: ``"last"`` or ``"all"``, the rule for "best so far".

    Example:
        >>> reporter = PlainReporter(metric="loss", mode="min", total=100)  # doctest: +SKIP
    """

    prefix = "[raysweep] "

    def __init__(self, *, metric: str, mode: str, total: int | None, verbose: int = 1,
                 interval_s: float = 10.0, stream: Any = None,
                 time_budget_s: float | None = None, scope: str = "last") -> None:
        if interval_s <= 0:
            raise ValueError(f"PlainReporter: interval_s must be > 0, got {interval_s!r}")
        self.metric = metric
        self.mode = mode
        self.total = total
        self.verbose = verbose
        self.interval_s = interval_s
        self.stream = stream or sys.stdout
        self._tracker = _Tracker(metric, mode, scope, total, time_budget_s)
        self._last_line_at = time.monotonic()
        self._last_scan_at = -math.inf
        self._scan_interval_s = min(0.5, interval_s)
        self._snapshot: Snapshot | None = None
        self._slots: int | None = None
        self._clock_set = False
        self._controller: Any = None
        self._closed = False

    def update(self, controller: Any) -> None:
        """Called every driver-loop iteration; does work only when a line is due."""
        if self.verbose < 1:
            return
        now = time.monotonic()
        if now - self._last_scan_at < self._scan_interval_s:
            return
        self._last_scan_at = now
        self._controller = controller
        snapshot = self._scan(controller)
        if self.verbose >= 2:
            for trial in snapshot.finished_now:
                self._print(trial_line(trial, self.metric))
        if now - self._last_line_at >= self.interval_s:
            self._last_line_at = now
            self._print(status_line(snapshot, self.metric))

    def _scan(self, controller: Any) -> Snapshot:
        if not self._clock_set:
            self._clock_set = True
            self._tracker.follow_clock(getattr(controller, "executor", None))
            if self._tracker.total is None:
                self._tracker.total = self.total = _grid_total(controller)
        if self._slots is None:
            self._slots = _slots(controller)
        self._snapshot = self._tracker.scan(controller.trials, self._slots,
                                            _started(controller))
        return self._snapshot

    def line(self, controller: Any) -> str:
        """The current status line (without the prefix)."""
        return status_line(self._scan(controller), self.metric)

    def close(self) -> None:
        """Print what finished since the last scan and a final status line (once)."""
        if self._closed:
            return
        self._closed = True
        controller = self._controller
        if self.verbose < 1 or controller is None:
            return
        snapshot = self._scan(controller)
        if self.verbose >= 2:
            for trial in snapshot.finished_now:
                self._print(trial_line(trial, self.metric))
        self._print(status_line(snapshot, self.metric))

    def _print(self, text: str) -> None:
        print(self.prefix + text, file=self.stream, flush=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
        if self.verbose < 1:
            return
        now = time.monotonic()
        if now - self._last_scan_at < self._scan_interval_s:
            return
        self._last_scan_at = now
        self._controller = controller
        snapshot = self._scan(controller)
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
        if self.verbose < 1:
            return
        now = time.monotonic()
        if now - self._last_scan_at < self._scan_interval_s:
            return
        self._last_scan_at = now
        self._controller = controller
        self._show(self._scan(controller), final=False)

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

    styles = {"RUNNING": "cyan", "QUEUED": "dim cyan", "PENDING": "dim", "PAUSED": "yellow",
              "TERMINATED": "green", "ERROR": "red"}
    status = Text()
    keys = [k for k in _ORDER if snapshot.counts.get(k)] + sorted(
        k for k in snapshot.counts if k not in _ORDER)
    for number, key in enumerate(keys):
        if number:
            status.append(" · ", style="dim")
        status.append(f"{snapshot.counts[key]} {key.lower()}", style=styles.get(key, ""))
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


class _Silent(PlainReporter):
    def update(self, controller: Any) -> None:
        return None

    def close(self) -> None:
        return None


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
    common = {"metric": metric, "mode": mode, "total": total, "verbose": verbose,
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
