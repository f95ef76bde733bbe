"""Every plot renders to PNG (Agg), stays legible and quick at 10,000 trials."""

from __future__ import annotations

import io
import json
import os
import time

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import raysweep as rs  # noqa: E402
from raysweep import plot  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
PLOTS = [plot.history, plot.parallel_coordinates, plot.learning_curves, plot.importance,
         plot.pbt_lineage, plot.dashboard]


def _png(figure) -> bytes:
    assert isinstance(figure, Figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=60)
    data = buffer.getvalue()
    assert data[:8] == PNG and len(data) > 2000
    return data


def _oneshot(config):
    if config["opt"] == "sgd" and config["lr"] > 0.5:
        raise ValueError("diverged")
    return {"loss": (np.log10(config["lr"]) + 2) ** 2 + 0.05 * config["width"] / 64}


def _iterative(config):
    for step in range(1, 9):
        rs.report({"loss": abs(np.log10(config["lr"]) + 2) + 1.0 / step})


SPACE = {"lr": rs.loguniform(1e-4, 1.0), "width": rs.randint(8, 128), "opt": ["adam", "sgd"],
         "net": rs.choice([{"kind": "mlp", "layers": rs.randint(1, 4)},
                           {"kind": "cnn", "kernel": [3, 5]}])}


@pytest.fixture(scope="module")
def experiments(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("plots"))
    oneshot = rs.run(_oneshot, SPACE, metric="loss", num_samples=80, seed=3, executor="inline",
                     storage_path=root, name="oneshot", verbose=0)
    asha = rs.run(_iterative, SPACE, metric="loss", num_samples=40, seed=4, executor="inline",
                  storage_path=root, name="asha", scheduler="asha", verbose=0)
    pbt_path = os.path.join(root, "pbt")
    _write_pbt(pbt_path)
    return {"oneshot": oneshot, "asha": asha, "pbt": rs.load(pbt_path), "root": root}


def _write_pbt(path: str) -> None:
    """A small PBT experiment in the journal format: four trials, three exploit steps."""
    os.makedirs(path)
    with open(os.path.join(path, "experiment.json"), "w") as handle:
        json.dump({"name": "pbt", "metric": "loss", "mode": "min", "scheduler": "PBT"}, handle)
    events = []
    lrs = {"00000": 0.1, "00001": 0.01, "00002": 0.3, "00003": 0.001}
    for trial_id, lr in lrs.items():
        events.append({"e": "new", "id": trial_id, "c": {"lr": lr}, "t": 1.0})
    loss = {trial_id: 5.0 for trial_id in lrs}
    forks = {5: [("00003", "00000", 0.12)], 10: [("00002", "00001", 0.02),
                                                 ("00003", "00001", 0.015)]}
    for step in range(1, 16):
        for trial_id, lr in lrs.items():
            loss[trial_id] -= lr
            events.append({"e": "r", "id": trial_id, "r": {"loss": loss[trial_id],
                                                           "training_iteration": step},
                           "ck": 1})
        for child, parent, new_lr in forks.get(step, []):
            events.append({"e": "fork", "id": child, "p": parent, "c": {"lr": new_lr},
                           "i": step, "ci": step})
            lrs[child] = new_lr
            loss[child] = loss[parent]
    events += [{"e": "s", "id": trial_id, "s": "TERMINATED", "t": 2.0} for trial_id in lrs]
    with open(os.path.join(path, "journal.jsonl"), "w") as handle:
        handle.write("\n".join(json.dumps(e) for e in events) + "\n")


