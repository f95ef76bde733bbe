"""The ``raysweep`` command: list, show, export and plot experiments (no Ray is started).

    raysweep ls [STORAGE]                       experiments under STORAGE (~/raysweep_results)
    raysweep show DIR [-n 10] [--sort COL] [--asc|--desc] [--columns a,b,c]
    raysweep export DIR [--format csv|parquet|json] [--out FILE] [--history]
    raysweep plot DIR --out FILE.png [--kind dashboard|history|parallel|curves|importance|lineage]

A missing directory, a directory that is not a raysweep experiment, or a corrupt journal is
one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import socket
import sys
from typing import Any

from raysweep import journal, storage
from raysweep._goal import Goal, metric_value, metric_values

EXIT_USAGE = 2
_PLOT_KINDS = ("dashboard", "history", "parallel", "curves", "importance", "lineage")
_MAX_DPI = 1200  # a 15 x 9 inch dashboard is then 18000 x 10800 pixels


class CommandError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


# ------------------------------------------------------------------------------- helpers
def _check_experiment(path: str) -> tuple[str, dict[str, Any]]:
    """Absolute path and settings of an experiment directory, or a CommandError."""
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.exists(path):
        raise CommandError(f"{path}: no such directory")
    if not os.path.isdir(path):
        raise CommandError(f"{path}: not a directory")
    file = os.path.join(path, storage.EXPERIMENT_FILE)
    if not os.path.isfile(file):
        raise CommandError(f"{path}: not a raysweep experiment directory (no "
                           f"{storage.EXPERIMENT_FILE})")
    try:
        with open(file, encoding="utf-8") as handle:
            settings = json.load(handle)
    except (OSError, ValueError) as exc:
        raise CommandError(f"{file}: unreadable experiment settings ({exc})") from None
    if not isinstance(settings, dict) or not {"metric", "mode"} <= settings.keys():
        raise CommandError(f"{path}: not a raysweep experiment directory ({storage.EXPERIMENT_FILE}"
                           " has no metric/mode)")
    if not isinstance(settings["metric"], str) or settings["mode"] not in ("min", "max"):
        raise CommandError(f"{file}: unreadable experiment settings (metric must be a string and "
                           f"mode 'min' or 'max', got metric={settings['metric']!r}, "
                           f"mode={settings['mode']!r})")
    return path, settings


def _load(path: str):
    from raysweep.errors import CorruptJournal  # noqa: PLC0415
    from raysweep.results import load  # noqa: PLC0415

    path, _ = _check_experiment(path)
    try:
        return load(path)
    except (CorruptJournal, OSError, ValueError) as exc:
        raise CommandError(str(exc).splitlines()[0] or type(exc).__name__) from None
    except (KeyError, TypeError, AttributeError) as exc:  # a journal line that is JSON but
        # not an event raysweep can apply (edited by hand, or written by another tool)
        raise CommandError(f"{os.path.join(path, storage.JOURNAL_FILE)}: an event raysweep "
                           f"cannot read ({type(exc).__name__}: {exc}); the journal is corrupt"
                           ) from None


def _tail_event(path: str) -> dict[str, Any] | None:
    """The last complete journal event, read from the file's end only."""
    file = os.path.join(path, storage.JOURNAL_FILE)
    try:
        with open(file, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 4096))
            tail = handle.read()
    except OSError:
        return None
    for line in reversed(tail.split(b"\n")):
        if line.strip():
            try:
                return journal.decode(line)
            except ValueError:  # a torn last line, or not an event
                continue
    return None


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _counts_text(counts: dict[str, int]) -> str:
    short = {"TERMINATED": "done", "ERROR": "error", "RUNNING": "running", "PAUSED": "paused",
             "PENDING": "pending"}
    order = ("TERMINATED", "ERROR", "RUNNING", "PAUSED", "PENDING")
    keys = [k for k in order if counts.get(k)] + [k for k in counts if k not in order]
    return " ".join(f"{counts[k]} {short.get(k, k.lower())}" for k in keys) or "-"


