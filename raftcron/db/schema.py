"""The schema of a peer's SQLite copy: its tables, indexes and constraints, as data.

`sqlite.create_schema` builds a new copy from these, and the migrations in `sqlite.py` bring
an older copy to the same shape (a migrated copy must have the same columns in the same
order as a new one: `dump()` compares rows positionally). Bump `sqlite.SCHEMA_VERSION` and
add a migration with any change here.
"""

from __future__ import annotations

from typing import Any

BACKFILLS_TABLE = (
    # A backfill: its slots (JSON list, oldest first) and how many have been fired (`done`).
    {"id": str, "job": str, "slots": str, "done": int, "total": int, "created_at": str,
     "updated_at": str},
    "id", ["job", "slots", "done", "total", "created_at", "updated_at"], {"done": 0},
)

TABLES: dict[str, tuple[dict[str, type], str, list[str], dict[str, Any]]] = {
    # table: (columns, primary key, NOT NULL columns, defaults)
    "meta": ({"key": str, "value": str}, "key", ["value"], {}),
    "jobs": (
        {
            "name": str,
            "spec": str,  # the canonical job dict, JSON, as put_job carried it
            "expanded": str,  # the schedule with H fields expanded
            "paused": int,
            "status": str,  # scheduled | paused | finished
            "version": int,
            "created_at": str,
            "updated_at": str,
            "cursor": str,  # the last slot fired (the fence); NULL before the first
            "fired_count": int,  # pending scheduled fires, counted toward max_runs
            # "file:<path in --jobs-dir>" for a job a file defines (the API may not change
            # it); NULL for a job made through the API.
            "managed_by": str,
            # The next slot after the cursor and its fire time (slot + jitter), computed by
            # the command's proposer; NULL when not known (the leader plans the job to learn
            # it). A lower bound: the job is never due before `next_fire_at`.
            "next_slot": str,
            "next_fire_at": str,
            # v4: why `pause_after_failures` paused the job; NULL otherwise (resume clears it).
            "pause_reason": str,
        },
        "name",
        ["spec", "paused", "status", "version", "created_at", "updated_at", "fired_count"],
        {"paused": 0, "fired_count": 0},
    ),
    "runs": (
        {
            "id": str,
            "job": str,
            "slot": str,
            "attempt": int,
            "peer": str,
            "target": str,
            "status": str,
            "fired_at": str,
            "started_at": str,
            "finished_at": str,
            "exit_code": int,
            "stdout_tail": str,
            "stderr_tail": str,
            "reason": str,
            "manual": int,
            "retry_of": str,
            "cancel_requested": int,
            "output_bytes": int,
            # v4: the parent run that started this one (`after`, `on_failure`), NULL if none.
            "triggered_by": str,
            "backfill": int,  # 1: one slot of a backfill
            "slow": int,  # 1: went past the job's expected_duration
            "output_truncated": int,  # 1: the output files stopped at the job's output_limit
            # v5: 1: fired ahead of its slot; it starts only once its `run_started` is
            # committed, so while pending it certainly never ran (`planning.ahead`).
            "held": int,
        },
        "id",
        ["job", "slot", "attempt", "status", "fired_at", "stdout_tail", "stderr_tail",
         "manual", "cancel_requested", "output_bytes", "backfill", "slow", "output_truncated",
         "held"],
        {"stdout_tail": "", "stderr_tail": "", "manual": 0, "cancel_requested": 0,
         "output_bytes": 0, "backfill": 0, "slow": 0, "output_truncated": 0, "held": 0},
    ),
    "nodes": (
        {
            "name": str,
            "spec": str,
            "healthy": int,
            "health_reason": str,
            "health_at": str,
            "created_at": str,
            "updated_at": str,
        },
        "name",
        ["spec", "created_at", "updated_at"],
        {},
    ),
    "applied_keys": ({"key": str, "idx": int, "result": str}, "key", ["idx", "result"], {}),
    # The audit history (`state/history.py`): one row per change to a job or node, `id`
    # in apply order, `by` the API token's name, `changes` the redacted field diff (JSON).
    "history": (
        {"id": int, "kind": str, "name": str, "version": int, "op": str, "at": str,
         "by": str, "changes": str},
        "id",
        ["kind", "name", "version", "op", "at"],
        {},
    ),
    # The notification outbox (`state/outbox.py`): committed intents and their results.
    # `seq` orders them (apply order); `payload` is the JSON the target is told.
    "notifications": (
        {"seq": int, "id": str, "job": str, "event": str, "run_id": str, "kind": str,
         "target": str, "payload": str, "status": str, "attempts": int, "error": str,
         "created_at": str, "updated_at": str},
        "seq",
        ["id", "job", "event", "kind", "target", "payload", "status", "attempts",
         "created_at", "updated_at"],
        {"attempts": 0},
    ),
    "backfills": BACKFILLS_TABLE,
    # What each peer announced about itself (put_peer): its API's base URL, for proxying.
    "peers": (
        {"id": str, "api": str, "version": int, "updated_at": str},
        "id",
        ["api", "version", "updated_at"],
        {},
    ),
    # Cluster-wide blackout windows (put_blackout): a cron expression in a zone.
    "blackouts": (
        {"name": str, "schedule": str, "tz": str, "description": str, "version": int,
         "created_at": str, "updated_at": str},
        "name",
        ["schedule", "tz", "description", "version", "created_at", "updated_at"],
        {"description": ""},
    ),
    # Concurrency group limits set through the API (put_group).
    "concurrency_groups": (
        {"name": str, "limit": int, "version": int, "created_at": str, "updated_at": str},
        "name",
        ["limit", "version", "created_at", "updated_at"],
        {},
    ),
}