# ---------------------------------------------------------------------------- rendering
@pytest.mark.parametrize("draw", PLOTS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("name", ["oneshot", "asha", "pbt"])
def test_every_plot_renders_for_every_kind_of_experiment(draw, name, experiments):
    figure = draw(experiments[name])
    _png(figure)
    if draw is plot.pbt_lineage and name != "pbt":  # no lineage to draw: the figure says so
        texts = [t.get_text() for t in figure.axes[0].texts]
        assert any(f"'{name}' is not a PBT run" in t for t in texts), texts


def test_plots_accept_a_directory_and_draw_into_given_axes(experiments):
    path = os.path.join(experiments["root"], "asha")
    figure = Figure(figsize=(10, 4))
    left, right = figure.subplots(1, 2)
    assert plot.history(path, ax=left) is figure
    assert plot.learning_curves(path, ax=right) is figure
    assert left.get_title().startswith("optimisation history (40 trials)")
    _png(figure)


def test_history_shows_best_so_far(experiments):
    results = experiments["oneshot"]
    figure = plot.history(results)
    ax = figure.axes[0]
    best_line = next(line for line in ax.get_lines() if line.get_label() == "best so far")
    y = np.asarray(best_line.get_ydata(), dtype=float)
    assert np.all(np.diff(y[np.isfinite(y)]) <= 0)  # never gets worse
    assert y[-1] == pytest.approx(results.best_result["loss"])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"{len(results.errors)} failed (not shown)" in labels
    assert ax.get_yscale() in ("linear", "log")


def test_learning_curves_mark_stopped_trials_and_colour_by_final_metric(experiments):
    results = experiments["asha"]
    figure = plot.learning_curves(results)
    ax = figure.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(label.startswith("stopped early") for label in labels)  # ASHA stopped some
    assert figure.axes[-1].get_ylabel() == "final loss"  # the colour bar
    assert ax.get_title() == "learning curves: 40 trials"


def test_learning_curves_of_one_shot_trials_say_so(experiments):
    figure = plot.learning_curves(experiments["oneshot"])
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert any("no learning curves" in text for text in texts)


def test_pbt_lineage_draws_the_exploit_links(experiments):
    figure = plot.pbt_lineage(experiments["pbt"])
    ax = figure.axes[0]
    assert ax.get_title() == "PBT lineage: 4 trials, 3 exploit steps"
    lanes, links = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(lanes.get_segments()) == 4 and len(links.get_segments()) == 3
    assert experiments["pbt"].pbt_schedule("00003")[-1]["parent_id"] == "00001"


def test_paused_trials_are_dashed(experiments, tmp_path):
    from raysweep.results import Results
    from raysweep.trial import TrialStatus

    asha = experiments["asha"]
    trials = [t for t in asha.trials]
    paused = max(trials, key=lambda t: t.iteration)
    status = paused.status
    try:
        paused.status = TrialStatus.PAUSED
        results = Results(trials, metric="loss", mode="min", path=asha.path,
                          settings=asha.settings)
        ax = plot.learning_curves(results).axes[0]
    finally:
        paused.status = status
    styles = [c.get_linestyle() for c in ax.collections if isinstance(c, LineCollection)]
    assert any(style[0][1] is not None for style in styles)  # a dashed collection exists
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "paused (1 shown)" in labels


# ---------------------------------------------------------------------------- importance
def test_param_importance_finds_the_parameter_that_matters(experiments):
    scores = plot.param_importance(experiments["oneshot"])
    assert scores.index[0] == "lr"
    assert scores.sum() == pytest.approx(1.0)
    assert set(scores.index) == {"lr", "width", "opt", "net/kind", "net/layers", "net/kernel"}
    assert list(plot.param_importance(experiments["oneshot"], params=["width", "opt"]).index) \
        != []
    with pytest.raises(ValueError, match="params: no parameter 'nope'"):
        plot.param_importance(experiments["oneshot"], params=["nope"])


def test_importance_with_too_few_trials_explains_itself(tmp_path):
    results = rs.run(lambda c: c["x"] + c["y"], {"x": rs.uniform(0, 1), "y": rs.uniform(0, 1)},
                     metric="loss", num_samples=2, executor="inline",
                     storage_path=str(tmp_path), verbose=0)
    with pytest.raises(ValueError, match="at least 4 trials with a finite loss, got 2"):
        plot.param_importance(results)
    texts = [t.get_text() for t in plot.importance(results).axes[0].texts]
    assert any("at least 4 trials" in text for text in texts)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="max_lines must be an int >= 2, got 0"):
        plot.parallel_coordinates(None, max_lines=0)
    with pytest.raises(ValueError, match="max_curves must be an int >= 2, got 1.5"):
        plot.learning_curves(None, max_curves=1.5)
    with pytest.raises(TypeError, match="results must be a raysweep.Results or an experiment"):
        plot.history(42)


