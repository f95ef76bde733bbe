"""What every framework's ``ReportCallback`` shares.

- argument checks (``metrics``, ``checkpoint_every``) with messages in raysweep's one form;
- picking the named metrics out of what the framework computed, with an error that lists
  what it did compute;
- reporting through ``raysweep.report`` with a checkpoint directory the framework writes in
  its own format, deleted once the report has sent it;
- holding raysweep's stop: ``raysweep.report`` ends a stopped or paused trial by raising
  ``_StopTrial`` (a ``BaseException``). A callback cannot let that escape mid-loop without
  skipping the framework's own shutdown, so ``Reporter.report`` catches it and returns True;
  the callback then uses the framework's stop mechanism, and re-raises the held stop from the
  framework's end-of-training hook (``Reporter.raise_stop``), where the loop is over.
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from raysweep import session as _session
from raysweep.checkpoint import Checkpoint

StopTrial = _session._StopTrial


def require(package: str, extra: str, module: str) -> ModuleType:
    """Import ``package`` or raise an ImportError that names the extra to install."""
    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise ImportError(
            f"raysweep.integrations.{module} needs {package}, which could not be imported "
            f"({exc}): pip install 'raysweep[{extra}]'") from None


def check_metrics(owner: str, metrics: Any) -> dict[str, str] | None:
    """``metrics`` as ``{reported name: framework name}`` (None: report everything)."""
    if metrics is None:
        return None
    if isinstance(metrics, str) and metrics:
        return {metrics: metrics}
    if isinstance(metrics, Mapping):
        if metrics and all(isinstance(k, str) and k and isinstance(v, str) and v
                           for k, v in metrics.items()):
            return dict(metrics)
    elif isinstance(metrics, (list, tuple)) and metrics and all(
            isinstance(m, str) and m for m in metrics):
        return {m: m for m in metrics}
    raise ValueError(
        f"{owner}: metrics must be None (report everything), a name, a list of names, or a "
        f"non-empty dict of reported name to the framework's name such as "
        f"{{'loss': 'valid-logloss'}}, got {metrics!r}")


def check_every(owner: str, checkpoint_every: Any) -> int | None:
    if checkpoint_every is None:
        return None
    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or \
            checkpoint_every < 1:
        raise ValueError(f"{owner}: checkpoint_every must be None (no periodic checkpoints) "
                         f"or an int >= 1, got {checkpoint_every!r}")
    return checkpoint_every


def check_flag(owner: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{owner}: {name} must be True or False, got {value!r}")
    return value


def check_filename(owner: str, filename: Any) -> str:
    if not isinstance(filename, str) or not filename or "/" in filename or \
            "\\" in filename or filename in (".", ".."):
        raise ValueError(f"{owner}: filename must be a plain file name such as 'model.ubj', "
                         f"got {filename!r}")
    return filename


def checkpoint_directory(checkpoint: Any, owner: str) -> str | None:
    """The directory of ``checkpoint`` (default: the running trial's), or None."""
    if checkpoint is None:
        checkpoint = _session.get_checkpoint()
        if checkpoint is None:
            return None
    if not isinstance(checkpoint, Checkpoint):
        raise TypeError(f"{owner}: the checkpoint is a {type(checkpoint).__name__}, not a "
                        f"raysweep.Checkpoint directory; was it written by another objective?")
    return checkpoint.path


class Reporter:
    """One training run's reporting state (reset when the framework starts training)."""

    def __init__(self, owner: str, framework: str, metrics: dict[str, str] | None,
                 checkpoint_every: int | None, checkpoint_at_decisions: bool) -> None:
        self.owner = owner
        self.framework = framework
        self.metrics = metrics
        self.checkpoint_every = checkpoint_every
        self.checkpoint_at_decisions = checkpoint_at_decisions
        self.stop: BaseException | None = None
        self._first = True

    def reset(self) -> None:
        self.stop = None
        self._first = True

    def pick(self, available: dict[str, float]) -> dict[str, float]:
        """The metrics to report from what the framework computed this step."""
        if self.metrics is None:
            if not available:
                raise ValueError(f"{self.owner}: {self.framework} computed no metric to report "
                                 f"this step; give it validation data to evaluate")
            return dict(available)
        picked = {}
        for name, key in self.metrics.items():
            if key not in available:
                raise ValueError(
                    f"{self.owner}: metric {key!r} is not among the metrics {self.framework} "
                    f"computed this step: {sorted(available)}")
            picked[name] = available[key]
        return picked

    def due(self, step: int) -> bool:
        """Whether the report of framework step ``step`` (1-based) carries a checkpoint:
        every ``checkpoint_every`` steps, and at the iterations where the scheduler waits to
        decide (a pause or a PBT fork there resumes from exactly that point)."""
        if self.checkpoint_every is not None and step % self.checkpoint_every == 0:
            return True
        if not self.checkpoint_at_decisions:
            return False
        run = _session._current()
        # (the worker's run: the iterations it waits at for a decision; None = every report,
        # which would be a checkpoint per report, so only a finite list counts)
        blocking = getattr(run, "blocking", None)
        iteration = getattr(run, "iteration", None)
        if not blocking or iteration is None:
            return False
        return iteration + 1 in blocking

    def report(self, values: dict[str, Any], save: Callable[[str], Any] | None = None,
               step: int | None = None, saved: str | None = None) -> bool:
        """``raysweep.report(values)`` with, when ``save`` is given, a checkpoint directory
        that ``save(directory)`` fills (or the framework's own directory ``saved``). Returns
        True when the trial must stop (the stop is held in ``self.stop`` for ``raise_stop``)."""
        if self.stop is not None:  # stopped already: no more reports
            return True
        if self._first:
            self._first = False
            self._check_resumed(step)
        directory = None
        try:
            checkpoint = None if saved is None else Checkpoint.from_directory(saved)
            if save is not None:
                directory = tempfile.mkdtemp(prefix="raysweep_save_")
                save(directory)
                checkpoint = Checkpoint.from_directory(directory)
            _session.report(values, checkpoint=checkpoint)
        except StopTrial as stop:
            self.stop = stop
            return True
        finally:
            if directory is not None:  # the report has already packed its files
                shutil.rmtree(directory, ignore_errors=True)
        return False

    def raise_stop(self) -> None:
        """Re-raise the held stop (from the framework's end-of-training hook)."""
        stop, self.stop = self.stop, None
        if stop is not None:
            raise stop

    def _check_resumed(self, step: int | None) -> None:
        """A trial raysweep restarted from a checkpoint whose framework starts at step 1
        ignored that checkpoint: its steps and raysweep's iterations no longer agree."""
        if step != 1:
            return
        start = getattr(_session._current(), "iteration", 0)
        if start:
            warnings.warn(
                f"{self.owner}: trial {_session.get_trial_id()} restarted from its checkpoint "
                f"at iteration {start}, but {self.framework} started training from scratch; "
                f"resume it from load_checkpoint() (see the module's docstring)",
                RuntimeWarning, stacklevel=3)


class Reporting:
    """What ``setup_callback`` gives every framework's ``ReportCallback`` (a mixin: the
    framework's own callback class, when it has one, comes first)."""

    metrics: dict[str, str] | None
    checkpoint_every: int | None
    checkpoint_at_decisions: bool
    _reporter: Reporter


def setup_callback(callback: Reporting, owner: str, framework: str, metrics: Any,
                   checkpoint_every: Any, checkpoint_at_decisions: Any) -> None:
    """Check a ``ReportCallback``'s common arguments and set ``callback.metrics``,
    ``.checkpoint_every``, ``.checkpoint_at_decisions`` and its ``Reporter``."""
    callback.metrics = check_metrics(owner, metrics)
    callback.checkpoint_every = check_every(owner, checkpoint_every)
    callback.checkpoint_at_decisions = check_flag(owner, "checkpoint_at_decisions",
                                                  checkpoint_at_decisions)
    callback._reporter = Reporter(owner, framework, callback.metrics,
                                  callback.checkpoint_every, callback.checkpoint_at_decisions)


def numeric(logs: Mapping[str, Any] | None) -> dict[str, float]:
    """The entries of ``logs`` that ``float()`` accepts, as floats (others are skipped)."""
    values = {}
    for key, value in (logs or {}).items():
        try:
            values[key] = float(value)
        except (TypeError, ValueError):
            continue
    return values


def checkpoint_file(checkpoint: Any, owner: str, filename: str) -> str | None:
    """The path of ``filename`` in ``checkpoint`` (default: the running trial's), None when
    there is no checkpoint, or a FileNotFoundError naming what the checkpoint holds."""
    directory = checkpoint_directory(checkpoint, owner)
    if directory is None:
        return None
    path = os.path.join(directory, filename)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{owner}: the checkpoint has no {filename!r} "
                                f"(it holds {sorted(os.listdir(directory))})")
    return path
