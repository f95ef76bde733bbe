"""raysweep.journal: every event the driver writes round-trips through the one encoder and
decoder, the fold applies each kind, and the derived views (unfinished reports, history,
count_created) agree with the events."""

from __future__ import annotations

import os

import pytest

from raysweep import journal
from raysweep.errors import CorruptJournal
from raysweep.trial import TrialStatus

CONFIG = {"lr": 0.1, "model": {"depth": 3}}


def _report(trial_id, iteration, loss, checkpoint=False):
    return journal.report(trial_id, {"loss": loss, "training_iteration": iteration}, checkpoint)


def _every_kind():
    return [
        journal.session("start", 1.23456),
        journal.new("00000", CONFIG, 1.5),
        journal.new("00001", {"lr": 0.2, "model": {"depth": 1}}, 1.6),
        _report("00000", 1, 0.5, checkpoint=True),
        _report("00001", 1, 0.4, checkpoint=True),
        journal.status("00000", "PAUSED", 2.0, node="node-a"),
        journal.checkpoint("00000", 1),
        journal.fork("00000", "00001", {"lr": 0.25, "model": {"depth": 1}}, 1),
        _report("00000", 2, 0.3),
        journal.status("00001", "PAUSED", 2.5),
        journal.resume("00001", stalled=True),
        journal.restart("00001", 1, "failure", 1),
        _report("00001", 2, 0.35, checkpoint=True),
        journal.status("00001", "ERROR", 3.0, error="boom"),
        journal.finished(),
        journal.session("end", 4.0),
    ]


def test_every_constructor_round_trips_through_the_encoder_and_decoder():
    for event in _every_kind():
        assert event["e"] in {kind.value for kind in journal.Kind}
        line = journal.dumps(event)
        assert "\n" not in line
        assert journal.decode(line) == event
    assert journal.session("end", 1.23456)["t"] == 1.235  # wall times are kept to the ms


def test_the_fast_report_line_is_what_the_encoder_writes():
    result = {"loss": 0.25, "training_iteration": 3, "note": "é"}
    for checkpoint in (False, True):
        event = journal.report("00007", result, checkpoint)
        assert journal.report_line("00007", journal.dumps(result), checkpoint) == \
            journal.dumps(event)


def test_count_created_counts_the_new_events_the_encoder_writes(tmp_path):
    events = _every_kind()
    path = tmp_path / "journal.jsonl"
    text = "\n".join(journal.dumps(e) for e in events) + "\n"
    path.write_text(text + '{"e":"new","id":"00002","c":{"x"')  # a torn last line
    assert journal.count_created(str(path)) == 2
    assert journal.count_created(str(tmp_path / "missing.jsonl")) == 0
    assert len(journal.read(str(path))) == len(events)  # the torn line is no event


def test_a_malformed_line_is_corrupt_journal_naming_file_and_line(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text(journal.dumps(journal.new("00000", CONFIG, 0.0)) + "\n"
                    + '{"e":"s","id":"00000","s":"DONE"}\n' + journal.dumps(journal.finished()))
    with pytest.raises(CorruptJournal, match=f"{os.path.basename(path)}: line 2 .*status"):
        journal.read(str(path))


def test_the_fold_applies_each_kind():
    state = journal.fold(_every_kind(), "loss", "min")
    first, second = state.trials["00000"], state.trials["00001"]
    assert state.searcher_finished
    assert first.config == {"lr": 0.25, "model": {"depth": 1}} and first.parent_id == "00001"
    assert first.status is TrialStatus.RUNNING and first.iteration == 2
    assert first.node_id == "node-a" and first.checkpoint_iteration == 1
    assert first.best_result == {"loss": 0.3, "training_iteration": 2}
    assert [s["parent_id"] for s in state.schedules["00000"]] == [None, "00001"]
    assert second.status is TrialStatus.ERROR and second.error == "boom"
    assert second.num_failures == 1 and second.checkpoint_iteration == 2
    assert state.position == len(_every_kind())


def test_an_unfork_restores_the_state_before_the_fork():
    events = [journal.new("00000", CONFIG, 0.0), _report("00000", 4, 0.5, checkpoint=True),
              journal.status("00000", "PAUSED", 1.0)]
    before = journal.fold(events, "loss", "max").trials["00000"]
    undo = journal.unfork("00000", before.config, before.parent_id, before.iteration,
                          before.checkpoint_iteration, before.last_result)
    events += [journal.fork("00000", "00009", {"lr": 0.9}, 4), undo,
               journal.status("00000", "TERMINATED", 2.0)]
    state = journal.fold(events, "loss", "max", history=True)
    after = state.trials["00000"]
    assert (after.config, after.parent_id, after.iteration, after.checkpoint_iteration) == \
        (CONFIG, None, 4, 4)
    assert "00000" not in state.schedules
    assert [row["training_iteration"] for row in state.history_rows()] == [4]


def test_unfinished_reports_are_those_past_the_last_checkpoint_of_the_current_run():
    events = [journal.new("00000", CONFIG, 0.0), journal.new("00001", CONFIG, 0.0),
              _report("00000", 1, 0.9, checkpoint=True), _report("00000", 2, 0.8),
              _report("00000", 3, 0.7), _report("00001", 1, 0.9),
              journal.status("00001", "TERMINATED", 1.0)]
    state = journal.fold(events, "loss", "min", track_tails=True)
    assert state.unfinished_reports() == {3, 4}  # 00000's reports 2 and 3; 00001 finished
    restarted = events + [journal.restart("00000", 1, "failure", 1), _report("00000", 2, 0.8)]
    state = journal.fold(restarted, "loss", "min", track_tails=True)
    assert state.unfinished_reports() == {8}
    rows = journal.fold(restarted, "loss", "min", history=True).history_rows()
    assert [(r["trial_id"], r["training_iteration"]) for r in rows] == \
        [("00000", 1), ("00001", 1), ("00000", 2)]
    with pytest.raises(RuntimeError, match="track_tails"):
        journal.fold(events, "loss", "min").unfinished_reports()


def test_live_events_drop_finished_marks_that_no_longer_hold():
    events = [journal.new("00000", CONFIG, 0.0), journal.finished(),
              journal.new("00001", CONFIG, 0.0), journal.finished()]
    # a mark that trials followed no longer holds; the last one does (unless extended)
    assert journal.live_events(events, extended=False) == [events[0], events[2], events[3]]
    assert all(e["e"] != "finished" for e in journal.live_events(events, extended=True))
