"""Which stored checkpoints each trial has, which one it restarts from, and when an old one
may be deleted: the controller's checkpoint and fork bookkeeping, in one place.

Write-ahead rules (they make a driver killed at any instant lose nothing):
  1. a checkpoint is written (fsynced, renamed into place) before the journal event that
     names it (``"r"`` with ``"ck"``, ``"ck"``) is buffered (``Controller._save_checkpoint``
     writes, then calls ``saved``);
  2. an older checkpoint is deleted only after the journal has durably recorded a newer one:
     deletions wait in ``_doomed`` until the controller's flush has written and fsynced the
     batch that names the newer checkpoint (``delete_doomed``; one fsync per batch that
     deletes something, not one per report);
  3. replay trusts only checkpoints the journal names (``reconcile`` removes the others).
A failed journal write raises before any deletion, so the journaled checkpoints stay.

Forks: a forked trial restarts (after a lost worker, a restore, a pause) from its donor's
checkpoint until it saves one of its own (``_base``: trial id -> (donor id, iteration)); that
checkpoint is not deleted by the donor's ``keep_checkpoints`` meanwhile (``_deferred``). A
fork that ends without a single report is undone by an ``"unfork"`` event (``_undo``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from raysweep import journal
from raysweep import storage as _storage
from raysweep.trial import Trial

Location = tuple[str, int]  # (trial id, iteration) of a stored checkpoint


class CheckpointBook:
    """The stored checkpoints of every trial and who still needs them."""

    def __init__(self, storage: _storage.ExperimentDir | None, keep: int) -> None:
        self.storage = storage
        self.keep = keep
        self._kept: dict[str, list[int]] = {}  # trial id -> stored iterations, oldest first
        self._base: dict[str, Location] = {}  # forked trial -> its donor's checkpoint
        self._deferred: set[Location] = set()  # donors' checkpoints to delete later
        self._doomed: list[Location] = []  # deleted once the journal names newer ones
        self._undo: dict[str, journal.Event] = {}  # forked, no report since -> "unfork"

    # -- live -----------------------------------------------------------------------------
    def saved(self, trial: Trial, iteration: int) -> None:
        """``trial``'s checkpoint at ``iteration`` is stored (rule 1: before the journal
        names it); older ones beyond ``keep`` wait for deletion (rule 2)."""
        trial.checkpoint_iteration = iteration
        self.release_base(trial.trial_id)
        kept = self._kept.setdefault(trial.trial_id, [])
        if iteration not in kept:
            kept.append(iteration)
        while len(kept) > self.keep:
            old = kept.pop(0)
            if old == trial.checkpoint_iteration:
                continue
            if self._needed(trial.trial_id, old):
                self._deferred.add((trial.trial_id, old))
            else:
                self._doomed.append((trial.trial_id, old))  # deleted after the next flush

    def location(self, trial: Trial) -> Location | None:
        """Where ``trial``'s latest checkpoint is stored: its own directory, or its donor's
        when it was forked and has not saved one of its own since."""
        if trial.checkpoint_iteration is None:
            return None
        base = self._base.get(trial.trial_id)
        if base is not None and base[1] == trial.checkpoint_iteration:
            return base
        return trial.trial_id, trial.checkpoint_iteration

    def forked(self, trial: Trial, donor: Location | None) -> None:
        """``trial`` now starts from ``donor`` (its parent's checkpoint, None: from scratch).
        Call it before the fork is applied: it keeps the ``"unfork"`` that undoes it."""
        self._undo[trial.trial_id] = self._remember_fork(trial)
        self.release_base(trial.trial_id)
        if donor is not None:
            self._base[trial.trial_id] = donor

    def reported(self, trial_id: str) -> None:
        """A report: the trial's fork (if any) produced something and stands."""
        if self._undo:
            self._undo.pop(trial_id, None)

    def void_fork(self, trial_id: str) -> journal.Event | None:
        """The run ended: the ``"unfork"`` to journal when its fork produced no report."""
        undo = self._undo.pop(trial_id, None)
        if undo is not None:
            self.release_base(trial_id)
        return undo

    def release_base(self, trial_id: str) -> None:
        """``trial_id`` no longer starts from its donor's checkpoint: delete that checkpoint
        if the donor's keep_checkpoints already let it go and nobody else needs it."""
        base = self._base.pop(trial_id, None)
        if base is not None and base in self._deferred and not self._needed(*base):
            self._deferred.discard(base)
            self._doomed.append(base)  # deleted after the next flush

    @property
    def deletions_waiting(self) -> bool:
        return bool(self._doomed)

    def delete_doomed(self) -> None:
        """The journal batch naming the newer checkpoints is written and fsynced (rule 2):
        delete the old ones (none when a journal write failed: they stay)."""
        if not self._doomed or self.storage is None or not self.storage.journal_ok:
            return
        doomed, self._doomed = self._doomed, []
        for trial_id, iteration in doomed:
            if iteration not in self._kept.get(trial_id, ()):  # not re-saved since
                self.storage.delete_checkpoint(trial_id, iteration)

    def _needed(self, trial_id: str, iteration: int) -> bool:
        """A checkpoint another trial would restart from (a PBT donor's)."""
        return (trial_id, iteration) in self._base.values()

    @staticmethod
    def _remember_fork(trial: Trial) -> journal.Event:
        return journal.unfork(trial.trial_id, trial.config, trial.parent_id, trial.iteration,
                              trial.checkpoint_iteration, trial.last_result)

    # -- replay (restore) -----------------------------------------------------------------
    def replay_saved(self, trial_id: str, iteration: int) -> None:
        """The journal names a checkpoint of ``trial_id`` at ``iteration``."""
        self._kept.setdefault(trial_id, []).append(iteration)
        self._base.pop(trial_id, None)

    def replay_fork(self, trial: Trial, event: journal.Event, parent: Trial | None) -> None:
        """A journaled fork, before the fold applies it (``parent`` as it was then)."""
        self._undo[trial.trial_id] = self._remember_fork(trial)
        donor_iteration = event.get("ci")
        base = None if parent is None or donor_iteration is None else self.location(parent)
        self._base.pop(trial.trial_id, None)
        if base is not None and base[1] == donor_iteration:
            self._base[trial.trial_id] = base
        elif donor_iteration is not None:
            self._base[trial.trial_id] = (event["p"], donor_iteration)

    def replay_unfork(self, trial_id: str) -> None:
        self._undo.pop(trial_id, None)

    def reconcile(self, trials: Mapping[str, Trial], events: Iterable[journal.Event]) -> None:
        """After replay: finished trials restart from nothing; on disk, keep only the
        checkpoints the journal names (rule 3: one written just before the driver died, its
        report never journaled, would make the trial skip the iterations in between), and
        step back a trial whose journaled checkpoint is gone (not removed by raysweep)."""
        for trial_id, trial in trials.items():
            if trial.status.is_finished:
                self._base.pop(trial_id, None)
        if self.storage is None:
            return
        named = {trial_id: set(its) for trial_id, its in self._kept.items()}
        for event in events:
            if event["e"] == "fork" and event.get("ci") is not None:
                named.setdefault(event.get("p"), set()).add(event["ci"])  # type: ignore[arg-type]
        for trial_id in trials:
            found = _storage.list_checkpoints(self.storage.path, trial_id, clean=True)
            journaled = named.get(trial_id, set())
            for iteration in found:
                if iteration not in journaled:
                    self.storage.delete_checkpoint(trial_id, iteration)
            self._kept[trial_id] = [i for i in found if i in journaled]
        for trial_id, trial in trials.items():
            base = self._base.get(trial_id)
            if base is not None and trial.checkpoint_iteration == base[1]:
                if base[1] not in self._kept.get(base[0], ()):
                    del self._base[trial_id]  # the donor's is gone: from scratch
                    trial.checkpoint_iteration = None
                continue
            found = self._kept[trial_id]
            if trial.checkpoint_iteration is not None and \
                    trial.checkpoint_iteration not in found:  # lost (not by raysweep)
                older = [i for i in found if i < trial.checkpoint_iteration]
                trial.checkpoint_iteration = older[-1] if older else None

    def stats(self) -> dict[str, Any]:
        """Counts for tests and debugging."""
        return {"kept": sum(map(len, self._kept.values())), "bases": len(self._base),
                "deferred": len(self._deferred), "doomed": len(self._doomed)}