def test_an_experiment_without_trials_renders_messages(tmp_path):
    path = tmp_path / "empty"
    path.mkdir()
    (path / "experiment.json").write_text(json.dumps({"metric": "loss", "mode": "min"}))
    for draw in PLOTS:
        _png(draw(str(path)))


# ------------------------------------------------------------------------------- scale
def _write_big(path: str, n_trials: int, n_reports: int) -> None:
    rng = np.random.default_rng(0)
    os.makedirs(path)
    with open(os.path.join(path, "experiment.json"), "w") as handle:
        json.dump({"name": "big", "metric": "acc", "mode": "max", "space": {
            "type": "space", "spec": {"type": "dict", "items": [
                ["lr", {"type": "float", "low": 1e-5, "high": 1, "log": True}]]}}}, handle)
    lines = []
    for i in range(n_trials):
        trial_id = f"{i:05d}"
        lr = float(10 ** rng.uniform(-5, 0))
        config = {"lr": lr, "layers": int(rng.integers(1, 9)), "act": ["relu", "tanh"][i % 2]}
        lines.append(json.dumps({"e": "new", "id": trial_id, "c": config, "t": 1.0}))
        reports = n_reports if i % 3 == 0 else 2
        for step in range(1, reports + 1):
            acc = 1 - abs(np.log10(lr) + 3) / 5 - 0.5 / step + 0.02 * rng.standard_normal()
            lines.append(json.dumps({"e": "r", "id": trial_id,
                                     "r": {"acc": acc, "training_iteration": step}}))
        lines.append(json.dumps({"e": "s", "id": trial_id, "s": "TERMINATED", "t": 2.0}))
    with open(os.path.join(path, "journal.jsonl"), "w") as handle:
        handle.write("\n".join(lines) + "\n")


def test_plots_thin_and_stay_quick_at_10000_trials(tmp_path):
    path = str(tmp_path / "big")
    _write_big(path, 10_000, 10)
    results = rs.load(path)
    results.history()  # read the journal once (shared by the plots)
    timings = {}
    for draw in PLOTS[:-1]:  # the dashboard only combines these
        started = time.monotonic()
        figure = draw(results)
        _png(figure)
        timings[draw.__name__] = time.monotonic() - started
    assert all(seconds < 30 for seconds in timings.values()), timings

    ax = plot.parallel_coordinates(results, max_lines=200).axes[0]
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(lines.get_segments()) == 200
    assert "200 of 10000 trials (best 100 + random sample)" in ax.get_title()
    best = results.best_result["acc"]
    ax = plot.learning_curves(results, max_curves=60).axes[0]
    segments = sum(len(c.get_segments()) for c in ax.collections
                   if isinstance(c, LineCollection))
    assert segments <= 60
    assert "60 of 10000 trials" in ax.get_title()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "10–90% of all 10000 trials" in labels and "median of all" in labels
    # the best trial is always among those drawn
    drawn_ends = np.concatenate([[seg[-1][1] for seg in c.get_segments()]
                                 for c in ax.collections if isinstance(c, LineCollection)])
    assert np.isclose(drawn_ends, best).any()
    ax = plot.pbt_lineage(results, max_trials=30).axes[0]
    assert ax.get_title().startswith("PBT lineage: 30 of 10000 trials")


# --------------------------------------------------------------------------- edge cases
def _edge(config):
    if config["x"] > 0.9:
        raise RuntimeError("diverged")
    for step in range(1, 5):
        value = config["x"] / step
        if config["x"] < 0.15:
            value = float("nan")
        elif config["x"] > 0.8 and step == 3:
            value = float("inf")
        rs.report({"score": value})


EDGE_SPACE = {"x": rs.uniform(0, 1), "opt": ["adam", "sgd"],
              "net": rs.choice([{"kind": "mlp", "layers": rs.randint(1, 4)},
                                {"kind": "cnn", "kernel": [3, 5]}])}


