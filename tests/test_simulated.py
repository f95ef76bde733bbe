"""The simulated executor: same behaviour as the inline one, virtual time, scale; then the
inputs the first tests did not try (more schedulers and model-based searchers, curves of odd
shapes, reuse, experiment directories that read back like any other)."""

from __future__ import annotations

import gc
import itertools
import json
import math
import os
import pickle
import time

import numpy as np
import pytest

import raysweep as rs
from raysweep.cli import main as cli
from raysweep.decisions import Decision
from raysweep.execution.messages import Ended, EndKind, Report
from raysweep.execution.simulated import Simulated

SPACE = {"x": rs.uniform(0, 1)}


def curve(config, iteration):
    """Curves that cross: a high ``x`` starts well and ends badly; slower for high ``x``."""
    x = config["x"]
    return 10.0 + 20.0 * x, {"loss": (1 - x) / iteration + 0.5 * x}


def never_called(config):
    raise AssertionError("a simulated run must not call the objective")


def as_objective(curve_fn, max_iterations):
    """The same workload as a real iterative objective (checkpoints so pauses resume)."""

    def objective(config):
        start = rs.get_checkpoint() or 0
        for iteration in range(start + 1, max_iterations + 1):
            _, metrics = curve_fn(config, iteration)
            rs.report(metrics, checkpoint=iteration)

    return objective