def _age(timestamp: float) -> str:
    seconds = max(0.0, _dt.datetime.now().timestamp() - timestamp)
    if seconds < 90:
        return f"{seconds:.0f}s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m ago"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f}h ago"
    return _dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def _experiment_row(path: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Name, counts, best and freshness of one experiment, as cheaply as possible.

    An experiment whose driver ended (the journal's last event is a session end) has an
    up-to-date results.csv: read that (fast) instead of replaying the whole journal.
    """
    import numpy as np  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415

    metric, mode = settings["metric"], settings["mode"]
    journal_file = os.path.join(path, storage.JOURNAL_FILE)
    csv = os.path.join(path, storage.RESULTS_FILE)
    updated = max((os.path.getmtime(f) for f in (journal_file, csv) if os.path.exists(f)),
                  default=os.path.getmtime(os.path.join(path, storage.EXPERIMENT_FILE)))
    tail = _tail_event(path)
    ended = bool(tail and tail.get("e") == "session" and tail.get("kind") in ("end",
                                                                             "interrupted"))
    counts: dict[str, int] = {}
    best = None
    goal = Goal.of(metric, mode)  # the one rule for "better", as Results applies it
    if ended and os.path.isfile(csv):
        # Each row of results.csv is the result its trial is judged by under the
        # experiment's scope (Results.dataframe wrote it), so the best row is the best trial.
        frame = pd.read_csv(csv)
        if "status" in frame.columns:
            counts = {str(k): int(v) for k, v in frame["status"].value_counts().items()}
            if metric in frame.columns:
                values = metric_values(frame[metric].where(frame["status"] != "ERROR"))
                if np.isfinite(values).any():
                    best = float(values[goal.order(values)[0]])
    else:
        state = journal.fold(storage.read_journal(path), metric, mode)
        for trial in state.trials.values():
            counts[trial.status.value] = counts.get(trial.status.value, 0) + 1
        scope = "all" if settings.get("scope") == "all" else "last"
        winner = goal.best(state.trials.values(), scope)
        if winner is not None:
            best = metric_value(goal.result_of(winner, scope).get(metric))
    state_text = _driver_state(path, tail)
    return {"name": os.path.basename(path), "trials": sum(counts.values()),
            "status": _counts_text(counts), "metric": f"{metric} ({mode})", "best": _fmt(best),
            "state": state_text, "updated": _age(updated)}


def _driver_state(path: str, tail: dict[str, Any] | None) -> str:
    """``ended``, ``interrupted``, ``running (pid N)`` or ``unfinished`` (a driver died)."""
    if tail and tail.get("e") == "session" and tail.get("kind") in ("end", "interrupted"):
        return "ended" if tail["kind"] == "end" else "interrupted"
    try:  # the lock file names the driver; on this host, check that it is still alive
        with open(os.path.join(path, storage.LOCK_FILE), encoding="utf-8") as handle:
            words = handle.read().split()
        if len(words) >= 4 and words[0] == "pid" and words[3] == socket.gethostname():
            try:
                os.kill(int(words[1]), 0)  # ProcessLookupError: the driver is gone
            except PermissionError:  # alive, run by another user
                pass
            return f"running (pid {words[1]})"
    except (OSError, ValueError):
        pass
    return "unfinished"


def _escape(text: str, keep_newlines: bool = False) -> str:
    """``text`` read from disk (names, errors, values), safe for a terminal: control
    characters (escape sequences, carriage returns, bidi marks) are shown as ``\\x1b`` etc.
    instead of acting on the terminal."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() or (char == "\n" and keep_newlines)
                   else repr(char)[1:-1] for char in text)


def _print_table(rows: list[dict[str, Any]], out) -> None:
    columns = list(rows[0])
    cells = [{c: _escape(str(r[c])) for c in columns} for r in rows]
    widths = {c: max(len(c), *(len(r[c]) for r in cells)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip(), file=out)
    for row in cells:
        print("  ".join(row[c].ljust(widths[c]) for c in columns).rstrip(), file=out)


# ------------------------------------------------------------------------------ commands
def cmd_ls(args: argparse.Namespace) -> int:
    root = os.path.abspath(os.path.expanduser(args.storage or storage.default_storage_path()))
    if not os.path.exists(root):
        raise CommandError(f"{root}: no such directory")
    if not os.path.isdir(root):
        raise CommandError(f"{root}: not a directory")
    if storage.is_experiment_dir(root):
        candidates = [root]
    else:
        candidates = sorted(os.path.join(root, entry) for entry in os.listdir(root))
    rows = []
    for path in candidates:
        if not storage.is_experiment_dir(path):
            continue
        try:
            _, settings = _check_experiment(path)
            rows.append(_experiment_row(path, settings))
        except Exception as exc:  # noqa: BLE001 - one unreadable experiment must not hide others
            why = str(exc) if isinstance(exc, (CommandError, OSError, ValueError)) else \
                f"corrupt journal ({type(exc).__name__}: {exc})"
            rows.append({"name": os.path.basename(path), "trials": "?", "status": "unreadable",
                         "metric": "-", "best": "-",
                         "state": (why.splitlines() or ["?"])[0][:60], "updated": "-"})
    if not rows:
        print(f"no raysweep experiments in {root}", file=sys.stdout)
        return 0
    _print_table(rows, sys.stdout)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from raysweep import _present  # noqa: PLC0415

    results = _load(args.dir)
    table = None
    if len(results) and args.n > 0:
        columns = [c.strip() for c in args.columns.split(",") if c.strip()] \
            if args.columns else None
        try:
            table = _present.top(results, args.n, sort=args.sort, ascending=args.ascending,
                                 columns=columns)
        except KeyError as exc:
            raise CommandError(exc.args[0]) from None
    print(_escape(_present.summary(results, n=0), keep_newlines=True))
    if table is not None:
        direction = "ascending" if table.attrs.get("ascending", True) else "descending"
        print(_escape(f"\ntop {len(table)} of {len(results)} by {table.attrs.get('sort')} "
                      f"({direction}):", keep_newlines=True))
        print(_escape(table.to_string(index=False, float_format=lambda v: f"{v:.6g}",
                                      na_rep="-"), keep_newlines=True))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from raysweep import _present  # noqa: PLC0415

    _check_experiment(args.dir)  # a missing or foreign DIR is reported first
    out = args.out
    fmt = _export_format(args.format, out)
    if fmt == "parquet":
        if out is None or out == "-":
            raise CommandError("export --format parquet needs --out FILE (parquet is binary)")
        try:
            import pyarrow  # noqa: F401, PLC0415
        except ImportError:
            raise CommandError("export --format parquet needs pyarrow: pip install "
                               "'raysweep[parquet]'") from None
    if out not in (None, "-"):
        out = _check_out(out)
    results = _load(args.dir)
    frame = _present.trials_frame(results, include_history=args.history)
    if fmt == "parquet":
        # Parquet columns need one type: mixed object columns (a conditional parameter that is
        # a number in some trials and a string in others) are written as text.
        frame = frame.copy()
        for column in frame.columns:
            if frame[column].dtype == object:
                kinds = {type(v) for v in frame[column] if not _missing(v)}
                if len(kinds) > 1 or kinds & {dict, list, tuple}:
                    frame[column] = frame[column].map(
                        lambda v: None if _missing(v) else
                        (json.dumps(v) if isinstance(v, (dict, list, tuple)) else str(v)))
        try:
            frame.to_parquet(out, index=False)
        except OSError as exc:
            raise CommandError(f"{out}: cannot write ({exc})") from None
        except (TypeError, ValueError) as exc:  # pyarrow's ArrowTypeError / ArrowInvalid
            raise CommandError(f"{out}: cannot write these trials as parquet "
                               f"({str(exc).splitlines()[0]}); try --format csv") from None
    elif fmt == "csv":
        _write_text(out, frame.to_csv(index=False))
    else:
        _write_text(out, _json_lines(frame))
    if out not in (None, "-"):
        print(f"wrote {len(frame)} rows to {out}", file=sys.stderr)
    return 0


_SUFFIX_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json",
                   ".jsonl": "json", ".ndjson": "json"}


def _export_format(given: str | None, out: str | None) -> str:
    """``--format``, or the one ``--out``'s suffix names (``x.parquet``), or csv."""
    if given is not None:
        return "json" if given == "jsonl" else given
    suffix = os.path.splitext(out or "")[1].lower()
    return _SUFFIX_FORMATS.get(suffix, "csv")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _check_out(out: str) -> str:
    """``--out`` as an absolute path, or a CommandError when it cannot be written there."""
    path = os.path.abspath(os.path.expanduser(out))
    if os.path.isdir(path):
        raise CommandError(f"{path}: --out is a directory; give a file name")
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise CommandError(f"{directory}: no such directory for --out")
    return path


def _json_value(value: Any) -> Any:
    """A JSON-able value: NaN and infinities become null (as pandas writes them), numpy
    scalars Python numbers, tuples lists; anything else unknown its ``str``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return _json_value(item())
        except (TypeError, ValueError):
            pass
    return None if _is_na(value) else str(value)


def _is_na(value: Any) -> bool:
    try:
        import pandas as pd  # noqa: PLC0415

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _json_lines(frame: Any) -> str:
    """One JSON object per row. Floats keep all their digits (pandas' ``to_json`` rounds
    them to 10), so exported configs and metrics are the journal's numbers exactly."""
    columns = [str(c) for c in frame.columns]
    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
    lines = [encode({c: _json_value(v) for c, v in zip(columns, row)})
             for row in frame.itertuples(index=False, name=None)]
    return "".join(line + "\n" for line in lines)


def _write_text(out: str | None, text: str) -> None:
    if out is None or out == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        try:
            storage.atomic_write(os.path.abspath(os.path.expanduser(out)), text)
        except OSError as exc:
            raise CommandError(f"{out}: cannot write ({exc.strerror or exc})") from None


def cmd_plot(args: argparse.Namespace) -> int:
    try:
        import matplotlib  # noqa: F401, PLC0415
    except ImportError:
        raise CommandError("raysweep plot needs matplotlib: pip install 'raysweep[plot]'") \
            from None
    from matplotlib.figure import Figure  # noqa: PLC0415

    from raysweep import plot  # noqa: PLC0415

    _check_experiment(args.dir)  # a missing or foreign DIR is reported before --out
    out = _check_out(args.out)
    suffix = os.path.splitext(out)[1].lower().lstrip(".")
    formats = sorted(Figure().canvas.get_supported_filetypes())
    if suffix not in formats:
        raise CommandError(f"--out must end in an image type matplotlib writes "
                           f"({', '.join('.' + f for f in formats)}), got {args.out!r}")
    if not 1 <= args.dpi <= _MAX_DPI:
        raise CommandError(f"--dpi must be between 1 and {_MAX_DPI}, got {args.dpi}")
    results = _load(args.dir)
    draw = {"dashboard": plot.dashboard, "history": plot.history,
            "parallel": plot.parallel_coordinates, "curves": plot.learning_curves,
            "importance": plot.importance, "lineage": plot.pbt_lineage}[args.kind]
    try:
        figure = draw(results)
    except ValueError as exc:  # a plot that cannot be drawn from this experiment
        raise CommandError(str(exc).splitlines()[0]) from None
    try:
        figure.savefig(out, dpi=args.dpi, bbox_inches="tight")
    except OSError as exc:
        raise CommandError(f"{args.out}: cannot write ({exc.strerror or exc})") from None
    except (RuntimeError, ValueError) as exc:  # e.g. pgf without LaTeX, an image too large
        raise CommandError(f"{args.out}: cannot draw ({str(exc).splitlines()[0]})") from None
    print(f"wrote {args.kind} plot of {len(results)} trials to {args.out}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------- main
class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints usage too by default)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from raysweep.api import VERSION  # noqa: PLC0415

    parser = _Parser(prog="raysweep", description="Inspect raysweep experiments (no Ray "
                     "needed).")
    parser.add_argument("--version", action="version", version=f"raysweep {VERSION}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    ls = commands.add_parser("ls", help="list experiments with status counts and best result")
    ls.add_argument("storage", nargs="?", help="storage path (default ~/raysweep_results)")
    ls.set_defaults(func=cmd_ls)

    show = commands.add_parser("show", help="summary and best trials of one experiment")
    show.add_argument("dir", help="experiment directory")
    show.add_argument("-n", "--top", dest="n", type=int, default=10, metavar="N",
                      help="rows in the table (default 10; 0: summary only)")
    show.add_argument("--sort", metavar="COLUMN",
                      help="column to sort by (default the metric); C = config/C")
    direction = show.add_mutually_exclusive_group()
    direction.add_argument("--asc", dest="ascending", action="store_true", default=None,
                           help="smallest first (default for a min metric)")
    direction.add_argument("--desc", dest="ascending", action="store_false",
                           help="largest first (default for a max metric)")
    show.add_argument("--columns", metavar="A,B,...",
                      help="comma-separated columns (C = config/C)")
    show.set_defaults(func=cmd_show)

    export = commands.add_parser("export", help="write the trials table as csv, parquet or json")
    export.add_argument("dir", help="experiment directory")
    export.add_argument("--format", choices=("csv", "parquet", "json", "jsonl"),
                        help="csv, parquet (needs pyarrow and --out) or json (JSON Lines: one "
                        "object per trial); default: from --out's suffix, else csv")
    export.add_argument("--out", help="output file (default stdout for csv/json)")
    export.add_argument("--history", action="store_true", help="one row per report")
    export.set_defaults(func=cmd_export)

    plot = commands.add_parser("plot", help="draw a plot to an image file")
    plot.add_argument("dir", help="experiment directory")
    plot.add_argument("--out", required=True, help="image file (.png, .svg, .pdf)")
    plot.add_argument("--kind", choices=_PLOT_KINDS, default="dashboard",
                      help="dashboard (default: history, importance, parallel coordinates and "
                      "learning curves or PBT lineage), history, parallel, curves, importance "
                      "or lineage (PBT runs only)")
    plot.add_argument("--dpi", type=int, default=110,
                      help=f"resolution of raster images (1 to {_MAX_DPI}, default 110)")
    plot.set_defaults(func=cmd_plot)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``raysweep`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "n", 1) is not None and getattr(args, "n", 1) < 0:
        parser.error(f"-n must be >= 0, got {args.n}")
    try:
        return args.func(args)
    except CommandError as exc:
        print(f"raysweep: error: {_escape(str(exc), keep_newlines=True)}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `raysweep export ... | head`
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
