"""What ``SearchCV`` does as each candidate finishes: progress lines, user callbacks, and
re-raising a worker's exception under ``error_score="raise"``."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any

from raysweep._sklearn.echo import WORKER_OUTPUT, replay
from raysweep._sklearn.objective import RAISED_TEXT, reraise
from raysweep.callbacks import Callback
from raysweep.errors import TrialError
from raysweep.trial import Trial, TrialStatus

_PROGRESS_EVERY_S = 10.0


def _first_line(text: str | None) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


class CandidateHooks(Callback):
    """A raysweep callback that turns finished trials into finished candidates."""

    def __init__(self, *, codec: Any, metric: str, total: int | None, verbose: int,
                 callables: list[Callable[[dict[str, Any]], Any]], raise_errors: bool,
                 stream: Any = None) -> None:
        self.codec = codec
        self.metric = metric
        self.total = total
        self.verbose = verbose
        self.callables = callables
        self.raise_errors = raise_errors
        self.stream = stream or sys.stdout
        self.done = 0
        self.best = -math.inf
        self._start = self._last_line = time.monotonic()

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> None:
        replay(result.get(WORKER_OUTPUT))  # the fits' stdout and warnings, in this process
        if RAISED_TEXT in result:
            reraise(result, trial.trial_id)

    def on_trial_complete(self, trial: Trial) -> None:
        if trial.status is TrialStatus.ERROR and self.raise_errors:
            raise TrialError(f"candidate {trial.trial_id} failed (error_score='raise'):\n"
                             f"{trial.error}")
        self.done += 1
        candidate = self.candidate(trial)
        value = candidate.get(self.metric)
        if isinstance(value, float) and math.isfinite(value):
            self.best = max(self.best, value)
        if self.verbose >= 2:
            self._print_candidate(candidate)
        elif self.verbose == 1:
            self._print_progress()
        for callback in self.callables:
            callback(candidate)

    def candidate(self, trial: Trial) -> dict[str, Any]:
        """The plain-data record user callbacks receive for a finished candidate."""
        result = trial.last_result or {}
        fit_time = result.get("fit_time") or []
        return {
            "trial_id": trial.trial_id,
            "params": self.codec.decode(trial.config),
            "status": trial.status.value,
            self.metric: result.get(self.metric, float("nan")),
            "test_scores": list(result.get("test_scores") or []),
            "fit_time": float(sum(fit_time)),
            "training_iteration": trial.iteration,
            "error": _first_line(trial.error) or None,
        }

    def _counter(self) -> str:
        return f"{self.done}/{self.total}" if self.total else str(self.done)

    def _print_candidate(self, candidate: dict[str, Any]) -> None:
        if candidate["status"] == "ERROR":
            outcome = f"failed: {candidate['error']}"
        else:
            outcome = f"{self.metric}={candidate[self.metric]:.4f}"
        print(f"[SearchCV] candidate {self._counter()} {outcome} params={candidate['params']} "
              f"({candidate['fit_time']:.1f}s fitting)", file=self.stream, flush=True)

    def _print_progress(self) -> None:
        now = time.monotonic()
        finished = self.total is not None and self.done >= self.total
        if now - self._last_line < _PROGRESS_EVERY_S and not finished:
            return
        self._last_line = now
        best = f", best {self.metric}={self.best:.4f}" if math.isfinite(self.best) else ""
        print(f"[SearchCV] {self._counter()} candidates done{best}, {now - self._start:.0f}s",
              file=self.stream, flush=True)
