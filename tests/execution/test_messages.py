"""The driver <-> worker vocabulary (execution/messages.py) and the inline executor's
answer to "kill this trial"."""

from __future__ import annotations

import pickle
import time

import pytest

import raysweep as rs
from raysweep.decisions import Decision
from raysweep.execution.inline import InlineExecutor
from raysweep.execution.messages import (Cancel, Decide, Ended, EndKind, Lost, Report, Start,
                                         event_from_wire, message_from_wire, to_wire)

MESSAGES = [Start("00001", {"lr": 0.1}, ("pickle", b"x"), 3, 1.5, (1, 3, 9)),
            Start("00002", {}, None, 0, 0.0, None),
            *(Decide("00001", decision) for decision in Decision),
            Cancel("00003")]
EVENTS = [Report("00001", {"loss": 0.5, "training_iteration": 1}, None, True),
          Report("00001", {"loss": 0.4}, ("pickle", b"ck"), False),
          *(Ended("00002", kind, "Traceback ..." if kind is EndKind.ERROR else None)
            for kind in EndKind),
          Ended("00002", EndKind.PAUSED, None, ("pickle", b"state")),
          Lost("00004", "worker process died", True)]


@pytest.mark.parametrize("message", MESSAGES, ids=repr)
def test_a_message_survives_the_ray_wire(message):
    wire = pickle.loads(pickle.dumps(to_wire(message)))
    assert type(wire) is tuple
    decoded = message_from_wire(wire)
    assert decoded == message and type(decoded) is type(message)
    if isinstance(message, Decide):
        assert decoded.decision is message.decision  # the enum member, not its text


@pytest.mark.parametrize("event", EVENTS, ids=repr)
def test_an_event_survives_the_ray_wire(event):
    decoded = event_from_wire(pickle.loads(pickle.dumps(to_wire(event))))
    assert decoded == event and type(decoded) is type(event)
    if isinstance(event, Ended):
        assert decoded.kind is event.kind


def test_messages_are_immutable_and_wire_tags_are_checked():
    report = EVENTS[0]
    with pytest.raises(AttributeError):
        report.waiting = False  # type: ignore[misc]
    with pytest.raises(ValueError, match="not a raysweep wire event"):
        event_from_wire(("d", "00001", "STOP"))
    with pytest.raises(ValueError, match="not a raysweep wire message"):
        message_from_wire(("r", "00001", {}, None, False))
    with pytest.raises(TypeError, match="not a raysweep message"):
        to_wire(("r", "00001"))  # type: ignore[arg-type]


def test_the_inline_executor_cannot_kill_a_trial_it_stops_it_at_a_report(storage):
    """The inline executor runs the trial in the driver's own process: it says it cannot kill
    (``can_kill``; the controller then never calls ``kill``), and a trial past
    ``time_budget_s`` ends TERMINATED at a report instead: the STOP travels with the next
    poll, after the first report, and the trial ends at the report after that, kept."""
    assert InlineExecutor.can_kill is False
    with pytest.raises(RuntimeError, match="cannot kill"):
        InlineExecutor().kill("00000", "too slow")

    def slow(config):
        for _ in range(20):
            time.sleep(0.3)
            rs.report({"loss": config["x"]})

    results = rs.run(slow, {"x": rs.uniform(0, 1)}, metric="loss", num_samples=3,
                     time_budget_s=0.1, storage_path=storage, executor="inline", verbose=0)
    frame = results.dataframe()
    assert frame.status.tolist() == ["TERMINATED"]
    assert frame.training_iteration.tolist() == [2]
