"""Live progress: a rich panel on a terminal or in Jupyter, plain lines at a bounded rate elsewhere.

``make_reporter`` picks the display; every reporter has the same two-method contract the
controller relies on: ``update(controller)`` (called once per driver-loop iteration, cheap when
nothing is due) and ``close()`` (draws the final state and releases the terminal).

What is shown: trials by status (a trial the driver has handed to a worker that is still busy
with an earlier one is *queued*, not running), a progress bar towards ``num_samples`` (a grid
sweep's size, or the time budget), the best result so far with its config, the last few errors
and how many workers are busy. The ETA appears only once it means something: after a full wave
of trials (at least ``max(3, workers)``) has finished in this session, measured from the moment
the first trial ran (so Ray's start-up does not inflate it); a time budget's remaining time is
always shown as the bound it is. ``verbose=0`` shows nothing, ``1`` the panel (or lines),
``2`` also one line per finished trial. ``RAYSWEEP_PROGRESS=plain|live|off`` overrides the
automatic choice.

One concept per module:

- ``_state``: ``Snapshot`` (what is shown) and ``_Tracker`` (follows the trial table, the
  session's clock and the best trial under the experiment's ``Goal``);
- ``_eta``: the rule for the bar's fraction and the ETA;
- ``_text``: the plain-line renderer (``status_line``, ``trial_line``, ``format_*``);
- ``_panel``: the rich panel (``render_panel``);
- ``_reporters``: ``PlainReporter`` and what it reads from the controller;
- ``_live``: ``LiveReporter`` (terminal) and ``JupyterReporter`` (notebook cell);
- ``_choose``: ``make_reporter``, which display a run gets.
"""

from __future__ import annotations

from raysweep.progress._choose import make_reporter
from raysweep.progress._live import JupyterReporter, LiveReporter
from raysweep.progress._panel import render_panel
from raysweep.progress._reporters import PlainReporter
from raysweep.progress._state import Snapshot, _Tracker
from raysweep.progress._text import (format_config, format_duration, format_value,
                                     status_line, trial_line)

__all__ = ["JupyterReporter", "LiveReporter", "PlainReporter", "Snapshot", "_Tracker",
           "format_config", "format_duration", "format_value", "make_reporter",
           "render_panel", "status_line", "trial_line"]
