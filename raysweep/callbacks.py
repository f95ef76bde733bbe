"""Callbacks: hooks users (and loggers) attach to a run with ``callbacks=[...]``.

Loggers shipped here:

- ``CSVLogger`` and ``JSONLLogger``: one row per report, every trial in one file
  (``progress.csv`` / ``progress.jsonl`` in the experiment directory), so a 50,000-trial sweep
  still holds a handful of files. ``per_trial=True`` writes ``trials/<id>/progress.*``
  instead, one file per trial (as Ray Tune does), for the few sweeps that want that.
- ``TensorBoardLogger`` (needs ``tensorboardX``): one TensorBoard run per trial with every
  numeric metric by ``training_iteration`` and the config as hparams.
- ``MLflowLogger`` (needs ``mlflow``): one MLflow run per trial (params, metrics by step,
  final status) nested under one run for the sweep.

A logger told nothing about where to write uses the experiment directory, which the run hands
to every callback through ``on_experiment_start``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import re
import socket
import time
import urllib.parse
import urllib.request
from collections import OrderedDict
from typing import Any

from raysweep.space import flatten
from raysweep.trial import Trial, TrialStatus

logger = logging.getLogger("raysweep")


class Callback:
    """Subclass and override any hook; each receives plain data, never the controller.

    Example:
        >>> import raysweep as rs
        >>> class PrintBest(rs.Callback):
        ...     def on_trial_complete(self, trial):
        ...         print(trial.trial_id, trial.status.value, trial.last_result)
    """

    def on_experiment_start(self, path: str, settings: dict[str, Any]) -> None:
        """The run is about to start trials; ``path`` is the experiment directory."""

    def on_trial_start(self, trial: Trial) -> None:
        """A trial (new, resumed, forked or retried) was handed to a worker."""

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> None:
        """A trial reported ``result``."""

    def on_trial_complete(self, trial: Trial) -> None:
        """A trial ended (``trial.status`` is TERMINATED or ERROR)."""

    def on_experiment_end(self, results: Any) -> None:
        """The run ended; ``results`` is the ``raysweep.Results``."""


def default_loggers(callbacks: list[Callback] | tuple[Callback, ...] = (),
                    path: str | os.PathLike[str] | None = None) -> list[Callback]:
    """The loggers every run gets: ``progress.csv`` and ``progress.jsonl`` (one file each).

    Args:
        callbacks: The user's callbacks. A logger of the same kind among them that writes the
            shared file of this experiment (no ``path``, or ``path`` equal to the experiment
            directory, and not ``per_trial``) replaces the default one: no duplicate rows.
        path: The experiment directory.

    Returns:
        The loggers to add (possibly none).
    """
    here = None if path is None else os.path.abspath(os.fspath(path))
    out: list[Callback] = []
    for kind in (CSVLogger, JSONLLogger):
        # (the path the user gave: one a previous run handed the logger does not count)
        covered = any(type(c) is kind and not c.per_trial and c._given_path in (None, here)
                      for c in callbacks)
        if not covered:
            out.append(kind())
    return out


def _logs_reports(callback: Callback) -> bool:
    """Whether the run may hand ``callback`` each report as the journal encoded it
    (``_log_report``): a shipped file logger whose ``on_trial_result`` nobody overrode."""
    return isinstance(callback, _FileLogger) and type(callback).on_trial_result in (
        JSONLLogger.on_trial_result, CSVLogger.on_trial_result)


# ------------------------------------------------------------------------------ helpers
def _row(trial: Trial, result: dict[str, Any],
         config_columns: dict[str, Any] | None = None) -> dict[str, Any]:
    """A report as one flat row: trial_id, the result's keys, then ``config/<name>``
    (``config_columns``: those last columns, when the caller has them already)."""
    row: dict[str, Any] = {"trial_id": trial.trial_id}
    nested = any(isinstance(v, dict) for v in result.values())
    for key, value in (flatten(result) if nested else result).items():
        if key != "trial_id":
            row[key] = value
    row.update(_config_columns(trial.config) if config_columns is None else config_columns)
    return row


def _config_columns(config: dict[str, Any]) -> dict[str, Any]:
    return {f"config/{key}": value for key, value in flatten(config).items()}


def _scalar(value: Any) -> float | None:
    """A loggable number (bools and non-numbers are not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and getattr(value, "ndim", 1) == 0:
        try:
            number = item()
        except (TypeError, ValueError):
            return None
        return float(number) if isinstance(number, (int, float)) and \
            not isinstance(number, bool) else None
    return None


class _FileLogger(Callback):
    """Shared machinery: where files go, lazily opened, flushed about once a second."""

    filename = ""

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 per_trial: bool = False, flush_interval_s: float = 1.0) -> None:
        if not isinstance(per_trial, bool):
            raise TypeError(f"{type(self).__name__}: per_trial must be True or False, got "
                            f"{per_trial!r}")
        if isinstance(flush_interval_s, bool) or not isinstance(flush_interval_s, (int, float)) \
                or not flush_interval_s >= 0:
            raise ValueError(f"{type(self).__name__}: flush_interval_s must be a number >= 0, "
                             f"got {flush_interval_s!r}")
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"{type(self).__name__}: path must be a directory (str or "
                            f"os.PathLike) or None, got {type(path).__name__}")
        self.path = None if path is None else os.path.abspath(os.fspath(path))
        self._given_path = self.path  # None: each run's experiment directory
        self.per_trial = per_trial
        self.flush_interval_s = flush_interval_s
        self._handles: OrderedDict[str, Any] = OrderedDict()
        self._last_flush = time.monotonic()
        # trial_id -> (config, its encoding in this logger's rows), for running trials: a
        # trial reports many times with the same config (a PBT fork brings a new one)
        self._config_cache: dict[str, tuple[dict[str, Any], Any]] = {}

    def on_experiment_start(self, path: str, settings: dict[str, Any]) -> None:
        here = os.path.abspath(path)
        if self._given_path is None and self.path != here:
            # reused for another experiment: its rows go to that one's directory
            self.close()
            self._config_cache.clear()
            self.path = here

    def file_for(self, trial_id: str) -> str:
        """The file a trial's rows go to."""
        if self.path is None:
            raise RuntimeError(f"{type(self).__name__}: no directory to write to; pass path= "
                               "or run it through raysweep.run(callbacks=[...])")
        if self.per_trial:
            return os.path.join(self.path, "trials", trial_id, self.filename)
        return os.path.join(self.path, self.filename)

    def _key(self, trial_id: str) -> str:
        return trial_id if self.per_trial else ""

    def _log_report(self, trial: Trial, result: dict[str, Any], encoded: str | None) -> None:
        """Log one report: ``result`` as the trial reported it (no ``trial_id`` key added)
        and, when the journal wrote it, its JSON text."""
        raise NotImplementedError  # pragma: no cover - each logger has its own

    def _encoded_config(self, trial: Trial) -> Any:
        cached = self._config_cache.get(trial.trial_id)
        if cached is None or cached[0] is not trial.config:
            cached = (trial.config, self._encode_config(trial.config))
            self._config_cache[trial.trial_id] = cached
        return cached[1]

    def _encode_config(self, config: dict[str, Any]) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _maybe_flush(self) -> None:
        now = time.monotonic()
        if now - self._last_flush >= self.flush_interval_s:
            self._last_flush = now
            for handle in self._handles.values():
                handle.flush()

    def _close(self, key: str) -> None:
        handle = self._handles.pop(key, None)
        if handle is not None:
            handle.close()

    def on_trial_complete(self, trial: Trial) -> None:
        self._config_cache.pop(trial.trial_id, None)
        if self.per_trial:
            self._close(trial.trial_id)  # a finished trial writes no more rows

    def on_experiment_end(self, results: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close every file this logger has open (it reopens them if it logs again)."""
        for key in list(self._handles):
            self._close(key)

    def _limit_open_files(self) -> None:
        while len(self._handles) > 64:  # paused per-trial files: reopened on demand
            self._close(next(iter(self._handles)))


class JSONLLogger(_FileLogger):
    """One JSON line per report: ``{"trial_id", <result keys>, "config": {...}}``.

    Args:
        path: Directory to write in (default: the experiment directory).
        per_trial: False (default): every trial in ``<path>/progress.jsonl``. True: one
            ``<path>/trials/<trial_id>/progress.jsonl`` per trial (many files for big sweeps).
        flush_interval_s: Buffered lines reach the file at least this often.

    Example:
        >>> import pandas as pd
        >>> pd.read_json("~/raysweep_results/svc/progress.jsonl", lines=True)  # doctest: +SKIP
    """

    filename = "progress.jsonl"

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> None:
        self._log_report(trial, result, None)

    def _log_report(self, trial: Trial, result: dict[str, Any], encoded: str | None) -> None:
        from raysweep.storage import _quote, dumps  # noqa: PLC0415

        key = self._key(trial.trial_id)
        handle = self._handles.get(key)
        if handle is None:
            file = self.file_for(trial.trial_id)
            os.makedirs(os.path.dirname(file), exist_ok=True)
            _drop_torn_line(file)
            handle = self._handles[key] = open(file, "a", encoding="utf-8")  # noqa: SIM115
            self._limit_open_files()
        if "config" in result:  # a metric named "config": the trial's config replaces it
            line = {"trial_id": trial.trial_id, **result, "config": trial.config}
            line["trial_id"] = trial.trial_id
            handle.write(dumps(line) + "\n")
        elif encoded is not None and "trial_id" not in result and len(encoded) > 2:
            # the journal's text of the result, spliced between trial_id and the config
            handle.write(f'{{"trial_id":{_quote(trial.trial_id)},{encoded[1:-1]},'
                         f'"config":{self._encoded_config(trial)}}}\n')
        else:
            line = {"trial_id": trial.trial_id, **result}  # trial_id first, as the result's
            line["trial_id"] = trial.trial_id             # keys may name another trial's id
            handle.write(f"{dumps(line)[:-1]},\"config\":{self._encoded_config(trial)}}}\n")
        self._maybe_flush()

    def _encode_config(self, config: dict[str, Any]) -> str:
        from raysweep.storage import dumps  # noqa: PLC0415

        return dumps(config)


class CSVLogger(_FileLogger):
    """One CSV row per report: ``trial_id``, the metrics, ``config/<name>`` columns.

    The header is the union of the keys seen so far. A report that brings a new key rewrites
    the file once with the wider header (rare: usually only the first reports add keys).

    Args:
        path: Directory to write in (default: the experiment directory).
        per_trial: False (default): every trial in ``<path>/progress.csv``. True: one
            ``<path>/trials/<trial_id>/progress.csv`` per trial (many files for big sweeps).
        flush_interval_s: Buffered rows reach the file at least this often.
    """

    filename = "progress.csv"

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 per_trial: bool = False, flush_interval_s: float = 1.0) -> None:
        super().__init__(path, per_trial=per_trial, flush_interval_s=flush_interval_s)
        self._headers: dict[str, list[str]] = {}
        self._columns: dict[str, set[str]] = {}
        self._writers: dict[str, Any] = {}
        # file key -> (result keys, config columns) whose rows match its header exactly
        self._layouts: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> None:
        self._log_report(trial, result, None)

    def _log_report(self, trial: Trial, result: dict[str, Any], encoded: str | None) -> None:
        key = self._key(trial.trial_id)
        config_columns, config_keys, config_values = self._encoded_config(trial)
        handle = self._handles.get(key)
        if handle is None:
            handle = self._open(key, self.file_for(trial.trial_id))
        # The usual row: the header is exactly trial_id, this result's keys in order, then
        # the config's columns, and every value is a plain one: write it as it comes.
        if self._layouts.get(key) == (tuple(result), config_keys):
            values = [trial.trial_id, *result.values()]
            for value in values:
                if type(value) not in _CSV_PLAIN:
                    break
            else:
                self._writers[key].writerow(values + config_values)
                self._maybe_flush()
                return
        row = _row(trial, result, config_columns)
        columns = self._columns[key]
        if not columns.issuperset(row):
            header = self._headers[key]
            new = [column for column in row if column not in columns]
            handle = self._widen(key, self.file_for(trial.trial_id), header + new)
        header = self._headers[key]
        # what csv.DictWriter(extrasaction="ignore") writes, without building one per row
        self._writers[key].writerow([
            ("" if (v := row.get(k, _MISSING)) is _MISSING else
             v if type(v) in _CSV_PLAIN else _csv_value(v)) for k in header])
        if "trial_id" not in result and not any(type(v) is dict for v in result.values()) \
                and header == ["trial_id", *result, *config_keys]:
            self._layouts[key] = (tuple(result), config_keys)
        self._maybe_flush()

    def _encode_config(self, config: dict[str, Any]) -> tuple[dict[str, Any], tuple, list]:
        columns = _config_columns(config)
        return columns, tuple(columns), [
            v if type(v) in _CSV_PLAIN else _csv_value(v) for v in columns.values()]

    def _open(self, key: str, file: str):
        os.makedirs(os.path.dirname(file), exist_ok=True)
        _drop_torn_line(file)
        header: list[str] = []
        if os.path.exists(file) and os.path.getsize(file) > 0:  # a resumed experiment
            with open(file, newline="", encoding="utf-8") as existing:
                header = next(csv.reader(existing), [])
        handle = open(file, "a", newline="", encoding="utf-8")  # noqa: SIM115
        self._handles[key] = handle
        self._set_header(key, header)
        self._writers[key] = csv.writer(handle)
        self._limit_open_files()
        return handle

    def _set_header(self, key: str, header: list[str]) -> None:
        self._layouts.pop(key, None)
        self._headers[key] = header
        self._columns[key] = set(header)

    def _widen(self, key: str, file: str, header: list[str]):
        """Rewrite ``file`` with a wider header (existing rows keep their values)."""
        from raysweep.storage import atomic_write  # noqa: PLC0415

        self._close(key)
        rows: list[dict[str, str]] = []
        if os.path.exists(file) and os.path.getsize(file) > 0:
            with open(file, newline="", encoding="utf-8") as existing:
                rows = list(csv.DictReader(existing))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write(file, buffer.getvalue())
        handle = self._open(key, file)
        self._set_header(key, header)
        return handle


_MISSING = object()
_CSV_PLAIN = frozenset({float, int, str, bool, type(None)})  # _csv_value leaves them as they are


def _csv_value(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        from raysweep.storage import dumps  # noqa: PLC0415

        return dumps(value)
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and getattr(value, "ndim", 0):
        # an array: all of it, as JSON (str() would cut a big one to "[0. 0. ... 0.]")
        from raysweep.storage import dumps  # noqa: PLC0415

        try:
            return dumps(tolist())
        except (TypeError, ValueError):
            return value
    return value


def _drop_torn_line(file: str) -> None:
    """Cut a partial last line off ``file`` (a run killed mid-write leaves one), so that the
    rows a resumed run appends are not glued to it."""
    try:
        size = os.path.getsize(file)
    except OSError:
        return
    if size == 0:
        return
    with open(file, "rb+") as handle:
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        position = size
        while position > 0:
            step = min(1 << 16, position)
            position -= step
            handle.seek(position)
            cut = handle.read(step).rfind(b"\n")
            if cut >= 0:
                handle.truncate(position + cut + 1)
                return
        handle.truncate(0)


# --------------------------------------------------------------------------- TensorBoard
class TensorBoardLogger(Callback):
    """Every numeric metric of every trial to TensorBoard (via ``tensorboardX``).

    Each trial is one TensorBoard run, ``<logdir>/<trial_id>``, with scalars by
    ``training_iteration`` (NaN and infinite values are left out, as Ray Tune leaves out
    NaN); when a trial ends its config and final metrics are written as
    hparams, so TensorBoard's HParams tab compares trials. One run per trial means one
    directory per trial: fine for hundreds of trials, heavy for tens of thousands.

    Args:
        logdir: Where to write (default ``<experiment directory>/tensorboard``); view with
            ``tensorboard --logdir <logdir>``.
        hparams: Also write config and final metrics as hparams when a trial ends.

    Example:
        >>> from raysweep.callbacks import TensorBoardLogger
        >>> rs.run(train, space, callbacks=[TensorBoardLogger()])  # doctest: +SKIP
    """

    def __init__(self, logdir: str | os.PathLike[str] | None = None, *,
                 hparams: bool = True) -> None:
        try:
            from tensorboardX import SummaryWriter  # noqa: PLC0415
        except ImportError:
            raise ImportError("TensorBoardLogger needs tensorboardX: pip install "
                              "'raysweep[tensorboard]'") from None
        if logdir is not None and not isinstance(logdir, (str, os.PathLike)):
            raise TypeError(f"TensorBoardLogger: logdir must be a directory (str or "
                            f"os.PathLike) or None, got {type(logdir).__name__}")
        if not isinstance(hparams, bool):
            raise TypeError(f"TensorBoardLogger: hparams must be True or False, got {hparams!r}")
        self._writer_class = SummaryWriter
        self.logdir = None if logdir is None else os.path.abspath(os.fspath(logdir))
        self._given_logdir = self.logdir  # None: each run's <experiment>/tensorboard
        self.hparams = hparams
        self._writers: OrderedDict[str, Any] = OrderedDict()

    def on_experiment_start(self, path: str, settings: dict[str, Any]) -> None:
        here = os.path.join(os.path.abspath(path), "tensorboard")
        if self._given_logdir is None and self.logdir != here:
            self.on_experiment_end(None)  # reused for another experiment: its own logdir
            self.logdir = here

    def _writer(self, trial_id: str):
        writer = self._writers.get(trial_id)
        if writer is None:
            if self.logdir is None:
                raise RuntimeError("TensorBoardLogger: no logdir; pass logdir= or run it "
                                   "through raysweep.run(callbacks=[...])")
            writer = self._writer_class(logdir=os.path.join(self.logdir, trial_id),
                                        flush_secs=5)
            self._writers[trial_id] = writer
            while len(self._writers) > 64:  # paused trials: reopened when they resume
                self._writers.popitem(last=False)[1].close()
        else:
            self._writers.move_to_end(trial_id)
        return writer

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> None:
        writer = self._writer(trial.trial_id)
        step = int(result.get("training_iteration", trial.iteration) or 0)
        flat = flatten(result) if any(isinstance(v, dict) for v in result.values()) else result
        for key, value in flat.items():
            if key in ("training_iteration", "trial_id"):
                continue
            number = _scalar(value)
            # NaN and inf are left out: tensorboardX prints a warning for each one
            if number is not None and math.isfinite(number):
                writer.add_scalar(key, number, global_step=step)

    def on_trial_complete(self, trial: Trial) -> None:
        writer = self._writer(trial.trial_id)
        if self.hparams:
            params = {}
            for key, value in flatten(trial.config).items():
                number = _scalar(value)
                params[key] = number if number is not None else (
                    value if isinstance(value, (bool, str)) else str(value))
            metrics = {}
            for key, value in (trial.last_result or {}).items():
                number = _scalar(value)
                if number is not None and math.isfinite(number) and key != "trial_id":
                    metrics[f"final/{key}"] = number
            params["status"] = trial.status.value
            writer.add_hparams(params, metrics, name="hparams",
                               global_step=trial.iteration)
        self._writers.pop(trial.trial_id, None)
        writer.close()

    def on_experiment_end(self, results: Any) -> None:
        while self._writers:
            self._writers.popitem()[1].close()


# -------------------------------------------------------------------------------- MLflow
class MLflowLogger(Callback):
    """Trials as MLflow runs: params from the config, metrics by ``training_iteration``.

    One parent run stands for the sweep (its best metric and config are logged at the end);
    each trial is a child run with the flattened config as params, every numeric metric by
    step, and a final status of FINISHED (or FAILED for an ERROR trial). Metrics are sent in
    batches (when a trial ends, or every ``flush_interval_s``), not one call per report.
    Names MLflow refuses (``acc@5``, ``loss(val)``) are logged with ``_`` for each character
    it does not allow (``acc_5``), not dropped. A logger reused for another experiment
    starts a new parent run for it.

    Args:
        tracking_uri: MLflow tracking URI (default: MLflow's own default, i.e. the
            ``MLFLOW_TRACKING_URI`` environment variable or MLflow's local store). A URI that
            cannot be used, or a tracking server that cannot be reached, is an error when
            the run starts, before any trial.
        experiment_name: MLflow experiment (default: the raysweep experiment's name).
        tags: Extra tags on every run.
        flush_interval_s: Longest time a running trial's metrics wait before being sent.

    Example:
        >>> from raysweep.callbacks import MLflowLogger
        >>> rs.run(train, space, callbacks=[MLflowLogger("http://mlflow:5000")])  # doctest: +SKIP
    """

    def __init__(self, tracking_uri: str | os.PathLike[str] | None = None, *,
                 experiment_name: str | None = None, tags: dict[str, str] | None = None,
                 flush_interval_s: float = 5.0) -> None:
        try:
            from mlflow.tracking import MlflowClient  # noqa: PLC0415
        except ImportError:
            raise ImportError("MLflowLogger needs mlflow: pip install 'raysweep[mlflow]'") \
                from None
        if tracking_uri is not None and not isinstance(tracking_uri, (str, os.PathLike)):
            raise TypeError(f"MLflowLogger: tracking_uri must be a str (a URI or a local path) "
                            f"or None, got {type(tracking_uri).__name__}")
        if experiment_name is not None and (not isinstance(experiment_name, str) or
                                            not experiment_name.strip()):
            raise ValueError(f"MLflowLogger: experiment_name must be a non-empty str or None, "
                             f"got {experiment_name!r}")
        if tags is not None and not isinstance(tags, dict):
            raise TypeError(f"MLflowLogger: tags must be a dict of str to str, got "
                            f"{type(tags).__name__}")
        if isinstance(flush_interval_s, bool) or not isinstance(flush_interval_s, (int, float)) \
                or not flush_interval_s >= 0:
            raise ValueError(f"MLflowLogger: flush_interval_s must be a number >= 0, got "
                             f"{flush_interval_s!r}")
        self._client_class = MlflowClient
        self.tracking_uri = None if tracking_uri is None else os.fspath(tracking_uri)
        self.experiment_name = experiment_name
        self._given_name = experiment_name
        self.tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self.flush_interval_s = flush_interval_s
        self.client: Any = None
        self.experiment_id: str | None = None
        self.parent_run_id: str | None = None
        self._experiment_path: str | None = None
        self._runs: dict[str, str] = {}
        self._pending: dict[str, list[Any]] = {}
        self._last_flush = time.monotonic()
        self._warned = False

    # -- setup -----------------------------------------------------------------------------
    def on_experiment_start(self, path: str, settings: dict[str, Any]) -> None:
        here = os.path.abspath(path)
        if self._experiment_path not in (None, here):
            # reused for another experiment: a parent run and trial runs of its own
            self.experiment_id = self.parent_run_id = None
            self._runs, self._pending, self._warned = {}, {}, False
        self._experiment_path = here
        if self._given_name is None:
            self.experiment_name = settings.get("name") or os.path.basename(here)
        self._ensure_parent(settings)

    def _connect(self) -> None:
        """Make the client and find (or create) the MLflow experiment, or say plainly that
        the tracking URI cannot be used."""
        uri = self.tracking_uri
        if uri is None:
            import mlflow  # noqa: PLC0415

            uri = mlflow.get_tracking_uri()
        _check_reachable(uri)
        try:
            client = self._client_class(tracking_uri=self.tracking_uri)
            name = self.experiment_name or "raysweep"
            experiment = client.get_experiment_by_name(name)
            self.experiment_id = experiment.experiment_id if experiment is not None else \
                client.create_experiment(name)
        except Exception as exc:  # noqa: BLE001 - MLflow's errors for a URI it cannot use
            raise ValueError(f"MLflowLogger: cannot log to tracking_uri {uri!r}: "
                             f"{type(exc).__name__}: {exc}") from exc
        self.client = client

    def _ensure_parent(self, settings: dict[str, Any] | None = None) -> None:
        if self.parent_run_id is not None:
            return
        if self.client is None or self.experiment_id is None:
            self._connect()
        name = (settings or {}).get("name") or self.experiment_name or "raysweep"
        tags = {"raysweep.role": "sweep", **self.tags}
        run = self.client.create_run(self.experiment_id, run_name=name, tags=tags)
        self.parent_run_id = run.info.run_id
        if settings:
            from mlflow.entities import Param  # noqa: PLC0415

            params = [Param(key, str(settings[key])[:500]) for key in
                      ("metric", "mode", "search", "scheduler", "seed", "num_samples")
                      if settings.get(key) is not None]
            self.client.log_batch(self.parent_run_id, params=params)

    # -- per trial -------------------------------------------------------------------------
    def _guarded(self, action, *args) -> None:
        """Talk to MLflow; after the first failure, warn once and keep the sweep going."""
        try:
            action(*args)
        except Exception as exc:  # noqa: BLE001 - a tracking server hiccup must not kill a sweep
            if self.client is None or self.parent_run_id is None:
                raise
            if not self._warned:
                self._warned = True
                logger.warning("raysweep: MLflowLogger could not log (%s); the sweep goes on "
                               "and keeps trying", exc)

    def on_trial_start(self, trial: Trial) -> None:
        self._guarded(self._start, trial)

    def _start(self, trial: Trial) -> None:
        self._ensure_parent()
        if trial.trial_id in self._runs:
            return  # resumed after a pause: same run
        tags = {"mlflow.parentRunId": self.parent_run_id, "raysweep.trial_id": trial.trial_id,
                **self.tags}
        run = self.client.create_run(self.experiment_id, run_name=trial.trial_id, tags=tags)
        self._runs[trial.trial_id] = run.info.run_id
        params = _params(flatten(trial.config))
        for start in range(0, len(params), 100):
            self.client.log_batch(run.info.run_id, params=params[start:start + 100])

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> None:
        from mlflow.entities import Metric  # noqa: PLC0415

        if trial.trial_id not in self._runs:
            self.on_trial_start(trial)
        step = int(result.get("training_iteration", trial.iteration) or 0)
        stamp = int(time.time() * 1000)
        flat = flatten(result) if any(isinstance(v, dict) for v in result.values()) else result
        pending = self._pending.setdefault(trial.trial_id, [])
        for key, value in flat.items():
            if key in ("training_iteration", "trial_id"):
                continue
            number = _scalar(value)
            if number is not None and math.isfinite(number):
                pending.append(Metric(_mlflow_key(key), number, stamp, step))
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            self._guarded(self._flush_all)

    def _flush(self, trial_id: str) -> None:
        metrics = self._pending.pop(trial_id, [])
        run_id = self._runs.get(trial_id)
        if run_id is None:
            return
        for start in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[start:start + 1000])

    def _flush_all(self) -> None:
        self._last_flush = time.monotonic()
        for trial_id in list(self._pending):
            self._guarded(self._flush, trial_id)

    def on_trial_complete(self, trial: Trial) -> None:
        self._guarded(self._complete, trial)

    def _complete(self, trial: Trial) -> None:
        if trial.trial_id not in self._runs:
            self._start(trial)
        self._guarded(self._flush, trial.trial_id)  # whatever happens, the run gets its status
        run_id = self._runs[trial.trial_id]
        self.client.set_tag(run_id, "raysweep.status", trial.status.value)
        if trial.error:
            self._guarded(self.client.set_tag, run_id, "raysweep.error", trial.error[-4000:])
        failed = trial.status is TrialStatus.ERROR
        self.client.set_terminated(run_id, "FAILED" if failed else "FINISHED")

    def on_experiment_end(self, results: Any) -> None:
        self._guarded(self._end, results)

    def _end(self, results: Any) -> None:
        if self.client is None or self.parent_run_id is None:
            return
        self._flush_all()
        for trial in results.trials:  # paused or unfinished trials still have open runs
            run_id = self._runs.get(trial.trial_id)
            if run_id is not None and not trial.status.is_finished:
                self._guarded(self._kill_run, run_id, trial.status.value)
        best = results.best_trial
        if best is not None:
            self._guarded(self._log_best, results, best)
        self.client.set_terminated(self.parent_run_id, "FINISHED")

    def _kill_run(self, run_id: str, status: str) -> None:
        self.client.set_tag(run_id, "raysweep.status", status)
        self.client.set_terminated(run_id, "KILLED")

    def _log_best(self, results: Any, best: Trial) -> None:
        from mlflow.entities import Metric, Param  # noqa: PLC0415

        value = _scalar(results.best_result.get(results.metric))
        metrics = [Metric(_mlflow_key(f"best_{results.metric}"), value,
                          int(time.time() * 1000), 0)] \
            if value is not None and math.isfinite(value) else []
        params = _params({f"best/{k}": v for k, v in flatten(best.config).items()})[:99]
        params.append(Param("best_trial_id", best.trial_id))
        self.client.log_batch(self.parent_run_id, metrics=metrics, params=params)


def _param_text(value: Any) -> str:
    """A param's value as ``mlflow.log_param`` writes it (``str``); containers as JSON."""
    text = value if isinstance(value, str) else str(value) \
        if value is None or isinstance(value, (bool, int, float)) else \
        json.dumps(value, default=str)
    return text[:6000]


def _params(flat: dict[str, Any]) -> list[Any]:
    """MLflow ``Param``s for flattened ``name: value`` pairs: valid names, each name once."""
    from mlflow.entities import Param  # noqa: PLC0415

    out: dict[str, Any] = {}
    for key, value in flat.items():
        name = _mlflow_key(key)
        if name not in out:  # two names that read the same once made valid: the first wins
            out[name] = Param(name, _param_text(value))
    return list(out.values())


_MLFLOW_BAD = re.compile(r"[^/\w.\- :]" if os.name != "nt" else r"[^/\w.\- ]")


def _mlflow_key(key: str) -> str:
    """``key`` as a name MLflow accepts for a metric or a param: characters it refuses
    become ``_``, and it is a relative path (no empty, ``.`` or ``..`` parts), at most 250
    characters."""
    name = _MLFLOW_BAD.sub("_", str(key))
    if "/" in name or name in (".", "..", ""):
        parts = [("_" if part in (".", "..") else part) for part in name.split("/") if part]
        name = "/".join(parts) or "_"
    return name[:250]


def _check_reachable(uri: str) -> None:
    """Fail in seconds, not minutes of MLflow's retries, when an http(s) tracking server does
    not answer (unless a proxy is in the way: then MLflow's own request says)."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return
    if urllib.request.getproxies().get(parts.scheme) and \
            not urllib.request.proxy_bypass(parts.hostname):
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValueError(f"MLflowLogger: tracking_uri {uri!r} has a bad port: {exc}") from None
    try:
        socket.create_connection((parts.hostname, port), timeout=5.0).close()
    except OSError as exc:
        raise ConnectionError(f"MLflowLogger: cannot reach the tracking server of tracking_uri "
                              f"{uri!r}: {exc}") from None


from raysweep._wandb_logger import WandbLogger  # noqa: E402,F401 (it subclasses Callback)
