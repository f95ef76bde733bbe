"""The plug-in points as ``Protocol``s: what the run calls on a searcher, a scheduler and a
callback, and nothing more.

Users extend raysweep by subclassing ``raysweep.search.Searcher``,
``raysweep.schedulers.Scheduler`` and ``raysweep.Callback`` (``rs.run`` accepts instances of
those classes: the base classes carry the shared machinery, such as ``points_to_evaluate`` and
``max_concurrent``). These protocols are the contract those classes fulfil towards the code
that drives them (the controller, ``rs.run``'s setup, the progress display): type the driving
code against them, so that what it may call is written down in one place. A static check at
the end of this module keeps the base classes conforming.

The executor is not here: it is an ABC (``raysweep.execution.base.Executor``), since every
executor shares code through it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from raysweep.decisions import Decision, Launch
    from raysweep.search.base import _Finished
    from raysweep.space import Space
    from raysweep.trial import Trial

__all__ = ["CallbackProtocol", "SchedulerProtocol", "SearcherProtocol"]


class SearcherProtocol(Protocol):
    """What the run calls on a searcher: ``setup`` once, ``add_evaluated`` for warm starts,
    then any interleaving of ``suggest`` and ``observe`` (``final=True`` once per trial).

    ``suggest`` returns a nested config, ``None`` (nothing to propose now) or
    ``raysweep.search.FINISHED`` (nothing more, ever). ``supports_grid`` says whether the
    searcher samples grid domains itself. The progress display also reads ``space``,
    ``num_samples`` and ``points_to_evaluate`` of a grid-sampling searcher.
    """

    @property
    def supports_grid(self) -> bool: ...

    def setup(self, space: Space, metric: str, mode: str, seed: int | np.random.SeedSequence,
              num_samples: int | None = None) -> None: ...

    def add_evaluated(self, config: dict[str, Any], result: dict[str, Any]) -> None: ...

    def suggest(self, trial_id: str) -> dict[str, Any] | None | _Finished: ...

    def observe(self, trial_id: str, result: dict[str, Any], *, final: bool) -> None: ...


class SchedulerProtocol(Protocol):
    """What the run calls on a scheduler: ``setup`` once; ``on_trial_add`` per new trial;
    ``on_result`` per report of a running trial (a ``Decision``); ``on_trial_complete`` when
    a trial ends; ``next_launch`` when a slot is free (a ``Launch``: new trial, resume, fork
    or wait). ``blocking_iterations`` says where the worker waits for a decision (None: at
    every report). The flags say what the run must provide: checkpoints for a scheduler
    that pauses or forks, the metric in every result.

    ``make_searcher`` (a paired searcher, or None) and ``validate_searcher`` (raise
    ``ValueError`` when the searcher cannot work with this scheduler; it must not change
    the searcher) are called before the run starts.
    """

    @property
    def pauses(self) -> bool: ...

    @property
    def needs_checkpoints(self) -> bool: ...

    @property
    def requires_metric(self) -> bool: ...

    def setup(self, metric: str, mode: str, seed: int | np.random.SeedSequence) -> None: ...

    def on_trial_add(self, trial: Trial) -> None: ...

    def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision: ...

    def on_trial_complete(self, trial: Trial) -> None: ...

    def next_launch(self, trials: Mapping[str, Trial], *, exhausted: bool) -> Launch: ...

    def blocking_iterations(self, trial: Trial) -> Collection[int] | None: ...

    def make_searcher(self) -> Any: ...

    def validate_searcher(self, searcher: Any) -> None: ...


class CallbackProtocol(Protocol):
    """The hooks the run calls on every callback (loggers included), in this order:
    ``on_experiment_start`` once, then per trial ``on_trial_start`` (also on a resume, fork
    or retry), ``on_trial_result`` per report and ``on_trial_complete`` when it ends, and
    ``on_experiment_end`` once with the ``Results``. A logger that takes the journal's
    pre-encoded reports is a ``raysweep.callbacks.ReportSink`` (its ``log_report`` replaces
    ``on_trial_result``).
    """

    def on_experiment_start(self, path: str, settings: dict[str, Any]) -> None: ...

    def on_trial_start(self, trial: Trial) -> None: ...

    def on_trial_result(self, trial: Trial, result: dict[str, Any]) -> None: ...

    def on_trial_complete(self, trial: Trial) -> None: ...

    def on_experiment_end(self, results: Any) -> None: ...


if TYPE_CHECKING:  # the base classes fulfil the protocols (checked by mypy, no runtime cost)
    from raysweep.callbacks import Callback
    from raysweep.schedulers.base import Scheduler
    from raysweep.search.base import Searcher

    def _conforms(searcher: Searcher, scheduler: Scheduler, callback: Callback) -> None:
        _searcher: SearcherProtocol = searcher
        _scheduler: SchedulerProtocol = scheduler
        _callback: CallbackProtocol = callback