def test_mode_max_with_nan_inf_errors_and_conditional_params(tmp_path):
    results = rs.run(_edge, EDGE_SPACE, metric="score", mode="max", num_samples=40, seed=2,
                     executor="inline", storage_path=str(tmp_path), name="edge", verbose=0)
    frame = results.dataframe()
    assert frame.status.eq("ERROR").any() and frame.score.isna().any()
    for draw in PLOTS:
        _png(draw(results))
    ax = plot.history(results).axes[0]
    best_line = next(line for line in ax.get_lines() if line.get_label() == "best so far")
    y = np.asarray(best_line.get_ydata(), dtype=float)
    assert np.all(np.diff(y[np.isfinite(y)]) >= 0)  # max: never gets worse
    assert y[-1] == pytest.approx(results.best_result["score"])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    nan_trials = sum(1 for t in results.trials if t.status.value != "ERROR"
                     and not np.isfinite(t.last_result["score"]))
    assert nan_trials and f"{nan_trials} with non-finite score (not shown)" in labels
    assert f"{len(results.errors)} failed (not shown)" in labels
    curves = plot.learning_curves(results).axes[0]
    assert all(float(tick).is_integer() for tick in curves.get_xticks())  # whole iterations
    # the parallel-coordinates metric axis puts the best (largest) score at the top
    par = plot.parallel_coordinates(results).axes[0]
    top_label = max((t for t in par.texts if t.get_text() != "n/a"),
                    key=lambda t: (t.get_position()[0], t.get_position()[1]))
    assert top_label.get_text() == f"{results.best_result['score']:.3g}"


def test_all_failed_and_single_trial_experiments(tmp_path):
    def fail(config):
        raise ValueError("nope")

    failed = rs.run(fail, {"x": rs.uniform(0, 1)}, metric="loss", num_samples=3,
                    executor="inline", storage_path=str(tmp_path), name="failed", verbose=0)
    texts = [t.get_text() for t in plot.history(failed).axes[0].texts]
    assert "all 3 trials failed: no loss to show" in texts
    one = rs.run(lambda c: c["x"], {"x": rs.uniform(0, 1)}, metric="loss", num_samples=1,
                 executor="inline", storage_path=str(tmp_path), name="one", verbose=0)
    for results in (failed, one):
        for draw in PLOTS:
            _png(draw(results))


# ------------------------------------------------------- readable plots (issue: first minute)
def _write_curves(path: str, finals: list[float], mode: str = "min", steps: int = 6,
                  space: dict | None = None, configs: list[dict] | None = None) -> None:
    """An experiment whose trial ``i`` ends at ``finals[i]`` after ``steps`` reports."""
    os.makedirs(path)
    settings = {"name": os.path.basename(path), "metric": "loss", "mode": mode}
    if space is not None:
        settings["space"] = space
    with open(os.path.join(path, "experiment.json"), "w") as handle:
        json.dump(settings, handle)
    lines = []
    for i, final in enumerate(finals):
        trial_id = f"{i:05d}"
        config = configs[i] if configs else {"lr": 10 ** (-4 + 4 * i / len(finals))}
        lines.append(json.dumps({"e": "new", "id": trial_id, "c": config, "t": 1.0}))
        for step in range(1, steps + 1):
            value = final * (1 + 1.0 / step) if final < 1e6 else final * step
            lines.append(json.dumps({"e": "r", "id": trial_id,
                                     "r": {"loss": value, "training_iteration": step}}))
        lines.append(json.dumps({"e": "s", "id": trial_id, "s": "TERMINATED", "t": 2.0}))
    with open(os.path.join(path, "journal.jsonl"), "w") as handle:
        handle.write("\n".join(lines) + "\n")


def _drawn(figure):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # layout done: window extents are final
    return canvas.get_renderer()


def _overlap(a, b) -> float:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(0.0, width) * max(0.0, height)


DIVERGED = [0.2 + 0.03 * i for i in range(40)] + [3e20, 1e24, 5e22]