def journal(path):
    with open(os.path.join(path, "journal.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def decisions(path):
    """Per trial: the (iteration, loss) reports and the status changes, timestamps dropped."""
    out: dict[str, list] = {}
    for event in journal(path):
        if event["e"] == "r":
            out.setdefault(event["id"], []).append(
                (event["r"]["training_iteration"], event["r"]["loss"]))
        elif event["e"] in ("s", "resume"):
            out.setdefault(event["id"], []).append(event.get("s", "resume"))
    return out


@pytest.mark.parametrize("scheduler,stop", [
    ("fifo", None),
    ("fifo", {"loss": 0.3}),
    (rs.schedulers.ASHA(max_t=9, grace_period=1, reduction_factor=3), None),
    (rs.schedulers.Hyperband(max_t=9, reduction_factor=3), None),
])
def test_same_statuses_and_decisions_as_the_inline_executor(storage, scheduler, stop):
    common = {"metric": "loss", "mode": "min", "num_samples": 14, "seed": 7,
              "scheduler": scheduler, "stop": stop, "storage_path": storage, "verbose": 0}
    inline = rs.run(as_objective(curve, 9), SPACE, executor="inline", name="inline", **common)
    simulated = rs.run(never_called, SPACE, name="sim",
                       executor=Simulated(1, curve, max_iterations=9), **common)
    assert simulated.dataframe()["status"].tolist() == inline.dataframe()["status"].tolist()
    assert decisions(simulated.path) == decisions(inline.path)
    history_sim, history_inline = simulated.history(), inline.history()
    assert history_sim["loss"].tolist() == history_inline["loss"].tolist()
    assert simulated.best_config == inline.best_config


def test_virtual_time_is_what_the_curves_say(storage):
    def fixed(config, iteration):
        return 100.0, {"loss": config["x"]}

    executor = Simulated(4, fixed, max_iterations=3, start_time=1_000_000.0)
    results = rs.run(never_called, SPACE, num_samples=8, seed=1, storage_path=storage,
                     verbose=0, executor=executor)
    # 8 trials of 3 x 100 s on 4 workers: two waves of 300 s.
    assert executor.now() == pytest.approx(600.0)
    frame = results.dataframe()
    assert frame["time_total_s"].tolist() == pytest.approx([300.0] * 8)
    ends = sorted(e["t"] for e in journal(results.path) if e["e"] == "s")
    assert ends == pytest.approx([1_000_300.0] * 4 + [1_000_600.0] * 4)
    sessions = [e for e in journal(results.path) if e["e"] == "session"]
    assert sessions[0]["t"] == pytest.approx(1_000_000.0)
    assert sessions[-1]["t"] == pytest.approx(1_000_600.0)
    assert executor.stats["busy_s"] == pytest.approx(8 * 300.0)


def test_virtual_time_is_monotone(storage):
    seen: list[float] = []

    class Recording(Simulated):
        def poll(self, timeout_s):
            events = super().poll(timeout_s)
            seen.append(self.now())
            return events

    def noisy(config, iteration, rng):
        return float(rng.exponential(30.0)), {"loss": config["x"] + rng.normal(0, 0.1)}

    results = rs.run(never_called, SPACE, num_samples=300, seed=2, storage_path=storage,
                     verbose=0, scheduler="asha", time_budget_s=2_000.0,
                     executor=Recording(16, noisy, max_iterations=20, latency_s=0.5))
    assert len(seen) > 100 and all(b >= a for a, b in itertools.pairwise(seen))
    stamps = [e["t"] for e in journal(results.path) if "t" in e]
    assert all(b >= a for a, b in itertools.pairwise(stamps))
    # the budget is virtual: the run stopped near 2,000 virtual seconds, not real ones
    assert 2_000.0 <= seen[-1] < 2_500.0
    assert "TERMINATED" in results.status_counts()


def test_noisy_curves_are_reproducible(storage):
    def noisy(config, iteration, rng):
        return float(rng.uniform(1, 5)), {"loss": config["x"] + rng.normal(0, 0.1)}

    frames = []
    for name in ("a", "b"):
        results = rs.run(never_called, SPACE, num_samples=40, seed=3, storage_path=storage,
                         name=name, verbose=0, scheduler="asha",
                         executor=Simulated(8, noisy, max_iterations=9, seed=11))
        frames.append(results.history()[["trial_id", "training_iteration", "loss",
                                          "time_total_s"]])
    assert frames[0].equals(frames[1])


# -- the protocol, one executor call at a time ----------------------------------------------
def make(curve_fn=None, workers=2, **kwargs):
    executor = Simulated(workers, curve_fn or (lambda config, it: (10.0, {"loss": 1.0 / it})),
                         **kwargs)
    executor.setup(never_called, metric="loss", mode="min", stop=None)
    return executor


def test_a_waiting_report_idles_until_the_next_poll_delivers_the_decision():
    executor = make(max_iterations=5)
    executor.start("a", {}, None, 0, 0.0, None)  # blocking=None: wait at every report
    assert executor.free_slots() == 1
    assert executor.poll(60.0) == [Report("a", {"loss": 1.0, "training_iteration": 1,
                                                "time_this_iter_s": 10.0,
                                                "time_total_s": 10.0}, None, True)]
    assert executor.now() == 10.0
    assert executor.poll(5.0) == []  # no decision sent: the worker waits, the clock moves
    assert executor.now() == 15.0
    executor.decide("a", Decision.CONTINUE)
    (event,) = executor.poll(60.0)
    assert event.result["training_iteration"] == 2 and executor.now() == 25.0
    executor.decide("a", Decision.PAUSE)
    (end,) = executor.poll(60.0)
    assert (end.trial_id, end.kind, end.info) == ("a", EndKind.PAUSED, None)
    assert end.payload[0] == "pickle"
    assert executor.now() == 25.0 and executor.free_slots() == 2


def test_running_ahead_a_stop_keeps_the_next_report_and_a_pause_drops_it():
    """As on a real worker (``worker._Run.report``): a STOP sent for a run-ahead report ends
    the trial after its next report, which is kept; a PAUSE drops it (the resumed trial
    makes it again), unless it is the trial's last."""
    executor = make(max_iterations=5)
    executor.start("a", {}, None, 0, 0.0, ())  # never blocks
    (report,) = executor.poll(60.0)
    assert report.waiting is False
    executor.decide("a", Decision.STOP)
    events = executor.poll(60.0)
    assert [(type(e), e.trial_id) for e in events] == [(Report, "a"), (Ended, "a")]
    assert events[0].result["training_iteration"] == 2 and events[0].waiting is False
    assert events[1] == Ended("a", EndKind.STOPPED, None, None)
    assert executor.now() == 20.0 and executor.stats["lost_iterations"] == 0

    executor.start("b", {}, None, 0, 0.0, ())
    executor.poll(60.0)
    executor.decide("b", Decision.PAUSE)
    (end,) = executor.poll(60.0)
    assert (end.trial_id, end.kind, end.info) == ("b", EndKind.PAUSED, None)
    assert pickle.loads(end.payload[1])["iteration"] == 1  # resumes after the kept report
    assert executor.stats["lost_iterations"] == 1

    last = make(max_iterations=2)
    last.start("c", {}, None, 0, 0.0, ())
    last.poll(60.0)
    last.decide("c", Decision.PAUSE)  # too late: iteration 2 is its last, and it is kept
    events = last.poll(60.0)
    assert [type(e) for e in events] == [Report, Ended] and events[1].kind is EndKind.DONE


def test_resume_from_a_checkpoint_and_latency():
    executor = make(max_iterations=3, latency_s=1.0)
    executor.start("a", {}, ("pickle", b""), 2, 20.0, ())
    assert executor.running_since("a") is None  # not delivered yet
    events = executor.poll(60.0)
    assert [type(e) for e in events] == [Report, Ended]
    assert events[0].result["training_iteration"] == 3
    assert events[0].result["time_total_s"] == 30.0
    assert events[1].kind is EndKind.DONE and executor.now() == 11.0


def test_kill_and_curve_exceptions_end_the_trial_as_error():
    def broken(config, iteration):
        if iteration == 2:
            raise RuntimeError("curve broke")
        return 1.0, {"loss": 0.0}

    executor = make(broken, max_iterations=5)
    executor.start("a", {}, None, 0, 0.0, ())
    executor.start("b", {}, None, 0, 0.0, ())
    events = executor.poll(60.0)
    assert [(type(e), e.trial_id) for e in events] == [(Report, "a"), (Report, "b"),
                                                        (Ended, "a"), (Ended, "b")]
    assert events[2].kind is EndKind.ERROR and "curve broke" in events[2].info
    executor.start("c", {}, None, 0, 0.0, None)
    (report,) = executor.poll(0.0)  # it waits for a decision that never comes
    assert (type(report), report.trial_id) == (Report, "c")
    assert executor.running_since("c") == 1.0 and executor.now() == 2.0
    assert executor.kill("c", "too slow") == [Ended("c", EndKind.ERROR, "too slow", None)]
    assert executor.kill("c", "again") == [] and executor.free_slots() == 2


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,match", [
    ({"workers": 0}, r"workers must be an int >= 1, got 0"),
    ({"workers": -3}, r"workers must be an int >= 1, got -3"),
    ({"workers": 2.5}, r"workers must be an int >= 1, got 2.5"),
    ({"workers": True}, r"workers must be an int >= 1, got True"),
    ({"max_iterations": 0}, r"max_iterations must be an int >= 1 or None, got 0"),
    ({"latency_s": -1.0}, r"latency_s must be a finite number >= 0, got -1.0"),
    ({"latency_s": math.inf}, r"latency_s must be a finite number >= 0, got inf"),
    ({"checkpoints": "always"}, r"checkpoints must be one of \['pause', 'blocking'\]"),
    ({"seed": -1}, r"seed must be an int >= 0, got -1"),
])
def test_bad_arguments(kwargs, match):
    kwargs = {"workers": 4, "curve": curve, **kwargs}
    with pytest.raises(ValueError, match=match):
        Simulated(**kwargs)


