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
    results = rs.run(lambda c: c["x"], {"x": rs.uniform(0, 1)}, metric="loss", num_samples=2,
                     executor="inline", storage_path=str(tmp_path), verbose=0)
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
