"""Live progress: the panel on a terminal, plain lines elsewhere, bounded output at scale."""

from __future__ import annotations

import inspect
import io
import re
import time
from types import SimpleNamespace

import pytest
from rich.console import Console

import raysweep as rs
from raysweep import api, progress
from raysweep.trial import Trial, TrialStatus

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _use_reporter(monkeypatch, build):
    """Make rs.run use the reporter ``build(**kwargs)`` returns; collect what was built."""
    made = []
    name = "make_reporter" if hasattr(api, "make_reporter") else "PlainReporter"

    def factory(**kwargs):
        reporter = build(**kwargs)
        made.append(reporter)
        return reporter

    monkeypatch.setattr(api, name, factory)
    return made


def _accepted(cls, kwargs):
    names = inspect.signature(cls if inspect.isfunction(cls) else cls.__init__).parameters
    return {k: v for k, v in kwargs.items() if k in names}


def _objective(config):
    if config["x"] < -0.95:
        raise ValueError(f"x too small: {config['x']}")
    return (config["x"] - 0.25) ** 2


SPACE = {"x": rs.uniform(-1, 1), "model": {"depth": rs.randint(1, 8)}}


def _run(storage, n, verbose=1, objective=_objective, **kwargs):
    results = rs.run(objective, SPACE, metric="loss", mode="min", num_samples=n, seed=7,
                     executor="inline", storage_path=storage, verbose=verbose, **kwargs)
    return results


# ------------------------------------------------------------------------------ non-TTY
def test_plain_lines_are_bounded_for_a_1000_trial_run(storage, monkeypatch, capsys):
    stream = io.StringIO()
    made = _use_reporter(monkeypatch, lambda **kw: progress.make_reporter(
        stream=stream, interval_s=0.2, **_accepted(progress.make_reporter, kw)))

    def slowish(config):
        time.sleep(0.0005)
        return _objective(config)

    started = time.monotonic()
    results = _run(storage, 1000, objective=slowish)
    elapsed = time.monotonic() - started
    for reporter in made:
        reporter.close()
    assert type(made[0]) is progress.PlainReporter
    text = stream.getvalue()
    lines = text.splitlines()
    # one line per interval at most, plus the final one; each line short
    assert 1 <= len(lines) <= elapsed / 0.2 + 2
    assert all(line.startswith("[raysweep] ") and len(line) < 400 for line in lines)
    assert len(text) < 400 * (elapsed / 0.2 + 2)
    final = lines[-1]
    assert "1000/1000 done (100%)" in final
    best = results.best_trial
    assert f"trial {best.trial_id}" in final and "best loss=" in final
    assert "\x1b[" not in text  # no terminal control codes in logs


def test_verbose_2_adds_one_line_per_finished_trial(storage, monkeypatch):
    stream = io.StringIO()
    made = _use_reporter(monkeypatch, lambda **kw: progress.make_reporter(
        stream=stream, **_accepted(progress.make_reporter, kw)))
    results = _run(storage, 40, verbose=2)
    for reporter in made:
        reporter.close()
    lines = stream.getvalue().splitlines()
    trial_lines = [line for line in lines if line.startswith("[raysweep] trial ")]
    assert len(trial_lines) == 40
    assert {line.split()[2] for line in trial_lines} == {t.trial_id for t in results.trials}
    failed = [line for line in trial_lines if " ERROR " in line]
    assert len(failed) == len(results.errors) and all("x too small" in f for f in failed)
    assert all("config: x=" in line and "model/depth=" in line for line in trial_lines)