def test_curve_must_be_a_function_of_config_and_iteration(storage):
    with pytest.raises(TypeError, match="curve must be a callable"):
        Simulated(4, "not a function")
    with pytest.raises(TypeError, match=r"curve bad\(config\) must take \(config, iteration\)"):
        def bad(config):
            return 1.0, {}
        rs.run(never_called, SPACE, num_samples=2, storage_path=storage, verbose=0,
               executor=Simulated(2, bad))


@pytest.mark.parametrize("returned,match", [
    ((math.nan, {"loss": 1.0}), r"duration_s=nan for trial 00000 at iteration 3"),
    ((math.inf, {"loss": 1.0}), r"duration_s=inf for trial 00000 at iteration 3"),
    ((-1.0, {"loss": 1.0}), r"duration_s=-1.0 for trial 00000 at iteration 3.*>= 0"),
    ((1.0, {"loss": math.nan}), r"loss=nan for trial 00000 at iteration 3; metrics must be"),
    ((1.0, {"loss": np.float32(-np.inf)}), r"loss=-inf for trial 00000 at iteration 3"),
    ((1.0, {"loss": 1.0, "acc": math.inf}), r"acc=inf for trial 00000 at iteration 3"),
    ((1.0, math.nan), r"loss=nan for trial 00000 at iteration 3"),
    (("1", {"loss": 1.0}), r"duration_s must be a number, got '1' for trial 00000 at it"),
    (({"loss": 1.0},), r"must return \(duration_s, metrics\).*trial 00000 at iteration 3"),
])
def test_non_finite_curves_name_the_trial_and_the_iteration(storage, returned, match):
    def bad(config, iteration):
        return returned if iteration == 3 else (1.0, {"loss": 1.0})

    error = TypeError if "must be a number" in match or "must return" in match else ValueError
    with pytest.raises(error, match=match):
        rs.run(never_called, SPACE, num_samples=3, storage_path=storage, verbose=0,
               executor=Simulated(1, bad, max_iterations=5))


