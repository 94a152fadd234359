"""The command ops of envelope version 4: dependencies, backfill, pause on failure, slow runs.

Kept apart from `commands` (at its size limit), which folds these into its `ARGS` table and
`INTRODUCED` map. Each argument is `(kind, required, nullable, default)` in the kinds of
`commands._check_value`. Every decision is the proposer's (the leader's); apply only stores:

- `trigger`: marks runs that the same atomic batch's `fire` just created as started by a
  dependency (`cause` `after` or `on_failure`, `triggered_by` the parent run) or as one slot of
  a backfill (`cause` `backfill`, `backfill` its id, `index` the slot's position). Apply
  refuses a second run of a job for the same parent, and a backfill slot other than the
  next one, so the whole batch (its `fire` too) applies once, whichever leader proposes it.
- `backfill`: stores a backfill request: the job and its slots, oldest first.
- `pause_reason`: the reason `pause_after_failures` paused a job (after `set_paused` in the
  same atomic batch); a resume clears it.
- `run_slow`: flags a run that went past the job's `expected_duration`.
"""

from __future__ import annotations

from typing import Any

VERSION = 4

ARGS: dict[str, dict[str, tuple[str, bool, bool, Any]]] = {
    "trigger": {
        "job": ("name", True, False, None),
        "cause": ("name", True, False, None),
        "run_ids": ("names", True, False, None),
        "triggered_by": ("name", False, True, None),
        "backfill": ("name", False, True, None),
        "index": ("count", False, True, None),
        "at": ("time", True, False, None),
    },
    "backfill": {
        "id": ("name", True, False, None),
        "job": ("name", True, False, None),
        "slots": ("names", True, False, None),
        "at": ("time", True, False, None),
    },
    "pause_reason": {
        "name": ("name", True, False, None),
        "reason": ("str", True, False, None),
        "run_id": ("name", False, True, None),
        "at": ("time", True, False, None),
    },
    "run_slow": {"run_id": ("name", True, False, None), "at": ("time", True, False, None)},
}

#: Causes a `trigger` names.
CAUSES = ("after", "on_failure", "backfill")
