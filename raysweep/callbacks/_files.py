"""What the CSV and JSONL loggers share: where files go, opened lazily, flushed about once a
second, at most 64 open; and the repair of a line a killed run left half written."""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from typing import Any

from raysweep.callbacks._base import ReportSink
from raysweep.trial import Trial


class _FileLogger(ReportSink):
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