def test_verbose_0_prints_nothing(storage, monkeypatch, capsys):
    stream = io.StringIO()
    made = _use_reporter(monkeypatch, lambda **kw: progress.make_reporter(
        stream=stream, **_accepted(progress.make_reporter, kw)))
    _run(storage, 20, verbose=0)
    for reporter in made:
        reporter.close()
    assert stream.getvalue() == ""
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------------------------- TTY
def test_live_panel_on_a_terminal_is_bounded_and_releases_the_terminal(storage, monkeypatch):
    stream = io.StringIO()

    def build(**kw):
        console = Console(file=stream, force_terminal=True, width=100, color_system="standard")
        return progress.LiveReporter(console=console, refresh_per_second=10,
                                     **_accepted(progress.LiveReporter, kw))

    made = _use_reporter(monkeypatch, build)

    def slowish(config):
        time.sleep(0.0005)
        return _objective(config)

    started = time.monotonic()
    results = _run(storage, 1000, objective=slowish)
    elapsed = time.monotonic() - started
    for reporter in made:
        reporter.close()
    text = stream.getvalue()
    plain = ANSI.sub("", text)
    # Redraws are rate-limited: at most ~10 a second plus the final one, each a few lines.
    panels = len(re.findall(r"raysweep(?: · \S+)? · loss \(min\)", plain))
    assert 1 <= panels <= elapsed * 10 + 3
    assert len(text) < 3000 * (elapsed * 10 + 3)
    assert "1000/1000 trials" in plain and "· done" in plain
    best = results.best_trial
    assert f"trial {best.trial_id}" in plain
    assert "error in trial" in plain and "x too small" in plain
    assert "workers" not in plain  # one in-process slot: nothing worth showing
    assert text.rstrip().endswith("\x1b[?25h")  # cursor shown again


def test_live_reporter_prints_finished_trials_above_the_panel(storage, monkeypatch):
    stream = io.StringIO()

    def build(**kw):
        console = Console(file=stream, force_terminal=True, width=120)
        return progress.LiveReporter(console=console, **_accepted(progress.LiveReporter, kw))

    made = _use_reporter(monkeypatch, build)
    _run(storage, 15, verbose=2)
    for reporter in made:
        reporter.close()
    plain = ANSI.sub("", stream.getvalue())
    assert len(set(re.findall(r"trial (\d{5}) (?:TERMINATED|ERROR)", plain))) == 15


def test_jupyter_reporter_updates_one_display_in_place():
    shown = []

    class Handle:
        def update(self, obj):
            shown.append(obj)

    def display(obj, display_id=False):
        assert display_id is True
        shown.append(obj)
        return Handle()

    reporter = progress.JupyterReporter(metric="acc", mode="max", total=3, verbose=2,
                                        refresh_per_second=1000, display=display, name="nb")
    controller = _fake_controller()
    for status in (TrialStatus.RUNNING, TrialStatus.TERMINATED):
        for trial in controller.trials.values():
            trial.status = status
        time.sleep(0.002)
        reporter.update(controller)
    reporter.close()
    assert 2 <= len(shown) <= 3
    html = shown[-1]._repr_html_()
    assert "<pre" in html and "raysweep · nb · acc (max)" in html
    text = repr(shown[-1])
    assert "3/3 trials" in text and "best acc" in text and "0.9" in text
    assert "trial 00002 TERMINATED" in text


# ------------------------------------------------------------------------------ choice
def test_make_reporter_picks_the_display(monkeypatch):
    common = {"metric": "loss", "mode": "min", "total": 5}
    monkeypatch.delenv("RAYSWEEP_PROGRESS", raising=False)
    assert type(progress.make_reporter(stream=io.StringIO(), **common)) is \
        progress.PlainReporter
    silent = progress.make_reporter(verbose=0, stream=io.StringIO(), **common)
    silent.update(_fake_controller())
    silent.close()
    monkeypatch.setenv("RAYSWEEP_PROGRESS", "off")
    stream = io.StringIO()
    reporter = progress.make_reporter(stream=stream, **common)
    reporter.update(_fake_controller())
    reporter.close()
    assert stream.getvalue() == ""
    monkeypatch.setenv("RAYSWEEP_PROGRESS", "live")
    assert isinstance(progress.make_reporter(stream=io.StringIO(), **common),
                      progress.LiveReporter)
    monkeypatch.setenv("RAYSWEEP_PROGRESS", "fancy")
    with pytest.raises(ValueError, match="RAYSWEEP_PROGRESS must be .* got 'fancy'"):
        progress.make_reporter(**common)
    with pytest.raises(ValueError, match="interval_s must be > 0, got 0"):
        progress.PlainReporter(interval_s=0, **common)


def test_plain_reporter_keeps_the_original_contract():
    stream = io.StringIO()
    reporter = progress.PlainReporter(metric="acc", mode="max", verbose=1, total=3,
                                      stream=stream)
    controller = _fake_controller()
    reporter.update(controller)
    assert "0/3 done" in reporter.line(controller)
    reporter.close()
    reporter.close()  # idempotent
    assert stream.getvalue().count("\n") == 1


