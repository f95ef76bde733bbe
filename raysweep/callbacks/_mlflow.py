"""``MLflowLogger``: one MLflow run per trial under one run for the sweep (needs ``mlflow``)."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import socket
import time
import urllib.parse
import urllib.request
from typing import Any

from raysweep.callbacks._base import Callback, _scalar
from raysweep.space import flatten
from raysweep.trial import Trial, TrialStatus

logger = logging.getLogger("raysweep")


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