def test_numpy_metrics_become_plain_numbers(storage):
    def numpy_curve(config, iteration):
        return np.float64(2.0), {"loss": np.float32(0.25), "n": np.int64(3)}

    results = rs.run(never_called, SPACE, num_samples=2, storage_path=storage, verbose=0,
                     executor=Simulated(2, numpy_curve, max_iterations=2))
    result = results.best_result
    assert type(result["loss"]) is float and type(result["n"]) is int


@pytest.mark.parametrize("kwargs,match", [
    ({"resources_per_trial": {"cpu": 2}},
     r"resources_per_trial must be None with executor=Simulated\(...\) \(a simulated run"),
    ({"address": "auto"}, r"address must be None with executor=Simulated.*got 'auto'"),
    ({"max_concurrent": 8}, r"max_concurrent must be None with executor=Simulated"),
])
def test_ray_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Simulated(4, curve).check_run_arguments(**kwargs)


def test_run_refuses_ray_resources_for_a_simulation(storage):
    with pytest.raises(ValueError, match="resources_per_trial must be None"):
        rs.run(never_called, SPACE, num_samples=2, storage_path=storage, verbose=0,
               resources_per_trial={"cpu": 2}, executor=Simulated(2, curve, max_iterations=1))


# -- scale ----------------------------------------------------------------------------------
def test_a_100k_trial_simulation_completes(storage):
    def one_shot(config, iteration):
        return 60.0 + 60.0 * config["x"], {"loss": config["x"]}

    class FreezeCount(rs.Callback):
        during = 0

        def on_trial_complete(self, trial):
            if trial.trial_id == "99000":
                self.during = gc.get_freeze_count()

    executor, seen = Simulated(1000, one_shot, max_iterations=1), FreezeCount()
    started = time.perf_counter()
    results = rs.run(never_called, SPACE, num_samples=100_000, seed=0, storage_path=storage,
                     verbose=0, executor=executor, callbacks=[seen])
    elapsed = time.perf_counter() - started
    # the finished trials were kept away from the garbage collector, and handed back
    assert seen.during > 90_000 and gc.get_freeze_count() == 0
    assert results.status_counts() == {"TERMINATED": 100_000}
    assert executor.stats["reports"] == 100_000
    # ~100 trials of 60-120 s per 1,000 workers: a bit over 100 x 90 virtual seconds
    assert 8_000 < executor.now() < 13_000
    print(f"100,000 simulated trials in {elapsed:.1f} s")
    assert elapsed < 120  # measured ~15 s here; see benchmarks/scale.py for where time goes


def test_the_gc_freeze_leaves_other_users_of_gc_freeze_alone():
    from raysweep.execution.controller import _GcFreezer

    freezer = _GcFreezer(every=2)
    freezer.step(1)
    assert gc.get_freeze_count() == 0
    freezer.step(2)
    assert gc.get_freeze_count() > 0
    freezer.release()
    assert gc.get_freeze_count() == 0
    gc.freeze()  # someone else in the process uses it: hands off
    try:
        frozen = gc.get_freeze_count()
        other = _GcFreezer(every=1)
        other.step(5)
        other.release()
        # not unfrozen by us (an unfreeze empties it; frozen objects freed by their
        # refcount in the meantime may lower the count a little, so no equality)
        assert not other.active and gc.get_freeze_count() > frozen // 2
    finally:
        gc.unfreeze()


def test_driver_time_can_be_charged_to_the_clock(storage):
    def instant(config, iteration):
        return 0.0, {"loss": config["x"]}

    plain = Simulated(2, instant, max_iterations=3)
    charged = Simulated(2, instant, max_iterations=3, include_driver_time=True)
    for name, executor in (("plain", plain), ("charged", charged)):
        rs.run(never_called, SPACE, num_samples=50, storage_path=storage, name=name, verbose=0,
               executor=executor)
    assert plain.now() == 0.0
    assert charged.now() > 0.0  # the controller's own CPU time, between polls


def test_pbt_clones_simulated_checkpoints(storage, recwarn):
    def drifting(config, iteration):
        return 10.0, {"loss": abs(config["x"] - 0.3) + 1.0 / iteration}

    pbt = rs.schedulers.PBT(perturbation_interval=4, hyperparam_mutations={"x": rs.uniform(0, 1)})
    results = rs.run(never_called, SPACE, num_samples=8, seed=0, storage_path=storage,
                     verbose=0, scheduler=pbt,
                     executor=Simulated(4, drifting, max_iterations=20, checkpoints="blocking"))
    assert results.status_counts() == {"TERMINATED": 8}
    assert any(e["e"] == "fork" for e in journal(results.path))
    assert not [w for w in recwarn if "no checkpoint" in str(w.message)]


