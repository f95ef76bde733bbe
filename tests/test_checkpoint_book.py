"""CheckpointBook: the write-ahead rules for checkpoints, against a real experiment directory."""

from __future__ import annotations

import cloudpickle

from raysweep import journal
from raysweep import storage as _storage
from raysweep.execution.checkpoints import CheckpointBook
from raysweep.trial import Trial, TrialStatus


def _directory(tmp_path):
    directory = _storage.ExperimentDir(str(tmp_path / "x"))
    directory.lock()
    directory.open_journal()
    return directory


def _save(directory, book, trial, iteration):
    directory.write_checkpoint(trial.trial_id, iteration,
                               ("pickle", cloudpickle.dumps({"it": iteration})))
    book.saved(trial, iteration)


def _stored(directory, trial_id):
    return _storage.list_checkpoints(directory.path, trial_id)


def test_old_checkpoints_go_only_after_the_journal_names_a_newer_one(tmp_path):
    directory = _directory(tmp_path)
    book = CheckpointBook(directory, keep=1)
    trial = Trial("00000", {})
    _save(directory, book, trial, 1)
    _save(directory, book, trial, 2)
    assert trial.checkpoint_iteration == 2 and book.deletions_waiting
    assert _stored(directory, "00000") == [1, 2]  # rule 2: not before the flush
    directory.flush(sync=True)
    book.delete_doomed()
    assert _stored(directory, "00000") == [2] and not book.deletions_waiting
    directory.close()


def test_a_donors_checkpoint_stays_while_a_fork_would_restart_from_it(tmp_path):
    directory = _directory(tmp_path)
    book = CheckpointBook(directory, keep=1)
    donor, forked = Trial("00000", {}), Trial("00001", {"lr": 1})
    _save(directory, book, donor, 2)
    forked.status = TrialStatus.PAUSED
    donor_location = book.location(donor)
    assert donor_location == ("00000", 2)
    book.forked(forked, donor_location)
    forked.checkpoint_iteration = 2
    assert book.location(forked) == ("00000", 2)  # it restarts from the donor's
    _save(directory, book, donor, 3)  # keep=1 would drop the donor's 2: deferred instead
    directory.flush(sync=True)
    book.delete_doomed()
    assert _stored(directory, "00000") == [2, 3]
    _save(directory, book, forked, 3)  # the fork has its own now: the donor's 2 may go
    directory.flush(sync=True)
    book.delete_doomed()
    assert _stored(directory, "00000") == [3] and book.location(forked) == ("00001", 3)
    directory.close()


def test_a_fork_without_a_report_is_undone_and_one_with_a_report_stands():
    book = CheckpointBook(None, keep=2)
    trial = Trial("00000", {"lr": 0.1})
    trial.iteration, trial.checkpoint_iteration = 4, 4
    book.forked(trial, ("00001", 4))
    undo = book.void_fork("00000")
    assert undo == journal.unfork("00000", {"lr": 0.1}, None, 4, 4, None)
    assert book.void_fork("00000") is None
    book.forked(trial, ("00001", 4))
    book.reported("00000")
    assert book.void_fork("00000") is None


def test_replay_trusts_only_the_checkpoints_the_journal_names(tmp_path):
    directory = _directory(tmp_path)
    writer = CheckpointBook(directory, keep=5)
    trial = Trial("00000", {})
    for iteration in (1, 2, 3):  # 3 was written, then the driver died before journaling it
        _save(directory, writer, trial, iteration)
    events = [journal.new("00000", {}, 0.0),
              journal.report("00000", {"training_iteration": 1}, True),
              journal.report("00000", {"training_iteration": 2}, True)]
    state = journal.fold(events, "loss", "min")
    book = CheckpointBook(directory, keep=5)
    for iteration in (1, 2):
        book.replay_saved("00000", iteration)
    book.reconcile(state.trials, events)
    assert _stored(directory, "00000") == [1, 2]
    assert state.trials["00000"].checkpoint_iteration == 2
    directory.close()
