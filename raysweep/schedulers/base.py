"""The Scheduler protocol: judge each result, say what to launch when a slot frees up.

A scheduler never sees Ray, the disk or the controller: it receives trials and results and
returns a ``Decision`` or a ``Launch``. It is deterministic given its seed and the order of
calls; restore rebuilds it by replaying, in journal order, ``on_trial_add``, ``on_result``,
``on_trial_complete`` and every ``next_launch`` call that returned something other than
``Wait``. Hence the rule: a ``next_launch`` call that returns ``WAIT`` must not change state.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from raysweep._goal import Goal
from raysweep.decisions import NEW, WAIT, Decision, Launch
from raysweep.trial import Trial

if TYPE_CHECKING:
    from raysweep.search.base import Searcher


class Scheduler:
    """Base class of every trial scheduler (FIFO behaviour by default).

    Attributes set by ``setup``: ``goal`` (the experiment's ``Goal``: the one rule for
    "better"), ``metric``, ``mode``, ``sign`` (+1 min, -1 max, from the goal) and ``rng``.
    """

    name = "scheduler"
    #: Whether this scheduler ever returns PAUSE (and so needs checkpoints to resume).
    pauses: bool = False
    #: Whether this scheduler needs the objective to checkpoint (PBT's exploit).
    needs_checkpoints: bool = False
    #: Whether the configured ``metric`` must be in every result this scheduler sees.
    requires_metric: bool = True

    def setup(self, metric: str, mode: str, seed: int | np.random.SeedSequence) -> None:
        """Bind to an experiment. Subclasses call ``super().setup(...)`` first."""
        self.goal = Goal.of(metric, mode)
        self.metric = metric
        self.mode = mode
        self.sign = self.goal.sign
        self.rng = np.random.default_rng(seed)

    def on_trial_add(self, trial: Trial) -> None:
        """A new trial was created (its ``config`` is set)."""

    def on_result(self, trial: Trial, result: dict[str, Any]) -> Decision:
        """Judge one reported result of a RUNNING trial."""
        return Decision.CONTINUE

    def on_trial_complete(self, trial: Trial) -> None:
        """``trial`` ended (TERMINATED or ERROR), including when this scheduler stopped it."""

    def next_launch(self, trials: Mapping[str, Trial], *, exhausted: bool) -> Launch:
        """Say what to start in a free slot.

        Args:
            trials: Every trial of the experiment by id (read-only).
            exhausted: True when no new trial can be created (budget reached or searcher
                finished): the scheduler should resume paused trials it would otherwise
                keep waiting for. When it returns ``WAIT`` while nothing is running, the
                experiment ends and any still-PAUSED trials become TERMINATED.
        """
        return WAIT if exhausted else NEW

    def blocking_iterations(self, trial: Trial) -> Collection[int] | None:
        """Iterations at which the worker must wait for this scheduler's decision.

        A finite collection (it is sent to the worker as a sorted tuple).

        ``None`` means every report (the safe default). Return an empty container when the
        scheduler never stops/pauses on its own, so the worker can run ahead and batch
        reports. A ``Trainable`` also saves a checkpoint at these iterations.
        """
        return None

    def make_searcher(self):
        """Optional: a searcher this scheduler pairs with (BOHB's KDE), used when the user
        did not choose one. Returns None by default."""
        return None

    def validate_searcher(self, searcher: Searcher) -> None:
        """Raise ``ValueError`` naming both when this scheduler cannot work with ``searcher``.

        Only checks: it never changes ``searcher`` (see ``configure_searcher``)."""

    def configure_searcher(self, searcher: Searcher) -> Searcher:
        """The searcher to run with this scheduler: ``searcher`` itself (the default) or a
        configured copy (BOHB gives its ``BOHBSearcher`` the rung budgets). Called after
        ``validate_searcher`` and before ``setup``; never changes its argument."""
        return searcher

    # -- helpers for subclasses -----------------------------------------------------------
    def loss(self, result: Mapping[str, Any], key: str | None = None) -> float:
        """``result[key or metric]`` as a loss to minimise (``inf`` when it is missing, NaN,
        infinite, a bool or not a number: the ``Goal``'s rule)."""
        return self.goal.loss_of(result.get(key or self.metric) if result else None)

    def state_dict(self) -> dict[str, Any]:  # pragma: no cover - optional
        """Optional: a JSON-able summary for display and debugging."""
        return {}
