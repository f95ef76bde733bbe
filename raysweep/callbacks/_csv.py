"""``CSVLogger``: one CSV row per report, the header widened when a new key arrives."""

from __future__ import annotations

import csv
import io
import os
from typing import Any

from raysweep.callbacks._files import _drop_torn_line, _FileLogger
from raysweep.space import flatten
from raysweep.trial import Trial


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

    def log_report(self, trial: Trial, result: dict[str, Any], encoded: str | None) -> None:
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
    ndim: Any = getattr(value, "ndim", 0)
    if callable(tolist) and ndim:
        # an array: all of it, as JSON (str() would cut a big one to "[0. 0. ... 0.]")
        from raysweep.storage import dumps  # noqa: PLC0415

        try:
            return dumps(tolist())
        except (TypeError, ValueError):
            return value
    return value



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

