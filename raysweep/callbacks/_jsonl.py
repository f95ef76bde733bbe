"""``JSONLLogger``: one JSON line per report."""

from __future__ import annotations

import os
from typing import Any

from raysweep.callbacks._files import _drop_torn_line, _FileLogger
from raysweep.trial import Trial


class JSONLLogger(_FileLogger):
    """One JSON line per report: ``{"trial_id", <result keys>, "config": {...}}``.

    Args:
        path: Directory to write in (default: the experiment directory).
        per_trial: False (default): every trial in ``<path>/progress.jsonl``. True: one
            ``<path>/trials/<trial_id>/progress.jsonl`` per trial (many files for big sweeps).
        flush_interval_s: Buffered lines reach the file at least this often.

    Example:
        >>> import pandas as pd
        >>> pd.read_json("~/raysweep_results/svc/progress.jsonl", lines=True)  # doctest: +SKIP
    """

    filename = "progress.jsonl"

    def log_report(self, trial: Trial, result: dict[str, Any], encoded: str | None) -> None:
        from raysweep.storage import _quote, dumps  # noqa: PLC0415

        key = self._key(trial.trial_id)
        handle = self._handles.get(key)
        if handle is None:
            file = self.file_for(trial.trial_id)
            os.makedirs(os.path.dirname(file), exist_ok=True)
            _drop_torn_line(file)
            handle = self._handles[key] = open(file, "a", encoding="utf-8")  # noqa: SIM115
            self._limit_open_files()
        if "config" in result:  # a metric named "config": the trial's config replaces it
            line = {"trial_id": trial.trial_id, **result, "config": trial.config}
            line["trial_id"] = trial.trial_id
            handle.write(dumps(line) + "\n")
        elif encoded is not None and "trial_id" not in result and len(encoded) > 2:
            # the journal's text of the result, spliced between trial_id and the config
            handle.write(f'{{"trial_id":{_quote(trial.trial_id)},{encoded[1:-1]},'
                         f'"config":{self._encoded_config(trial)}}}\n')
        else:
            line = {"trial_id": trial.trial_id, **result}  # trial_id first, as the result's
            line["trial_id"] = trial.trial_id             # keys may name another trial's id
            handle.write(f"{dumps(line)[:-1]},\"config\":{self._encoded_config(trial)}}}\n")
        self._maybe_flush()

    def _encode_config(self, config: dict[str, Any]) -> str:
        from raysweep.storage import dumps  # noqa: PLC0415

        return dumps(config)

