"""The command table: every op's arguments and the envelope version that introduced each.

This table *is* the wire format (see tests/golden/commands/): `commands.py` checks entries
against it and writes the lowest version that holds a command. Adding an op or an argument:
add it here, bump `VERSION`, and record the version in `INTRODUCED`, so an older peer stops at
the first entry that uses it instead of applying it differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from raftcron.model import commands_v4, window_commands
from raftcron.model.audit import AUDITED_OPS
from raftcron.model.types import MAX_OUTPUT_TAIL

__all__ = ["ARGS", "INTRODUCED", "MAX_TAIL_BYTES", "NEXT_ARGS", "OPS", "RECORD_ARGS", "VERSION",
           "Arg"]

#: The newest envelope version this build writes and reads (4 also compresses big log entries:
#: `raft/syncobj.py`).
VERSION = 5

#: Hard cap, in UTF-8 bytes, on each replicated output tail (docs/jobs.md).
MAX_TAIL_BYTES = MAX_OUTPUT_TAIL


@dataclass(frozen=True)
class Arg:
    """One argument: its kind, whether it must be present, and its default when absent."""

    kind: str  # str | name | bool | int | count | time | dict | job | node | list | records | ...
    required: bool = True
    nullable: bool = False
    default: Any = None


_T = Arg("time")
_NAME = Arg("name")

RECORD_ARGS: dict[str, Arg] = {
    "run_id": _NAME,
    "job": _NAME,
    "slot": _T,
    "attempt": Arg("attempt", required=False, default=1),
    # The executing peer; a skipped or missed record may have none.
    "peer": Arg("name", required=False, nullable=True),
    "target": Arg("str", required=False, nullable=True),
    "status": Arg("fire_status", required=False, default="pending"),
    "reason": Arg("str", required=False, nullable=True),
    "manual": Arg("bool", required=False, default=False),
    "retry_of": Arg("name", required=False, nullable=True),
    "fired_at": _T,
}

#: op -> its arguments. The table is the wire format: see tests/golden/commands/.
ARGS: dict[str, dict[str, Arg]] = {
    "put_job": {
        "job": Arg("job"),
        "expanded": Arg("str", required=False, nullable=True),
        "at": _T,
        "create_only": Arg("bool", required=False, default=False),
        # "file:<path>" when the seeder writes a job from `--jobs-dir`; absent from the API.
        "managed_by": Arg("name", required=False, nullable=True),
        # v3: the next slot and fire time, by the proposer (null or absent: not known).
        "next": Arg("next", required=False, nullable=True),
    },
    "delete_job": {"name": _NAME, "at": _T},
    # The seeder hands a job whose file is gone over to the API (managed_by cleared).
    "release_job": {"name": _NAME, "managed_by": _NAME, "at": _T},
    "set_paused": {"name": _NAME, "paused": Arg("bool"), "at": _T,
                   "next": Arg("next", required=False, nullable=True)},
    # next (v3): job -> its next slot and fire time after these records, by the leader.
    "fire": {"runs": Arg("records"), "at": _T, "next": Arg("next_map", required=False,
                                                           default=None),
             # v5: the runs fired ahead of their slot, started only once confirmed.
             "held": Arg("names", required=False, default=None)},
    # v5: a held run still pending on a silent peer goes to another (`state.runs.move_run`).
    # `target`: where it runs now (a local run's is its peer), chosen with the peer.
    "move_run": {"run_id": _NAME, "from_peer": _NAME, "peer": _NAME,
                 "target": Arg("str", required=False, nullable=True), "at": _T},
    "run_started": {"run_id": _NAME, "peer": _NAME, "at": _T},
    "run_finished": {
        "run_id": _NAME,
        "status": Arg("finish_status"),
        "exit_code": Arg("int", required=False, nullable=True),
        "stdout_tail": Arg("str", required=False, default=""),
        "stderr_tail": Arg("str", required=False, default=""),
        "reason": Arg("str", required=False, nullable=True),
        "at": _T,
        "output_bytes": Arg("count", required=False, default=0),
        # When the run_started event was never committed (coalesced away or lost), the
        # executing peer still knows when the process started.
        "started_at": Arg("time", required=False, nullable=True),
        # v4: the output files stopped at the job's output_limit (sent only when true).
        "output_truncated": Arg("bool", required=False, default=False),
    },
    "run_lost": {"run_id": _NAME, "reason": Arg("str", required=False, nullable=True), "at": _T},
    "cancel_run": {"run_id": _NAME, "at": _T},
    "finish_job": {"name": _NAME, "at": _T},
    "prune_runs": {"run_ids": Arg("names")},
    "put_node": {"node": Arg("node"), "at": _T},
    "delete_node": {"name": _NAME, "at": Arg("time", required=False, nullable=True)},
    "node_health": {
        "name": _NAME,
        "healthy": Arg("bool"),
        "reason": Arg("str", required=False, nullable=True),
        "at": _T,
    },
    # A peer announces its own API address (proxying a run's output to the peer that ran it).
    "put_peer": {"peer": _NAME, "api": _NAME, "at": _T},
    "noop": {},
    # v4, the notification outbox (`model/outbox.py`): the leader commits what it will tell,
    # then what became of it; a new leader delivers what is still pending.
    "notify_intent": {"items": Arg("notifications"), "at": _T},
    "notify_result": {"id": _NAME, "status": Arg("notify_final"), "at": _T,
                      "attempts": Arg("count", required=False, default=0),
                      "error": Arg("str", required=False, nullable=True)},
    # atomic (v3): one refused entry refuses the whole batch, nothing applied (jobs:batch).
    "batch": {"commands": Arg("commands"), "atomic": Arg("bool", required=False)},
}

# v4: dependencies, backfill, pause on failure, slow runs (`commands_v4.py`).
ARGS.update({op: {k: Arg(*t) for k, t in spec.items()} for op, spec in commands_v4.ARGS.items()})
# v4: blackout windows, concurrency groups, rolling fan-out (`window_commands.py`).
ARGS.update(window_commands.args(Arg))
# v4: the name of the API token that made a change (the audit history; null: no token).
for _op in AUDITED_OPS:
    ARGS[_op]["by"] = Arg("str", required=False, nullable=True)
OPS = frozenset(ARGS)

#: (op, None) or (op, argument) -> the envelope version that added it (absent: version 1).
INTRODUCED: dict[tuple[str, str | None], int] = {
    ("put_peer", None): 2,
    ("release_job", None): 2,
    ("put_job", "managed_by"): 2,
    ("put_job", "next"): 3,
    ("set_paused", "next"): 3,
    ("fire", "next"): 3,
    ("fire", "held"): 5,
    ("move_run", None): 5,
    ("batch", "atomic"): 3,
    ("delete_node", "at"): 4,
    ("run_finished", "output_truncated"): 4,
    ("notify_intent", None): 4,
    ("notify_result", None): 4,
    **{(op, "by"): 4 for op in AUDITED_OPS},
    **{(op, None): commands_v4.VERSION for op in commands_v4.ARGS},
    **window_commands.INTRODUCED,
}

#: The arguments of a `next` value: the next slot and its fire time.
NEXT_ARGS: dict[str, Arg] = {"slot": _T, "fire_at": _T}