# ----------------------------------------------------- edges (were test_simulated_robustness)
@pytest.mark.parametrize("scheduler,search,checkpoints", [
    ("median", "random", "pause"),
    ("bohb", None, "pause"),
    ("asha", "tpe", "pause"),
    ("hyperband", "gp", "pause"),
    ("fifo", "evolution", "pause"),
    (lambda: rs.schedulers.PBT(perturbation_interval=3,
                               hyperparam_mutations={"x": rs.uniform(0, 1)}), "random",
     "blocking"),
])
def test_same_decisions_as_inline_for_more_schedulers_and_searchers(storage, scheduler, search,
                                                                   checkpoints):
    common = {"metric": "loss", "mode": "min", "num_samples": 12, "seed": 11,
              "storage_path": storage, "verbose": 0}
    if search is not None:
        common["search"] = search
    make = scheduler if callable(scheduler) else (lambda: scheduler)
    inline = rs.run(as_objective(curve, 9), SPACE, executor="inline", name="inline",
                    scheduler=make(), **common)
    simulated = rs.run(never_called, SPACE, name="sim", scheduler=make(),
                       executor=Simulated(1, curve, max_iterations=9, checkpoints=checkpoints),
                       **common)
    assert simulated.dataframe()["status"].tolist() == inline.dataframe()["status"].tolist()
    assert decisions(simulated.path) == decisions(inline.path)
    assert simulated.best_config == inline.best_config


def test_a_reused_executor_gives_the_same_decisions_and_its_clock_goes_on(storage):
    executor = Simulated(3, curve, max_iterations=9)
    runs = [rs.run(never_called, SPACE, metric="loss", num_samples=10, seed=5, scheduler="asha",
                   storage_path=storage, name=name, verbose=0, executor=executor)
            for name in ("one", "two")]
    assert decisions(runs[0].path) == decisions(runs[1].path)
    stamps = []
    for results in runs:
        with open(os.path.join(results.path, "journal.jsonl"), encoding="utf-8") as handle:
            stamps.append([e["t"] for e in map(json.loads, handle) if "t" in e])
    assert min(stamps[1]) >= max(stamps[0])  # virtual time never goes back


def test_curves_of_every_shape(storage):
    seen = {}

    def with_default(config, iteration, scale=2.0):  # its own third parameter: no rng
        seen["scale"] = scale
        return [scale, np.float64(config["x"])]  # a list, a bare numpy number

    def with_rng(config, iteration, rng=None):
        seen["rng"] = type(rng).__name__
        return np.float32(1.0), {"loss": config["x"] + rng.normal(0, 0.01),
                                 "done": np.bool_(iteration >= 2)}

    for name, fn in (("default", with_default), ("rng", with_rng)):
        results = rs.run(never_called, SPACE, metric="loss", num_samples=3, storage_path=storage,
                         name=name, verbose=0, executor=Simulated(2, fn, max_iterations=4))
        assert results.status_counts() == {"TERMINATED": 3}
        assert type(results.best_result["loss"]) is float
    assert seen == {"scale": 2.0, "rng": "Generator"}
    assert results.history().groupby("trial_id").training_iteration.max().tolist() == [2] * 3


@pytest.mark.parametrize("returned,error,match", [
    ((1.0, {1: 0.5}), TypeError, r"metric names must be strings, got 1 for trial 00000 at "
                                 r"iteration 1"),
    ((1.0, "0.5"), TypeError, r"metrics must be a dict or a number, got str for trial 00000"),
    (0.5, TypeError, r"must return \(duration_s, metrics\), got 0.5 for trial 00000"),
    ((1.0, {"loss": 0.5}, 3), TypeError, r"must return \(duration_s, metrics\)"),
    ((True, {"loss": 0.5}), TypeError, r"duration_s must be a number, got True"),
    ((1.0, {"loss": np.float64("nan")}), ValueError, r"loss=nan for trial 00000 at iteration 1"),
])
def test_bad_curve_returns_name_the_trial_and_the_iteration(storage, returned, error, match):
    with pytest.raises(error, match=match):
        rs.run(never_called, SPACE, metric="loss", num_samples=2, storage_path=storage,
               verbose=0, executor=Simulated(1, lambda c, i: returned, max_iterations=3))


