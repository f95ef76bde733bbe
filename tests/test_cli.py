"""The ``raysweep`` command against real experiment directories (no Ray started)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest

import raysweep as rs
from raysweep import storage as _storage
from raysweep.cli import main


def _objective(config):
    if config["x"] > 0.9:
        raise ValueError(f"x too large: {config['x']}")
    return {"loss": (config["x"] - 0.3) ** 2 + 0.01 * config["model"]["depth"],
            "acc": 1 - config["x"]}


def _iterative(config):
    for step in range(6):
        rs.report({"loss": config["x"] / (step + 1)})


SPACE = {"x": rs.uniform(0, 1), "kind": ["a", "b"], "model": {"depth": rs.randint(1, 6)}}


@pytest.fixture(scope="module")
def experiments(tmp_path_factory):
    """A storage path with a finished, an iterative, a partial and a foreign directory."""
    root = str(tmp_path_factory.mktemp("cli") / "results")
    rs.run(_objective, SPACE, metric="loss", num_samples=60, seed=1, executor="inline",
           storage_path=root, name="oneshot", verbose=0)
    rs.run(_iterative, SPACE, metric="loss", num_samples=12, seed=2, executor="inline",
           storage_path=root, name="curves", scheduler="asha", verbose=0)
    # A partially written experiment: a driver killed mid-run (no results.csv, no session end,
    # the last journal line torn in half).
    partial = os.path.join(root, "partial")
    shutil.copytree(os.path.join(root, "curves"), partial)
    os.remove(os.path.join(partial, _storage.RESULTS_FILE))
    journal = os.path.join(partial, _storage.JOURNAL_FILE)
    with open(journal, "rb") as handle:
        lines = handle.read().split(b"\n")
    keep = lines[: len(lines) // 2]
    with open(journal, "wb") as handle:
        handle.write(b"\n".join(keep) + b"\n" + lines[len(lines) // 2][:17])
    with open(os.path.join(partial, _storage.EXPERIMENT_FILE)) as handle:
        settings = json.load(handle)
    settings["name"] = "partial"
    with open(os.path.join(partial, _storage.EXPERIMENT_FILE), "w") as handle:
        json.dump(settings, handle)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(partial, _storage.LOCK_FILE), "w") as handle:
        handle.write(f"pid {gone} on {socket.gethostname()}\n")  # its driver died
    foreign = os.path.join(root, "not_an_experiment")
    os.makedirs(foreign)
    with open(os.path.join(foreign, "notes.txt"), "w") as handle:
        handle.write("hello")
    return root


def _cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ----------------------------------------------------------------------------------- ls
def test_ls_lists_experiments_with_counts_best_and_state(experiments, capsys):
    code, out, err = _cli(capsys, "ls", experiments)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "TRIALS", "STATUS", "METRIC", "BEST", "STATE",
                                "UPDATED"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"curves", "oneshot", "partial"}  # the foreign directory is skipped
    oneshot = rs.load(os.path.join(experiments, "oneshot"))
    counts = oneshot.status_counts()
    assert f"{counts['TERMINATED']} done {counts['ERROR']} error" in rows["oneshot"]
    assert f"{oneshot.best_result['loss']:.6g}" in rows["oneshot"]
    assert " ended " in rows["oneshot"]
    assert "unfinished" in rows["partial"] and "running" in rows["partial"]


def test_ls_tells_a_live_driver_from_a_dead_one(experiments, tmp_path, capsys):
    live = tmp_path / "live"
    shutil.copytree(os.path.join(experiments, "partial"), live)
    (live / _storage.LOCK_FILE).write_text(f"pid {os.getpid()} on {socket.gethostname()}\n")
    code, out, _ = _cli(capsys, "ls", str(tmp_path))
    assert code == 0 and f"running (pid {os.getpid()})" in out


def test_ls_of_one_experiment_and_of_an_empty_directory(experiments, tmp_path, capsys):
    code, out, _ = _cli(capsys, "ls", os.path.join(experiments, "curves"))
    assert code == 0 and len(out.splitlines()) == 2 and out.splitlines()[1].startswith("curves")
    code, out, _ = _cli(capsys, "ls", str(tmp_path))
    assert code == 0 and "no raysweep experiments in" in out


@pytest.mark.parametrize("command", [["ls"], ["show"], ["export"], ["plot", "--out", "x.png"]])
def test_missing_directory_is_one_line_and_exit_2(command, tmp_path, capsys):
    missing = str(tmp_path / "nope")
    argv = [command[0], missing, *command[1:]]
    code, out, err = _cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("raysweep: error: ")
    assert "no such directory" in err and missing in err


@pytest.mark.parametrize("command", ["show", "export", "plot"])
def test_foreign_directory_is_one_line_and_exit_2(command, experiments, capsys):
    foreign = os.path.join(experiments, "not_an_experiment")
    argv = [command, foreign] + (["--out", "x.png"] if command == "plot" else [])
    code, out, err = _cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.strip() == f"raysweep: error: {foreign}: not a raysweep experiment directory " \
                          "(no experiment.json)"


def test_foreign_experiment_json_and_corrupt_journal(tmp_path, experiments, capsys):
    other = tmp_path / "other_tool"
    other.mkdir()
    (other / "experiment.json").write_text('{"framework": "something else"}')
    code, _, err = _cli(capsys, "show", str(other))
    assert code == 2 and "has no metric/mode" in err and err.count("\n") == 1
    broken = tmp_path / "broken"
    shutil.copytree(os.path.join(experiments, "oneshot"), broken)
    journal = broken / "journal.jsonl"
    lines = journal.read_text().splitlines()
    lines[3] = "{not json"
    journal.write_text("\n".join(lines) + "\n")
    code, _, err = _cli(capsys, "show", str(broken))
    assert code == 2 and "line 4 is not a valid journal event" in err and err.count("\n") == 1


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["export", "x", "--format", "xml"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# --------------------------------------------------------------------------------- show
def test_show_prints_summary_and_top_trials(experiments, capsys):
    path = os.path.join(experiments, "oneshot")
    code, out, err = _cli(capsys, "show", path, "-n", "5")
    assert code == 0, err
    results = rs.load(path)
    best = results.best_trial
    assert "metric loss (min)" in out and "60 trials" in out
    assert f"best loss = {results.best_result['loss']:.6g} (trial {best.trial_id}" in out
    assert "failed; last (trial" in out and "x too large" in out
    table = out.split("top 5 of 60 by loss (ascending):\n")[1].splitlines()
    assert table[0].split()[:3] == ["trial_id", "status", "loss"]
    assert len(table) == 6 and table[1].split()[0] == best.trial_id
    frame = results.dataframe()
    ok = frame[frame.status == "TERMINATED"].sort_values("loss")
    assert [row.split()[0] for row in table[1:]] == list(ok.trial_id[:5])


def test_show_sort_direction_and_columns(experiments, capsys):
    path = os.path.join(experiments, "oneshot")
    code, out, _ = _cli(capsys, "show", path, "-n", "3", "--sort", "x", "--desc",
                        "--columns", "trial_id,x,acc")
    assert code == 0
    table = out.split("by config/x (descending):\n")[1].splitlines()
    assert table[0].split() == ["trial_id", "config/x", "acc"]
    frame = rs.load(path).dataframe().sort_values("config/x", ascending=False)
    assert [line.split()[0] for line in table[1:]] == list(frame.trial_id[:3])
    code, _, err = _cli(capsys, "show", path, "--sort", "nope")
    assert code == 2 and "no column 'nope'" in err and err.count("\n") == 1


def test_show_partially_written_experiment(experiments, capsys):
    code, out, err = _cli(capsys, "show", os.path.join(experiments, "partial"))
    assert code == 0, err
    assert "running" in out and "top " in out


# ------------------------------------------------------------------------------- export
def test_export_csv_json_and_history(experiments, tmp_path, capsys):
    path = os.path.join(experiments, "oneshot")
    frame = rs.load(path).dataframe()
    code, out, _ = _cli(capsys, "export", path, "--format", "csv")
    assert code == 0
    exported = pd.read_csv(pd.io.common.StringIO(out), dtype={"trial_id": str})
    assert list(exported.trial_id) == list(frame.trial_id)
    assert list(exported.columns) == list(frame.columns)
    out_file = tmp_path / "trials.jsonl"
    code, _, err = _cli(capsys, "export", path, "--format", "json", "--out", str(out_file))
    assert code == 0 and "wrote 60 rows" in err
    records = pd.read_json(out_file, lines=True, dtype={"trial_id": str})
    assert len(records) == 60 and "config/model/depth" in records.columns
    curves = os.path.join(experiments, "curves")
    code, out, _ = _cli(capsys, "export", curves, "--history")
    history = pd.read_csv(pd.io.common.StringIO(out))
    assert len(history) == len(rs.load(curves).history())
    assert {"trial_id", "training_iteration", "status", "loss", "config/x"} <= set(
        history.columns)


def test_export_parquet(experiments, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    path = os.path.join(experiments, "oneshot")
    out_file = tmp_path / "trials.parquet"
    code, _, _ = _cli(capsys, "export", path, "--format", "parquet", "--out", str(out_file))
    assert code == 0
    table = pd.read_parquet(out_file)
    assert len(table) == 60 and set(table.status) == {"TERMINATED", "ERROR"}
    code, _, err = _cli(capsys, "export", path, "--format", "parquet")
    assert code == 2 and "needs --out" in err


# --------------------------------------------------------------------------------- plot
@pytest.mark.parametrize("kind", ["dashboard", "history", "parallel", "curves", "importance"])
def test_plot_writes_an_image(kind, experiments, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out_file = tmp_path / f"{kind}.png"
    code, _, err = _cli(capsys, "plot", os.path.join(experiments, "curves"), "--out",
                        str(out_file), "--kind", kind)
    assert code == 0, err
    assert out_file.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = _cli(capsys, "plot", os.path.join(experiments, "curves"), "--out",
                        str(tmp_path / "no" / "dir.png"))
    assert code == 2 and "no such directory for --out" in err


# -------------------------------------------------------------------- console script, scale
def test_console_script_runs_without_starting_ray(experiments):
    code = ("import sys; from raysweep.cli import main; "
            f"codes = [main(['ls', {experiments!r}]), "
            f"main(['show', {experiments!r} + '/curves'])]; "
            "assert codes == [0, 0], codes; "
            "assert 'ray' not in sys.modules, 'ray was imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    script = shutil.which("raysweep")
    if script is not None:
        done = subprocess.run([script, "show", os.path.join(experiments, "nope")],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 2 and done.stderr.count("\n") == 1


def write_synthetic(path: str, n_trials: int, n_reports: int, seed: int = 0) -> None:
    """An experiment directory in the documented format, written directly (fast)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    os.makedirs(path)
    space = {"type": "space", "spec": {"type": "dict", "items": [
        ["lr", {"type": "float", "low": 1e-5, "high": 1.0, "log": True, "q": None}],
        ["width", {"type": "int", "low": 8, "high": 512, "q": 1, "log": False,
                   "include_high": False}],
        ["opt", {"type": "choice", "branches": [{"type": "fixed", "value": "adam"},
                                                {"type": "fixed", "value": "sgd"}]}]]}}
    settings = {"version": "0.1.0", "format": 1, "name": os.path.basename(path),
                "metric": "loss", "mode": "min", "scope": "last", "num_samples": n_trials,
                "space": space, "search": "random", "scheduler": "asha", "seed": seed}
    with open(os.path.join(path, "experiment.json"), "w") as handle:
        json.dump(settings, handle)
    lines = [json.dumps({"e": "session", "kind": "start", "t": 0})]
    t = 1.7e9
    for i in range(n_trials):
        trial_id = f"{i:05d}"
        config = {"lr": float(10 ** rng.uniform(-5, 0)), "width": int(rng.integers(8, 512)),
                  "opt": ["adam", "sgd"][int(rng.integers(2))]}
        lines.append(json.dumps({"e": "new", "id": trial_id, "c": config, "t": t + i}))
        quality = abs(np.log10(config["lr"]) + 2.5) + (0.3 if config["opt"] == "sgd" else 0)
        reports = n_reports if rng.random() < 0.3 else max(1, n_reports // 4)
        for step in range(1, reports + 1):
            loss = quality + 1.0 / step + 0.01 * rng.standard_normal()
            lines.append(json.dumps({"e": "r", "id": trial_id, "r": {
                "loss": loss, "training_iteration": step, "time_total_s": 0.01 * step}}))
        status = "ERROR" if rng.random() < 0.01 else "TERMINATED"
        event = {"e": "s", "id": trial_id, "s": status, "t": t + i + 1}
        if status == "ERROR":
            event["err"] = "Traceback...\nRuntimeError: diverged"
        lines.append(json.dumps(event))
    lines.append(json.dumps({"e": "session", "kind": "end", "t": t + n_trials}))
    with open(os.path.join(path, "journal.jsonl"), "w") as handle:
        handle.write("\n".join(lines) + "\n")


def test_every_command_stays_fast_at_10000_trials(tmp_path, capsys):
    path = str(tmp_path / "big")
    write_synthetic(path, 10_000, 8)
    timings = {}
    for name, argv in {
        "ls": ["ls", str(tmp_path)],
        "show": ["show", path, "-n", "20"],
        "export": ["export", path, "--format", "csv", "--out", str(tmp_path / "big.csv")],
        "plot": ["plot", path, "--out", str(tmp_path / "big.png"), "--kind", "history"],
    }.items():
        started = time.monotonic()
        code, _, err = _cli(capsys, *argv)
        timings[name] = time.monotonic() - started
        assert code == 0, err
    # Seconds, not minutes (generous bounds: this machine is shared).
    assert all(seconds < 45 for seconds in timings.values()), timings
    assert len(pd.read_csv(tmp_path / "big.csv")) == 10_000


# ------------------------------------------------------ results presentation (_present.py)
def test_trials_frame_matches_results_dataframe_and_its_options(experiments):
    from raysweep import _present

    results = rs.load(os.path.join(experiments, "curves"))
    pd.testing.assert_frame_equal(_present.trials_frame(results), results.dataframe())
    for scope in ("last", "all"):
        pd.testing.assert_frame_equal(_present.trials_frame(results, scope=scope),
                                      results.dataframe(scope=scope))
    nested = _present.trials_frame(results, flatten=False)
    assert "config" in nested.columns and not any(c.startswith("config/") for c in nested)
    assert nested.config.iloc[0] == results.trials[0].config
    history = _present.trials_frame(results, include_history=True)
    assert len(history) == len(results.history())
    assert list(history.columns[:3]) == ["trial_id", "training_iteration", "status"]
    assert (history["config/x"] == history.trial_id.map(
        {t.trial_id: t.config["x"] for t in results.trials})).all()
    with pytest.raises(ValueError, match="scope must be 'last' or 'all', got 'best'"):
        _present.trials_frame(results, scope="best")


def test_history_frame_follows_pbt_config_changes(tmp_path):
    from raysweep import _present

    path = tmp_path / "pbt"
    path.mkdir()
    (path / "experiment.json").write_text(json.dumps({"metric": "loss", "mode": "min"}))
    events = [{"e": "new", "id": "00000", "c": {"lr": 0.1}}, {"e": "new", "id": "00001",
                                                              "c": {"lr": 0.5}}]
    for step in (1, 2):
        events += [{"e": "r", "id": t, "r": {"loss": 1.0 / step, "training_iteration": step},
                    "ck": 1} for t in ("00000", "00001")]
    events.append({"e": "fork", "id": "00001", "p": "00000", "c": {"lr": 0.12}, "i": 2,
                   "ci": 2})
    events.append({"e": "r", "id": "00001", "r": {"loss": 0.3, "training_iteration": 3}})
    events += [{"e": "s", "id": t, "s": "TERMINATED"} for t in ("00000", "00001")]
    (path / "journal.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    history = _present.trials_frame(rs.load(path), include_history=True)
    mine = history[history.trial_id == "00001"]
    assert list(mine.training_iteration) == [1, 2, 3]
    assert list(mine["config/lr"]) == [0.5, 0.5, 0.12]
    nested = _present.trials_frame(rs.load(path), include_history=True, flatten=False)
    assert nested[nested.trial_id == "00001"].config.iloc[-1] == {"lr": 0.12}


def test_top_summary_and_html(experiments):
    from raysweep import _present

    results = rs.load(os.path.join(experiments, "oneshot"))
    table = _present.top(results, 4)
    assert len(table) == 4 and table.loss.is_monotonic_increasing
    assert table.trial_id[0] == results.best_trial.trial_id
    assert list(table.columns) == ["trial_id", "status", "loss", "training_iteration",
                                   "time_total_s", "config/x", "config/kind",
                                   "config/model/depth"]
    by_acc = _present.top(results, 3, sort="acc", ascending=False, columns=["trial_id", "acc"])
    assert by_acc.acc.is_monotonic_decreasing and list(by_acc.columns) == ["trial_id", "acc"]
    with pytest.raises(ValueError, match="top: n must be an int >= 1, got 0"):
        _present.top(results, 0)
    everything = _present.top(results, 1000)
    assert (everything.status.iloc[-len(results.errors):] == "ERROR").all()  # failures last
    text = _present.summary(results)
    assert text.splitlines()[0].startswith("experiment oneshot")
    assert "top 5:" in text and results.best_trial.trial_id in text
    html = _present.repr_html(results)
    assert html.startswith("<div><b>raysweep Results</b>: 60 trials")
    assert html.count("<tr") == 11 and "best 10 of 60 by loss" in html


# ------------------------------------------------------------------ bad input, one line each
def _one_line_error(code, out, err, *fragments):
    assert code == 2 and out == "", (code, out, err)
    assert err.count("\n") == 1 and err.startswith("raysweep: error: "), err
    for fragment in fragments:
        assert fragment in err, err


def test_ls_of_a_file_says_not_a_directory(tmp_path, capsys):
    file = tmp_path / "notes.txt"
    file.write_text("hello")
    _one_line_error(*_cli(capsys, "ls", str(file)), f"{file}: not a directory")


def test_export_to_a_bad_out_is_one_line_and_writes_nothing(experiments, tmp_path, capsys):
    path = os.path.join(experiments, "oneshot")
    for fmt in ("csv", "json", "parquet"):
        missing = tmp_path / "no" / f"trials.{fmt}"
        _one_line_error(*_cli(capsys, "export", path, "--format", fmt, "--out", str(missing)),
                        "no such directory for --out", str(missing.parent))
        _one_line_error(*_cli(capsys, "export", path, "--format", fmt, "--out",
                              str(tmp_path)), "--out is a directory")
    assert sorted(os.listdir(tmp_path)) == []
    # a missing experiment is reported first, whatever --out is
    _one_line_error(*_cli(capsys, "export", str(tmp_path / "nope"), "--out", str(tmp_path)),
                    "no such directory")


def test_export_format_follows_the_out_suffix(experiments, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    path = os.path.join(experiments, "oneshot")
    code, _, err = _cli(capsys, "export", path, "--out", str(tmp_path / "t.parquet"))
    assert code == 0, err
    assert len(pd.read_parquet(tmp_path / "t.parquet")) == 60  # parquet, not csv in disguise
    code, _, _ = _cli(capsys, "export", path, "--out", str(tmp_path / "t.jsonl"))
    assert code == 0 and len(pd.read_json(tmp_path / "t.jsonl", lines=True)) == 60
    code, _, _ = _cli(capsys, "export", path, "--format", "jsonl")
    assert code == 0


def test_export_json_keeps_every_digit_and_writes_null_for_non_finite(tmp_path, capsys):
    def objective(config):
        return {"loss": float("nan") if config["x"] < 0.3 else
                (float("inf") if config["x"] > 0.8 else config["x"]), "note": "é/ü"}

    results = rs.run(objective, {"x": rs.uniform(0, 1)}, metric="loss", num_samples=20,
                     seed=5, executor="inline", storage_path=str(tmp_path), name="nan",
                     verbose=0)
    code, out, _ = _cli(capsys, "export", str(tmp_path / "nan"), "--format", "json")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]  # strict JSON, one per line
    assert [r["trial_id"] for r in records] == [t.trial_id for t in results.trials]
    for record, trial in zip(records, results.trials):
        assert record["config/x"] == trial.config["x"]  # exactly, not rounded to 10 digits
        value = trial.last_result["loss"]
        assert record["loss"] == (value if value == value and abs(value) != float("inf")
                                  else None)
    assert "NaN" not in out and "Infinity" not in out and "\\/" not in out
    assert records[0]["note"] == "é/ü"


def test_plot_checks_out_and_dpi_before_drawing(experiments, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = os.path.join(experiments, "curves")
    _one_line_error(*_cli(capsys, "plot", path, "--out", str(tmp_path / "x.xyz")),
                    "--out must end in an image type", ".png", "'" + str(tmp_path / "x.xyz"))
    _one_line_error(*_cli(capsys, "plot", path, "--out", str(tmp_path / "noext")),
                    "--out must end in an image type")
    _one_line_error(*_cli(capsys, "plot", path, "--out", str(tmp_path)), "--out is a directory")
    _one_line_error(*_cli(capsys, "plot", path, "--out", str(tmp_path / "x.png"), "--dpi", "0"),
                    "--dpi must be between 1 and 1200, got 0")
    assert os.listdir(tmp_path) == []
    code, _, err = _cli(capsys, "plot", path, "--out", str(tmp_path / "x.svg"), "--kind",
                        "history")
    assert code == 0 and (tmp_path / "x.svg").read_text().lstrip().startswith("<?xml")


def test_plot_lineage_of_a_pbt_run_and_of_another_run(experiments, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    code, _, err = _cli(capsys, "plot", os.path.join(experiments, "curves"), "--out",
                        str(tmp_path / "l.png"), "--kind", "lineage")
    assert code == 0, err  # not a PBT run: the figure says there is no lineage
    assert (tmp_path / "l.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pbt = tmp_path / "pbt"
    pbt.mkdir()
    (pbt / "experiment.json").write_text(json.dumps({"metric": "loss", "mode": "min",
                                                     "scheduler": "pbt"}))
    events = [{"e": "new", "id": t, "c": {"lr": lr}} for t, lr in (("00000", 0.1),
                                                                   ("00001", 0.5))]
    events += [{"e": "r", "id": t, "r": {"loss": 1.0 / s, "training_iteration": s}, "ck": 1}
               for s in (1, 2) for t in ("00000", "00001")]
    events += [{"e": "fork", "id": "00001", "p": "00000", "c": {"lr": 0.12}, "i": 2, "ci": 2},
               {"e": "r", "id": "00001", "r": {"loss": 0.3, "training_iteration": 3}}]
    events += [{"e": "s", "id": t, "s": "TERMINATED"} for t in ("00000", "00001")]
    (pbt / "journal.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    code, _, err = _cli(capsys, "plot", str(pbt), "--out", str(tmp_path / "l.png"), "--kind",
                        "lineage")
    assert code == 0, err
    assert (tmp_path / "l.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_settings_and_unreadable_events_are_one_line(experiments, tmp_path, capsys):
    bad_mode = tmp_path / "bad_mode"
    bad_mode.mkdir()
    (bad_mode / "experiment.json").write_text(json.dumps({"metric": "loss", "mode": "best"}))
    for command in ("show", "export"):
        _one_line_error(*_cli(capsys, command, str(bad_mode)), "mode 'min' or 'max'",
                        "mode='best'")
    odd = tmp_path / "odd_event"
    odd.mkdir()
    (odd / "experiment.json").write_text(json.dumps({"metric": "loss", "mode": "min"}))
    (odd / "journal.jsonl").write_text('{"e": "new"}\n{"e": "s", "id": "00000"}\n')
    _one_line_error(*_cli(capsys, "show", str(odd)), "journal.jsonl", "the journal is corrupt")
    code, out, _ = _cli(capsys, "ls", str(tmp_path))  # ls lists the readable ones and says why
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(rows) == {"bad_mode", "odd_event"}
    assert all("unreadable" in row for row in rows.values())
    assert "corrupt journal" in rows["odd_event"]


def test_show_top_alias_all_errored_and_max_mode(experiments, tmp_path, capsys):
    path = os.path.join(experiments, "oneshot")
    code, out, _ = _cli(capsys, "show", path, "--top", "3")
    assert code == 0 and "top 3 of 60" in out

    def fail(config):
        raise RuntimeError("always")

    rs.run(fail, {"x": rs.uniform(0, 1)}, metric="loss", num_samples=4, executor="inline",
           storage_path=str(tmp_path), name="failed", verbose=0)
    rs.run(lambda c: {"acc": c["x"]}, {"x": rs.uniform(0, 1)}, metric="acc", mode="max",
           num_samples=8, seed=3, executor="inline", storage_path=str(tmp_path), name="acc",
           verbose=0)
    code, out, err = _cli(capsys, "show", str(tmp_path / "failed"))
    assert code == 0, err
    assert "4 trials: 4 error" in out and "RuntimeError: always" in out
    code, out, _ = _cli(capsys, "show", str(tmp_path / "acc"), "-n", "2")
    best = rs.load(tmp_path / "acc").best_result["acc"]
    assert "by acc (descending)" in out and f"best acc = {best:.6g}" in out
    code, out, _ = _cli(capsys, "ls", str(tmp_path))
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "4 error" in rows["failed"] and f"{best:.6g}" in rows["acc"]


def test_python_dash_m_raysweep_is_the_command():
    done = subprocess.run([sys.executable, "-m", "raysweep", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "usage: raysweep" in done.stdout


def test_summary_of_an_empty_space_and_one_trial(tmp_path):
    results = rs.run(lambda config: 1.0, {}, num_samples=1, executor="inline", verbose=0,
                     storage_path=str(tmp_path), name="empty")
    text = results.summary()
    assert "  1 trial: " in text
    assert all(line.strip() for line in text.splitlines())  # no blank config line


# ------------------------------------------------------- ls: the best under mode and scope
_REPORTS = {"peak": [0.3, 0.9, 0.6, 0.4], "steady": [0.5] * 4, "dip": [0.3, 0.05, 0.2, 0.25],
            "error": [2.0, -3.0], "nan": [0.6, 0.01, float("nan")], "flag": [0.7, True]}


def _reports(config):
    for value in _REPORTS[config["case"]]:
        rs.report({"score": value})
    if config["case"] == "error":
        raise RuntimeError("diverged")


def _ls_best(capsys, root):
    capsys.readouterr()
    assert main(["ls", str(root)]) == 0
    header, row = capsys.readouterr().out.splitlines()
    return row[header.index("BEST"):].split()[0]  # the columns are aligned


@pytest.mark.parametrize("mode, scope, expected", [
    ("max", "last", 0.5), ("max", "all", 0.9), ("min", "last", 0.25), ("min", "all", 0.01)])
def test_ls_best_is_the_results_best_from_the_csv_and_the_journal(mode, scope, expected,
                                                                   tmp_path, capsys):
    """``ls`` reads results.csv of an ended experiment and folds the journal otherwise; both
    give Results' best (one rule, ``Goal``): by the trial's last value or its best one
    (``scope``), never a failed trial, NaN or a bool."""
    rs.run(_reports, {"case": rs.grid(list(_REPORTS))}, metric="score", mode=mode,
           scope=scope, executor="inline", storage_path=str(tmp_path), name="exp", verbose=0)
    assert rs.load(tmp_path / "exp").best_result["score"] == expected
    assert _ls_best(capsys, tmp_path) == f"{expected:.6g}"  # from results.csv
    os.remove(tmp_path / "exp" / _storage.RESULTS_FILE)
    assert _ls_best(capsys, tmp_path) == f"{expected:.6g}"  # from the journal


def test_ls_best_of_a_bool_metric_is_none_as_in_results(tmp_path, capsys):
    """A metric reported as True/False is no value (``Goal``): the CSV's bool column used to
    give ``ls`` a best of 1 where Results had none."""
    rs.run(lambda config: {"ok": config["x"] > 0.5}, {"x": rs.uniform(0, 1)}, metric="ok",
           mode="max", num_samples=4, seed=0, executor="inline", storage_path=str(tmp_path),
           name="flags", verbose=0)
    assert rs.load(tmp_path / "flags").best_result is None
    assert _ls_best(capsys, tmp_path) == "-"
    os.remove(tmp_path / "flags" / _storage.RESULTS_FILE)
    assert _ls_best(capsys, tmp_path) == "-"