@pytest.mark.parametrize("draw", [plot.history, plot.learning_curves],
                         ids=lambda f: f.__name__)
def test_legend_sits_outside_the_axes(draw, experiments):
    figure = draw(experiments["asha"])
    renderer = _drawn(figure)
    ax = figure.axes[0]
    legend = ax.get_legend()
    assert legend is not None
    assert _overlap(legend.get_window_extent(renderer), ax.get_window_extent(renderer)) == 0
    assert figure.bbox.contains(*legend.get_window_extent(renderer).p0)  # not cut off


def test_diverged_trials_do_not_squash_the_others(tmp_path):
    path = str(tmp_path / "diverged")
    _write_curves(path, DIVERGED)
    results = rs.load(path)
    ax = plot.history(results).axes[0]
    low, high = ax.get_ylim()
    assert low < 0.2 and 1.37 < high < 10  # the 40 real trials fill the axis
    assert ax.get_yscale() == "linear"  # 0.2 .. 1.4 is no reason for a log axis
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "3 trials above the axis (up to 6e+24)" in labels  # last of 1e24 * step
    curves = plot.learning_curves(results).axes[0]
    low, high = curves.get_ylim()
    assert high < 10 and low < 0.2 * (1 + 1 / 6)
    labels = [t.get_text() for t in curves.get_legend().get_texts()]
    assert "3 trials go above the axis (up to 6e+24)" in labels
    full = plot.history(results, ylim="full").axes[0]
    assert full.get_ylim()[1] >= 1e24
    assert plot.history(results, ylim=(0, 1)).axes[0].get_ylim() == (0, 1)
    with pytest.raises(ValueError, match="ylim must be None, 'full' or a \\(low, high\\) pair"):
        plot.history(results, ylim="tight")


def test_the_best_trial_is_never_cut_off(tmp_path):
    low_best = [0.5 + 0.01 * i for i in range(30)] + [1e-9]  # min: a far better trial
    _write_curves(str(tmp_path / "min"), low_best)
    ax = plot.history(rs.load(str(tmp_path / "min"))).axes[0]
    assert ax.get_ylim()[0] <= 1e-9
    crashed = [0.5 + 0.01 * i for i in range(30)] + [-1e9, -5e8]  # max: diverged low
    _write_curves(str(tmp_path / "max"), crashed, mode="max")
    ax = plot.history(rs.load(str(tmp_path / "max"))).axes[0]
    low, high = ax.get_ylim()
    assert -1 < low < 0.5 * (1 + 1 / 6) and high >= 0.79 * (1 + 1 / 6)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "2 trials below the axis (up to -1.17e+09)" in labels


def test_log_scale_when_the_metric_spans_decades(tmp_path):
    rng = np.random.default_rng(1)
    _write_curves(str(tmp_path / "decades"), list(10 ** rng.uniform(-5, 0, 60)))
    results = rs.load(str(tmp_path / "decades"))
    assert plot.history(results).axes[0].get_yscale() == "log"
    assert plot.learning_curves(results).axes[0].get_yscale() == "log"
    _write_curves(str(tmp_path / "flat"), list(rng.uniform(1, 2, 60)))
    assert plot.history(rs.load(str(tmp_path / "flat"))).axes[0].get_yscale() == "linear"


def _axis_labels(ax, index):
    return [t for t in ax.texts if abs(t.get_position()[0] - (index + 0.02)) < 1e-9]


