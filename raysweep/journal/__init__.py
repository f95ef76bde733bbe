"""The journal: an experiment's append-only event log and the one owner of its format.

Everything that writes, reads or interprets ``journal.jsonl`` goes through this package:

- ``Kind`` names every event kind, and one typed constructor per kind (``new``, ``report``,
  ``status``, ...) builds the event the controller writes (``_events.py``);
- one encoder (``dumps``, and ``report_line``, the fast hand-built report line) and one
  decoder (``decode``/``decode_all``: validation, ``CorruptJournal`` naming file and line)
  (``_codec.py``);
- one fold, ``JournalState``: events -> the trials' state, one ``_apply_<kind>`` per kind,
  used by ``rs.load``, restore/replay, the live controller, the CLI and ``count_created``
  (``_fold.py``).

Schema (one JSON object per line; compact keys keep a report under ~150 bytes; ``?`` marks
a key that may be absent; ``t`` is wall-clock seconds rounded to ms)::

    {"e": "session", "kind": "start"|"end"|"interrupted", "t": t}   a driver session
    {"e": "new", "id": "00003", "c": {config}, "t": t}               a trial is created
    {"e": "r", "id": id, "r": {result}, "ck": 1?}                    a report; "ck": a
        checkpoint was stored at its training_iteration (written before this line)
    {"e": "s", "id": id, "s": STATUS, "t": t, "err": "..."?, "node": "..."?}
        status change: STATUS is PENDING, RUNNING, PAUSED, TERMINATED or ERROR ("err": the
        error text; "node": the Ray node that ran the trial last). PENDING is written when
        a run ends early (``Controller.settle``): the trial waits to be run again
    {"e": "ck", "id": id, "i": iteration}                            checkpoint saved at pause
    {"e": "resume", "id": id, "x": 1?}                               a paused trial restarts
    {"e": "fork", "id": id, "p": parent, "c": {config}, "i": iteration, "ci": iteration|null,
     "x": 1?}   PBT exploit/explore: ``id`` continues from ``p``'s checkpoint at ``ci``
        (null: ``p`` had none, ``id`` starts from scratch) with config ``c``
    {"e": "unfork", "id": id, "c": {config}, "p": parent|null, "i": iteration,
     "ci": iteration|null, "r": {result}?}   that fork produced nothing (its run ended
        without a report): the trial's config, lineage and result before it stand again
    {"e": "restart", "id": id, "i": iteration, "why": "failure"|"restore", "n": failures}
        the trial runs again from its checkpoint at ``i`` (0: from scratch)
    {"e": "finished"}                                                searcher exhausted

``"x": 1`` on ``resume``/``fork``: the scheduler was asked as if no new trial could come
(``Controller._unstall``); a replay asks it the same. Readers ignore kinds and keys they do
not know, so a newer writer's journal still loads.
"""

from raysweep.journal._codec import (
    corrupt,
    count_created,
    decode,
    decode_all,
    dumps,
    json_default,
    quote,
    read,
    report_line,
)
from raysweep.journal._events import (
    Event,
    Kind,
    checkpoint,
    finished,
    fork,
    new,
    report,
    restart,
    resume,
    session,
    status,
    unfork,
)
from raysweep.journal._fold import (
    METRIC_RESULT,
    JournalState,
    fold,
    last_metric_result,
    live_events,
    metric_loss,
    report_history,
)

__all__ = [
    "METRIC_RESULT", "Event", "JournalState", "Kind", "checkpoint", "corrupt", "count_created",
    "decode", "decode_all", "dumps", "finished", "fold", "fork", "json_default",
    "last_metric_result", "live_events", "metric_loss", "new", "quote", "read", "report",
    "report_history", "report_line", "restart", "resume", "session", "status", "unfork",
]