# ------------------------------------------------------------------------------ tracker
def _fake_controller(n=3, slots=2):
    trials = {}
    for i in range(n):
        trial = Trial(f"{i:05d}", {"lr": 0.1 * (i + 1), "opt": "adam"}, created_at=time.time())
        trial.status = TrialStatus.PENDING
        trial.last_result = {"acc": 0.3 * (i + 1), "training_iteration": 1}
        trial.iteration = 1
        trials[trial.trial_id] = trial
    return SimpleNamespace(trials=trials, executor=SimpleNamespace(num_slots=slots))


def test_tracker_counts_best_errors_and_eta_incrementally():
    controller = _fake_controller(n=4)
    tracker = progress._Tracker("acc", "max", "last", total=8, time_budget_s=None)
    trials = list(controller.trials.values())
    trials[0].status = TrialStatus.RUNNING
    snap = tracker.scan(controller.trials, slots=2)
    assert snap.counts == {"RUNNING": 1, "PENDING": 3}
    assert snap.done == 0 and snap.fraction == 0 and snap.eta_s is None
    assert snap.best_trial == "00003"  # running/pending trials' current results count too
    trials[3].status = TrialStatus.ERROR
    trials[3].error = "Traceback...\nRuntimeError: diverged"
    trials[2].status = TrialStatus.TERMINATED
    trials[0].status = TrialStatus.TERMINATED
    snap = tracker.scan(controller.trials, slots=2)
    assert snap.counts == {"TERMINATED": 2, "ERROR": 1, "PENDING": 1}
    assert snap.done == 3 and snap.fraction == pytest.approx(3 / 8)
    assert snap.eta_s is not None and snap.eta_s >= 0
    assert snap.best_trial == "00002" and snap.best_value == pytest.approx(0.9)  # not ERROR
    assert snap.errors == [("00003", "RuntimeError: diverged")]
    assert [t.trial_id for t in snap.finished_now] == ["00000", "00002", "00003"]
    late = Trial("00004", {"lr": 1.0}, created_at=time.time())
    late.status, late.last_result = TrialStatus.TERMINATED, {"acc": 5.0}
    controller.trials["00004"] = late
    snap = tracker.scan(controller.trials, slots=2)
    assert [t.trial_id for t in snap.finished_now] == ["00004"]
    assert snap.best_trial == "00004" and snap.done == 4


def test_tracker_time_budget_and_resumed_trials():
    controller = _fake_controller(n=2)
    old = next(iter(controller.trials.values()))
    old.created_at = time.time() - 3600  # finished in an earlier session
    old.status = TrialStatus.TERMINATED
    tracker = progress._Tracker("acc", "max", "last", total=None, time_budget_s=100.0)
    snap = tracker.scan(controller.trials, slots=1)
    assert snap.finished_now == []  # no per-trial line for what finished before the restart
    assert snap.done == 1
    assert 0 <= snap.fraction < 0.1 and 99 <= snap.eta_s <= 100


def test_status_line_and_panel_render_without_a_terminal():
    snap = progress.Snapshot(counts={"RUNNING": 2, "TERMINATED": 5, "ERROR": 1}, done=6,
                             total=None, elapsed_s=75.0, eta_s=None, fraction=None,
                             best_value=0.125, best_trial="00004",
                             best_config={"lr": 0.001, "net": {"width": 64}},
                             errors=[("00003", "ValueError: nope")], running=2, slots=4)
    line = progress.status_line(snap, "loss")
    assert line.startswith("6 done | 2 running, 5 terminated, 1 error | best loss=0.125 "
                           "(trial 00004: lr=0.001, net/width=64) | 1m15s elapsed")
    console = Console(file=io.StringIO(), width=90, record=True)
    console.print(progress.render_panel(snap, "loss", "min", name="demo"))
    text = console.export_text()
    assert "raysweep · demo · loss (min)" in text
    assert "workers 2/4 busy" in text and "error in trial 00003: ValueError: nope" in text
    assert progress.format_duration(7300) == "2h01m"
    assert progress.format_config({"a": "x" * 500}, limit=20).endswith("…")