INDEXES = [
    ("runs", ["job", "slot"]),
    ("runs", ["job", "fired_at", "id"]),
    ("runs", ["status"]),
    ("runs", ["peer", "status"]),
    ("runs", ["fired_at", "id"]),
    ("applied_keys", ["idx"]),
]
INDEXES_V4 = [("runs", ["triggered_by"]), ("backfills", ["job"])]

#: The leader's window: scheduled jobs due before a time, in order (`scheduler_queries.due_jobs`).
NEXT_INDEX_SQL = "CREATE INDEX jobs_status_next_fire_at ON jobs (status, next_fire_at)"
#: The jobs whose `notify.on` lists `absent` (the dead man's switch reads only these:
#: `queries.absent_watched_jobs` repeats this exact condition so SQLite uses the index).
ABSENT_CONDITION = "instr(json_extract(spec, '$.notify.on'), '\"absent\"') > 0"
ABSENT_INDEX_SQL = f"CREATE INDEX jobs_watch_absent ON jobs (name) WHERE {ABSENT_CONDITION}"
#: The jobs that name a webhook or an email of their own for some event (what the notifier
#: reads when the cluster has no target of its own: `scheduler_queries.notify_jobs`) and the
#: jobs the leader's triggers pass watches (`trigger_queries.trigger_index`): read whole when
#: leadership starts, so through these partial indexes rather than a scan of every spec (at
#: 1,000,000 jobs each scan took seconds, and held the new leader's first fire). Not part of
#: the schema version: `sqlite.ensure_watch_indexes` adds them to any copy on open, and a
#: peer without them only reads slower.
NOTIFY_OWN_CONDITION = ("(json_array_length(spec, '$.notify.on') > 0"
                        " AND (ifnull(json_extract(spec, '$.notify.webhook'), '') != ''"
                        " OR ifnull(json_array_length(spec, '$.notify.email'), 0) > 0))")
TRIGGER_WATCH_CONDITION = ("(json_array_length(spec, '$.after') > 0"
                           " OR json_array_length(spec, '$.on_failure') > 0"
                           " OR json_extract(spec, '$.pause_after_failures') IS NOT NULL"
                           " OR json_extract(spec, '$.expected_duration') IS NOT NULL)")
#: index name -> its CREATE statement.
WATCH_INDEXES = {
    "jobs_notify_own":
        f"CREATE INDEX jobs_notify_own ON jobs (name) WHERE {NOTIFY_OWN_CONDITION}",
    "jobs_trigger_watch":
        f"CREATE INDEX jobs_trigger_watch ON jobs (name) WHERE {TRIGGER_WATCH_CONDITION}",
}
#: One job's or node's history, newest first (`queries.history`).
HISTORY_INDEX_SQL = "CREATE INDEX history_kind_name_id ON history (kind, name, id)"
#: The outbox: one row per notification id; the pending ones in order (`outbox_queries`).
OUTBOX_INDEX_SQL = ("CREATE UNIQUE INDEX notifications_id ON notifications (id)",
                     "CREATE INDEX notifications_status_seq ON notifications (status, seq)")
#: The file-managed jobs (`queries.managed_jobs`, read before every batch write).
MANAGED_INDEX_SQL = "CREATE INDEX jobs_managed ON jobs (name) WHERE managed_by IS NOT NULL"

# Backstops for the fence, which apply checks first: one scheduled run per (job, slot,
# attempt, target), and one retry per (run retried, attempt).
UNIQUE_SQL = [
    "CREATE UNIQUE INDEX runs_scheduled_unique ON runs (job, slot, attempt, ifnull(target, ''))"
    " WHERE manual = 0 AND retry_of IS NULL",
    "CREATE UNIQUE INDEX runs_retry_unique ON runs (retry_of, attempt) WHERE retry_of IS NOT NULL",
]


#: v4: a job starts once per parent run (and target); the jobs that list `after`.
AFTER_CONDITION = "json_array_length(spec, '$.after') > 0"
TRIGGER_SQL = [
    "CREATE UNIQUE INDEX runs_trigger_unique ON runs (job, triggered_by, attempt,"
    " ifnull(target, '')) WHERE triggered_by IS NOT NULL AND retry_of IS NULL",
    f"CREATE INDEX jobs_with_after ON jobs (name) WHERE {AFTER_CONDITION}",
]