def test_bad_arguments_name_the_argument():
    with pytest.raises(TypeError, match="include_driver_time must be True or False, got 'yes'"):
        Simulated(2, curve, include_driver_time="yes")
    with pytest.raises(ValueError, match=r"start_time must be a finite number.*got nan"):
        Simulated(2, curve, start_time=math.nan)
    with pytest.raises(ValueError, match=r"latency_s must be a finite number >= 0, got True"):
        Simulated(2, curve, latency_s=True)
    with pytest.raises(TypeError, match="curve must be a callable"):
        Simulated(2, None)
    assert Simulated(np.int64(3), curve, max_iterations=np.int64(2)).workers == 3


def test_a_curve_that_raises_is_that_trials_error_and_the_sweep_goes_on(storage):
    def flaky(config, iteration):
        if config["x"] > 0.5 and iteration == 2:
            raise RuntimeError("curve blew up")
        return 1.0, {"loss": config["x"]}

    results = rs.run(never_called, SPACE, metric="loss", num_samples=10, seed=0,
                     storage_path=storage, verbose=0,
                     executor=Simulated(3, flaky, max_iterations=3))
    errors = [t for t in results.trials if t.status.value == "ERROR"]
    assert errors and all(t.config["x"] > 0.5 and "curve blew up" in t.error for t in errors)
    assert all(t.iteration == 1 for t in errors)
    assert results.status_counts()["TERMINATED"] == 10 - len(errors)


def test_stop_max_iterations_done_and_budget_in_virtual_time(storage):
    def slow(config, iteration):
        return 100.0, {"loss": config["x"] / iteration, "done": iteration == 5}

    common = {"metric": "loss", "num_samples": 6, "seed": 1, "storage_path": storage,
              "verbose": 0}
    by_done = rs.run(never_called, SPACE, name="done", executor=Simulated(6, slow), **common)
    assert by_done.dataframe()["training_iteration"].tolist() == [5] * 6
    by_max = rs.run(never_called, SPACE, name="max",
                    executor=Simulated(6, slow, max_iterations=3), **common)
    assert by_max.dataframe()["training_iteration"].tolist() == [3] * 6
    by_stop = rs.run(never_called, SPACE, name="stop", stop={"training_iteration": 2},
                     executor=Simulated(6, slow), **common)
    assert by_stop.dataframe()["training_iteration"].tolist() == [2] * 6
    executor = Simulated(2, slow)
    budget = rs.run(never_called, SPACE, name="budget", time_budget_s=250.0, executor=executor,
                    **common)
    # the budget is noticed at the first event after it (300 s); a trial running ahead
    # then makes one more report, its last, as a real worker does
    assert 300.0 <= executor.now() <= 400.0 and len(budget.history()) <= 2 * 4
    assert set(budget.status_counts()) == {"TERMINATED"}


def test_latency_delays_every_message(storage):
    def fixed(config, iteration):
        return 10.0, {"loss": config["x"]}

    executor = Simulated(1, fixed, max_iterations=3, latency_s=2.0)
    results = rs.run(never_called, SPACE, metric="loss", num_samples=2, storage_path=storage,
                     verbose=0, scheduler="fifo", executor=executor)
    # per trial: the start arrives 2 s late; fifo never blocks, so no decision round trips
    assert executor.now() == pytest.approx(2 * (2.0 + 30.0))
    assert results.dataframe()["time_total_s"].tolist() == pytest.approx([30.0, 30.0])


def test_the_experiment_reads_back_with_load_and_the_cli(storage, capsys):
    results = rs.run(never_called, SPACE, metric="loss", num_samples=20, seed=3,
                     storage_path=storage, name="simdir", verbose=0, scheduler="asha",
                     executor=Simulated(4, curve, max_iterations=9))
    loaded = rs.load(results.path)
    assert loaded.status_counts() == results.status_counts()
    assert loaded.best_config == results.best_config
    assert loaded.history()["loss"].tolist() == results.history()["loss"].tolist()
    assert cli(["ls", storage]) == 0 and "simdir" in capsys.readouterr().out
    assert cli(["show", results.path]) == 0 and "20 trials" in capsys.readouterr().out
    out = os.path.join(storage, "simdir.csv")
    assert cli(["export", results.path, "--format", "csv", "--out", out]) == 0
    with open(out, encoding="utf-8") as handle:
        assert sum(1 for _ in handle) == 21