@pytest.mark.ray
def test_panel_with_the_ray_executor_shows_worker_slots(ray_session, storage, monkeypatch):
    stream = io.StringIO()

    def build(**kw):
        console = Console(file=stream, force_terminal=True, width=100)
        return progress.LiveReporter(console=console, refresh_per_second=20,
                                     **_accepted(progress.LiveReporter, kw))

    made = _use_reporter(monkeypatch, build)

    def slow(config):
        time.sleep(0.05)
        return config["x"]

    results = rs.run(slow, {"x": rs.uniform(0, 1)}, metric="loss", num_samples=12, seed=1,
                     storage_path=storage, verbose=1, max_concurrent=2)
    for reporter in made:
        reporter.close()
    plain = ANSI.sub("", stream.getvalue())
    assert "12/12 trials" in plain and f"trial {results.best_trial.trial_id}" in plain
    assert re.search(r"workers [0-2]/2 busy", plain)
    # trials queued behind a busy worker are shown as queued, never as running
    assert all(int(n) <= 2 for n in re.findall(r"(\d+) running", plain))


# ----------------------------------------------------------------- CI, virtual clocks
def test_ci_gets_plain_lines_even_with_force_color(monkeypatch):
    common = {"metric": "loss", "mode": "min", "total": 5}
    monkeypatch.delenv("RAYSWEEP_PROGRESS", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich then calls any stream a terminal
    monkeypatch.delenv("CI", raising=False)
    assert isinstance(progress.make_reporter(stream=io.StringIO(), **common),
                      progress.LiveReporter)
    for value in ("true", "1", "yes"):
        monkeypatch.setenv("CI", value)
        assert type(progress.make_reporter(stream=io.StringIO(), **common)) is \
            progress.PlainReporter
    monkeypatch.setenv("CI", "false")
    assert isinstance(progress.make_reporter(stream=io.StringIO(), **common),
                      progress.LiveReporter)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setenv("CI", "true")  # a real terminal in CI (a pty) keeps the live panel
    assert isinstance(progress.make_reporter(stream=Terminal(), **common),
                      progress.LiveReporter)
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("RAYSWEEP_PROGRESS", "live")  # an explicit choice still wins
    assert isinstance(progress.make_reporter(stream=io.StringIO(), **common),
                      progress.LiveReporter)


def _curve(config, iteration):
    if config["lr"] > 0.9 and iteration == 2:
        raise RuntimeError("diverged")
    return 60.0, {"loss": config["lr"] + 1.0 / iteration}


def test_simulated_runs_report_every_trial_and_virtual_time(storage, monkeypatch):
    stream = io.StringIO()
    made = _use_reporter(monkeypatch, lambda **kw: progress.make_reporter(
        stream=stream, **_accepted(progress.make_reporter, kw)))
    monkeypatch.setenv("RAYSWEEP_PROGRESS", "plain")
    # A virtual clock that starts at the epoch: far before the real time of the run.
    results = rs.run(lambda config: None, {"lr": rs.uniform(0, 1)}, metric="loss",
                     num_samples=6, seed=3, verbose=2, storage_path=storage, name="sim",
                     executor=rs.Simulated(workers=2, max_iterations=3, curve=_curve,
                                           start_time=0.0))
    for reporter in made:
        reporter.close()
    lines = stream.getvalue().splitlines()
    trial_lines = [line for line in lines if line.startswith("[raysweep] trial ")]
    assert sorted(line.split()[2] for line in trial_lines) == \
        sorted(t.trial_id for t in results.trials)  # none taken for an earlier session's
    assert lines[-1].startswith("[raysweep] 6/6 done (100%)")
    # 3 waves of 2 trials x 3 iterations x 60 virtual seconds, not the ~0 s of real time
    assert "9m00s elapsed" in lines[-1]


def test_tracker_follows_a_virtual_clock_for_the_time_budget():
    clock = SimpleNamespace(t=0.0)
    executor = SimpleNamespace(num_slots=2, now=lambda: clock.t,
                               wall_time=lambda: 1000.0 + clock.t)
    controller = _fake_controller(n=2)
    old, new = controller.trials.values()
    old.created_at, old.status = 500.0, TrialStatus.TERMINATED  # an earlier session's trial
    new.created_at = 1000.0
    controller.executor = executor
    reporter = progress.PlainReporter(metric="acc", mode="max", total=None, verbose=2,
                                      stream=io.StringIO(), time_budget_s=600.0)
    clock.t = 150.0
    snap = reporter._scan(controller)
    assert snap.elapsed_s == pytest.approx(150.0)
    assert snap.fraction == pytest.approx(0.25) and snap.eta_s == pytest.approx(450.0)
    assert snap.finished_now == [] and snap.done == 1  # the old trial is no new line
    new.status = TrialStatus.TERMINATED
    clock.t = 300.0
    snap = reporter._scan(controller)
    assert [t.trial_id for t in snap.finished_now] == [new.trial_id]
    assert snap.fraction == pytest.approx(0.5) and snap.eta_s == pytest.approx(300.0)
    # a real clock (what every other executor has) is left alone
    real = progress._Tracker("acc", "max", "last", total=None, time_budget_s=None)
    real.follow_clock(SimpleNamespace(now=time.monotonic, wall_time=time.time))
    assert real._origin is None


# ------------------------------------------------- running vs queued, ETA, grid total
def test_trials_queued_behind_a_busy_worker_are_not_called_running():
    controller = _fake_controller(n=4, slots=2)
    for trial in controller.trials.values():
        trial.status = TrialStatus.RUNNING  # the controller's view: handed to a worker
    begun = {"00000", "00001"}  # what the executor says has begun on its worker
    tracker = progress._Tracker("acc", "max", "last", total=10, time_budget_s=None)
    snap = tracker.scan(controller.trials, slots=2, started=lambda tid: tid in begun)
    assert snap.counts == {"RUNNING": 2, "QUEUED": 2}
    assert (snap.running, snap.queued) == (2, 2)
    line = progress.status_line(snap, "acc")
    assert "2 running, 2 queued" in line and "4 running" not in line
    console = Console(file=io.StringIO(), width=100, record=True)
    console.print(progress.render_panel(snap, "acc", "max"))
    text = console.export_text()
    assert "2 running · 2 queued" in text and "workers 2/2 busy" in text
    # the reporter asks the executor (running_since None = queued on its worker)
    controller.executor = SimpleNamespace(
        num_slots=2, running_since=lambda tid: 1.0 if tid in begun else None)
    reporter = progress.PlainReporter(metric="acc", mode="max", total=10,
                                      stream=io.StringIO())
    assert "2 running, 2 queued" in reporter.line(controller)


def test_no_eta_until_a_wave_finished_and_startup_does_not_inflate_it():
    clock = SimpleNamespace(t=0.0)
    controller = _fake_controller(n=13, slots=2)
    trials = list(controller.trials.values())
    tracker = progress._Tracker("acc", "max", "last", total=13, time_budget_s=None)
    tracker._elapsed = lambda: clock.t
    assert tracker.scan(controller.trials, slots=2).eta_s is None  # Ray starting: nothing runs
    clock.t = 60.0  # start-up took a minute; the first trials begin
    trials[0].status = trials[1].status = TrialStatus.RUNNING
    assert tracker.scan(controller.trials, slots=2).eta_s is None
    clock.t = 65.0
    trials[0].status = trials[1].status = TrialStatus.TERMINATED  # one wave of 2 < 3
    assert tracker.scan(controller.trials, slots=2).eta_s is None
    clock.t = 70.0
    trials[2].status = TrialStatus.TERMINATED
    snap = tracker.scan(controller.trials, slots=2)
    # 3 done in the 10 s since trials began: 10 left take ~33 s (not 10 * 70 / 3 = 233 s)
    assert snap.eta_s == pytest.approx(10 * 10.0 / 3)
    assert "ETA 33s" in progress.status_line(snap, "acc")
    wide = progress._Tracker("acc", "max", "last", total=13, time_budget_s=None)
    wide._elapsed = lambda: clock.t
    assert wide.scan(controller.trials, slots=8).eta_s is None  # 8 workers: wave of 8


def test_grid_sweep_shows_its_total(storage, monkeypatch):
    stream = io.StringIO()
    made = _use_reporter(monkeypatch, lambda **kw: progress.make_reporter(
        stream=stream, **_accepted(progress.make_reporter, kw)))
    monkeypatch.setenv("RAYSWEEP_PROGRESS", "plain")
    space = {"a": rs.grid([1, 2, 3]), "b": rs.grid(["x", "y"])}
    search = rs.search.Grid(points_to_evaluate=[{"a": 3, "b": "y"}])
    results = rs.run(lambda config: config["a"], space, search=search, num_samples=2,
                     executor="inline", storage_path=storage, verbose=1)
    for reporter in made:
        reporter.close()
    assert len(results.trials) == 3 * 2 * 2 + 1  # two passes over 6 points, plus the point
    assert made[0].total == 13
    assert stream.getvalue().splitlines()[-1].startswith("[raysweep] 13/13 done (100%)")