def test_parallel_coordinates_labels_ticks_na_and_log(tmp_path):
    rng = np.random.default_rng(3)
    configs = []
    for i in range(60):
        config = {"lr": float(10 ** rng.uniform(-5, 0)), "width": int(rng.integers(8, 257)),
                  "opt": ["adam", "sgd", "rmsprop"][i % 3]}
        if i % 4:
            config["depth"] = int(rng.integers(1, 9))  # absent in a quarter: n/a
        configs.append(config)
    space = {"type": "space", "spec": {"type": "dict", "items": [
        ["lr", {"type": "float", "low": 1e-5, "high": 1, "log": True}]]}}
    finals = [0.2 + 0.025 * i for i in range(57)] + [3e20, 1e24, 5e22]
    _write_curves(str(tmp_path / "par"), finals, space=space, configs=configs)
    figure = plot.parallel_coordinates(rs.load(str(tmp_path / "par")))
    renderer = _drawn(figure)
    ax = figure.axes[0]
    names = [t.get_text() for t in ax.get_xticklabels()]
    assert names == ["lr\n(log)", "width", "opt", "depth", "loss"]
    for label in ax.get_xticklabels():  # the log tag is not cut off
        box = label.get_window_extent(renderer)
        assert figure.bbox.contains(box.x0, box.y0) and figure.bbox.contains(box.x1, box.y1)
    texts = {i: _axis_labels(ax, i) for i in range(5)}
    lr_labels = [t.get_text() for t in texts[0]]
    assert len(lr_labels) >= 4 and {"0.0001", "0.001", "0.01", "0.1"} & set(lr_labels)
    assert len(texts[1]) >= 3  # width: round ticks between min and max
    assert sorted(t.get_text() for t in texts[2]) == ["adam", "rmsprop", "sgd"]
    assert "n/a" in [t.get_text() for t in texts[3]]
    metric = [t.get_text() for t in texts[4]]
    top = f"{1.6 * (1 + 1 / 6):.3g}"  # the worst real trial's last report
    assert f"> {top} (3)" in metric and top in metric  # outliers sit beyond the end
    for labels in texts.values():  # labels of one axis never overlap one another
        boxes = [t.get_bbox_patch().get_window_extent(renderer) for t in labels]
        assert all(_overlap(a, b) == 0 for i, a in enumerate(boxes) for b in boxes[i + 1:])
    # a label sits on the flat stretch of the lines next to its axis, never on their slopes
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    boxes = [t.get_bbox_patch().get_window_extent(renderer) for t in ax.texts]
    for segment in lines.get_segments():
        for (x0, y0), (x1, y1) in zip(segment[:-1], segment[1:]):
            if y0 == y1:
                continue
            points = ax.transData.transform(np.column_stack(
                [np.linspace(x0, x1, 40)[1:-1], np.linspace(y0, y1, 40)[1:-1]]))
            assert not any(box.contains(*p) for box in boxes for p in points)


def test_importance_with_one_parameter_shows_the_metric_against_it(tmp_path):
    results = rs.run(lambda c: (np.log10(c["lr"]) + 2) ** 2, {"lr": rs.loguniform(1e-4, 1)},
                     metric="loss", num_samples=20, seed=1, executor="inline",
                     storage_path=str(tmp_path), verbose=0)
    ax = plot.importance(results).axes[0]
    assert "only parameter that varies" in ax.get_title()
    assert not ax.patches  # no meaningless full-width bar
    (points,) = ax.collections
    assert len(points.get_offsets()) == 20 and ax.get_xscale() == "log"
    two = rs.run(lambda c: c["x"] + c["y"], {"x": rs.uniform(0, 1), "y": rs.uniform(0, 1)},
                 metric="loss", num_samples=20, seed=1, executor="inline",
                 storage_path=str(tmp_path), verbose=0)
    assert len(plot.importance(two).axes[0].patches) == 2  # bars as before


def test_a_metric_named_error_keeps_its_column(tmp_path):
    def objective(config):
        if config["x"] > 0.8:
            raise ValueError("too big")
        return {"error": config["x"]}

    results = rs.run(objective, {"x": rs.uniform(0, 1)}, metric="error", num_samples=20,
                     seed=4, executor="inline", storage_path=str(tmp_path), verbose=0)
    frame = results.dataframe()
    failed = frame[frame.status == "ERROR"]
    assert len(failed) and failed.trial_error.str.contains("too big").all()
    assert failed.error.isna().all()  # the metric column holds no messages
    assert frame.loc[frame.status != "ERROR", "error"].map(lambda v: isinstance(v, float)).all()
    assert frame.loc[frame.status != "ERROR", "trial_error"].isna().all()
    _png(plot.history(results))
