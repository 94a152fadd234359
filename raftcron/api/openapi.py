"""`/openapi.json`: an OpenAPI 3.1 document built from the route table.

Every route in `api/routes.py` appears here, with its query parameters (typed and bounded
as `api/http.py` checks them), its body, its success answer and its error answers; the
schemas below describe the resources of docs/api.md, with the bounds `model.job` and `model.node`
enforce, so a generator (schemathesis) produces requests the server can accept. The document
validates as OpenAPI 3.1 (tests/test_api_schemathesis.py checks it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from raftcron import __version__
from raftcron.api.http import MAX_INDEX, MAX_KEY_LENGTH, MAX_LIMIT, MAX_WAIT
from raftcron.model import MAX_KEEP_RUNS, MAX_OUTPUT_TAIL, MAX_RETRIES, JobStatus, RunStatus
from raftcron.model.checks import NAME_RE
from raftcron.model.job import DURATION_LIMITS, MAX_MAX_RUNS
from raftcron.model.job_rules import MAX_EXPECTED_DURATION, MAX_PATTERN, MAX_PAUSE_AFTER
from raftcron.model.node import MAX_CAPACITY, MAX_CONNECT_TIMEOUT, MAX_SESSIONS
from raftcron.model.sizes import MAX_OUTPUT_LIMIT, MIN_OUTPUT_LIMIT
from raftcron.model.types import MAX_QUEUE_CAP
from raftcron.planning.dependencies import MAX_CAP as BACKFILL_MAX_CAP

_STR = {"type": "string"}
_INT = {"type": "integer"}
_NAME = {"type": "string", "pattern": f"^{NAME_RE.pattern}$", "maxLength": 128}
_TIME = {"type": ["string", "null"], "format": "date-time",
         "description": "ISO 8601 with an offset, 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"}
_DURATION = {"type": ["string", "null"], "description": "a duration like 90s, 5m, 1h30m"}
_STRS = {"type": "array", "items": _STR}
_MAP = {"type": "object", "additionalProperties": _STR}
#: A field that the API answers with null when it is not set.
_OPT_STR = {"type": ["string", "null"]}
_OPT_STRS = {"type": ["array", "null"], "items": _STR}


def _int(minimum: int, maximum: int, *, null: bool = False) -> dict:
    return {"type": ["integer", "null"] if null else "integer", "minimum": minimum,
            "maximum": maximum}


def _duration(most: Any) -> dict:
    days = most.total_seconds() / 86400
    return {**_DURATION, "description": f"a duration like 90s, 5m, 1h30m; at most {days:g}d"}


_INTERVAL = {"type": "object", "properties": {"interval": _STR, "reference": _STR}}
_JOB = {
    "type": "object",
    "required": ["schedule"],
    "properties": {
        "name": _NAME, "description": _STR,
        "schedule": {"oneOf": [_STR, _INTERVAL, {
            "type": "array", "minItems": 1, "maxItems": 32, "items": {"oneOf": [_STR, _INTERVAL]},
            "description": "several schedules: the union of their slots, each slot once"}]},
        "tz": _STR, "type": {"enum": ["command", "script", "binary"]},
        "command": {"oneOf": [_STRS, _STR, {"type": "null"}]},
        "script": {**_OPT_STR, "description": "base64"},
        "interpreter": _OPT_STRS, "cwd": _OPT_STR,
        "env": {**_MAP, "description": "values are answered as \"***\" unless the request "
                "carries a token; a PUT that sends \"***\" keeps the stored value"},
        "user": {**_OPT_STR, "description": "run as this user; root or another user than the "
                 "daemon's (or no user on a root daemon) needs the admin token"},
        "timeout": _duration(DURATION_LIMITS["timeout"]),
        "kill_grace": _duration(DURATION_LIMITS["kill_grace"]),
        "retries": _int(0, MAX_RETRIES),
        "retry_backoff": _duration(DURATION_LIMITS["retry_backoff"]),
        "retry_backoff_max": _duration(DURATION_LIMITS["retry_backoff_max"]),
        "concurrency": {"enum": ["allow", "forbid", "replace", "queue", "queue_all"]},
        "queue_cap": {**_int(1, MAX_QUEUE_CAP), "description": "queue_all: at most this many "
                      "slots wait; beyond it the oldest are recorded skipped"},
        "max_parallel": {"oneOf": [{"type": "integer", "minimum": 1, "maximum": 10000},
                                   {"type": "string", "pattern": "^([1-9][0-9]?|100)%$"},
                                   {"type": "null"}],
                         "description": "hosts = all: targets started at a time (a number or "
                         "a share like 25%); the others wait their turn (status waiting)"},
        "concurrency_group": {**_NAME, "type": ["string", "null"], "description":
                              "runs of the jobs of this group share its limit; over it they "
                              "wait (status waiting) and start in the order they fired"},
        "keep_going": {"type": "boolean", "description": "with max_parallel: false stops "
                       "starting targets after one failed (the rest recorded skipped)"},
        "blackout": {"oneOf": [_STR, {**_STRS, "maxItems": 32}], "description":
                     "cron expressions in the job's tz: a slot inside one is not run "
                     "(recorded skipped, reason 'blackout EXPR'); catch-up after it follows "
                     "catchup"},
        "catchup": {"enum": ["latest", "all", "none"]},
        "catchup_window": _duration(DURATION_LIMITS["catchup_window"]),
        "jitter": _duration(DURATION_LIMITS["jitter"]), "start_at": _TIME, "end_at": _TIME,
        "max_runs": _int(1, MAX_MAX_RUNS, null=True), "hosts": {"enum": ["any", "all"]},
        "roles": _STRS, "keep_runs": _int(1, MAX_KEEP_RUNS), "paused": {"type": "boolean"},
        "output_tail": _int(0, MAX_OUTPUT_TAIL), "notify": {"type": "object"}, "labels": _MAP,
        "owners": {"type": "array", "items": {"type": "object"}},
        "executable": {"type": "string", "description": "distributed-cronjob form (POST only)"},
        "status": {"enum": ["scheduled", "paused", "finished"], "readOnly": True},
        "next_runs": {"type": "array", "items": _TIME, "readOnly": True},
        "last_run": {"readOnly": True}, "counts": {"type": "object", "readOnly": True},
        "version": {"type": "integer", "readOnly": True},
        "created_at": {**_TIME, "readOnly": True}, "updated_at": {**_TIME, "readOnly": True},
        "managed_by": {"type": ["string", "null"], "readOnly": True,
                       "description": "file:<file> for a job a file in --jobs-dir defines"},
        # Dependencies, pause on failure, success rules (docs/jobs.md).
        "after": {**_STRS, "description": "jobs that must each succeed (since this job's "
                  "last run) before it runs; a missing job, itself or a cycle: 400"},
        "on_failure": {**_STRS, "description": "jobs started when a run of this job ends "
                       "failed, timed_out or lost after its retries"},
        "pause_after_failures": _int(1, MAX_PAUSE_AFTER, null=True),
        "success_exit_codes": {"type": "array", "items": _int(0, 255), "minItems": 1},
        "fail_if_output_matches": {**_OPT_STR, "maxLength": MAX_PATTERN, "description":
                                   "a regular expression; no nested repetition, no "
                                   "backreference, at most 3 unbounded repetitions"},
        "expected_duration": _duration(MAX_EXPECTED_DURATION),
        "output_limit": {"type": ["integer", "string", "null"], "description":
                         f"cap on each output file of a run: bytes ({MIN_OUTPUT_LIMIT}-"
                         f"{MAX_OUTPUT_LIMIT}) or a size like \"10MiB\"; null: the "
                         "cluster's [scheduler] output_limit; read back as bytes"},
        "pause_reason": {"type": ["string", "null"], "readOnly": True,
                         "description": "why pause_after_failures paused the job"},
    },
}
_RUN = {
    "type": "object",
    "properties": {
        "id": _STR, "job": _STR, "slot": _TIME, "attempt": _INT, "peer": _OPT_STR,
        "target": _OPT_STR,
        "status": {"enum": [str(status) for status in RunStatus]},
        "fired_at": _TIME, "started_at": _TIME, "finished_at": _TIME,
        "exit_code": {"type": ["integer", "null"]}, "stdout_tail": _OPT_STR,
        "stderr_tail": _OPT_STR,
        "reason": {"type": ["string", "null"]},
        "triggered_by": {"type": ["string", "null"],
                         "description": "the parent run (after, on_failure)"},
        "backfill": {"type": "boolean", "description": "one slot of a backfill"},
        "slow": {"type": "boolean", "description": "went past expected_duration"},
        "output_truncated": {"type": "boolean",
                             "description": "an output file stopped at output_limit"},
    },
}
_NODE = {
    "type": "object",
    "properties": {
        "name": _STR, "kind": {"enum": ["peer", "node"]}, "roles": _STRS,
        "connection_type": {"enum": ["local", "ssh"]}, "ssh_user": _OPT_STR,
        "ssh_host": _OPT_STR, "ssh_port": _int(1, 65535, null=True),
        "capacity": _int(1, MAX_CAPACITY),
        "max_sessions": _int(1, MAX_SESSIONS), "connect_timeout": _duration(MAX_CONNECT_TIMEOUT),
        "healthy": {"type": "boolean"},
        "active_runs": _INT, "load": {"type": "number"},
    },
}


_BLACKOUT = {
    "type": "object",
    "required": ["schedule"],
    "properties": {
        "name": _NAME, "schedule": {**_STR, "description": "a cron expression (5 or 6 fields, "
                                    "or a macro): the instants it matches are the window"},
        "tz": {**_STR, "description": "IANA zone (default UTC)"}, "description": _STR,
        "source": {"enum": ["api", "config"], "readOnly": True},
        "version": {"type": "integer", "readOnly": True},
        "created_at": {**_TIME, "readOnly": True}, "updated_at": {**_TIME, "readOnly": True},
    },
}


_GROUP = {
    "type": "object",
    "required": ["limit"],
    "properties": {
        "name": {**_NAME, "readOnly": True},
        "limit": {"type": ["integer", "null"], "minimum": 1, "maximum": 100000,
                  "description": "runs of the group's jobs pending or running at once"},
        "source": {"type": ["string", "null"], "enum": ["api", "config", None],
                   "readOnly": True},
        "active": {"type": "integer", "readOnly": True},
        "waiting": {"type": "integer", "readOnly": True},
    },
}


def _page(item: str) -> dict:
    return {"type": "object", "properties": {
        "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
        "next_cursor": {"type": ["string", "null"]}}}


SCHEMAS: dict[str, Any] = {
    "Job": _JOB, "Run": _RUN, "Node": _NODE, "Blackout": _BLACKOUT,
    "JobPage": _page("Job"), "RunPage": _page("Run"), "NodePage": _page("Node"),
    "HistoryEntry": {"type": "object", "properties": {
        "version": _INT, "op": {"enum": ["create", "update", "pause", "resume", "release",
                                         "delete"]},
        "at": _TIME, "by": _OPT_STR, "changes": {"type": ["object", "null"]}}},
    "HistoryPage": _page("HistoryEntry"),
    "Notification": {"type": "object", "properties": {
        "id": _STR, "job": _STR, "event": _STR, "run_id": _OPT_STR,
        "kind": {"enum": ["webhook", "email"]}, "target": _STR,
        "status": {"enum": ["pending", "delivered", "failed"]}, "attempts": _INT,
        "error": _OPT_STR, "created_at": _TIME, "updated_at": _TIME}},
    "NotificationPage": _page("Notification"),
    "BlackoutPage": _page("Blackout"), "Group": _GROUP, "GroupPage": _page("Group"),
    "Status": {"type": "object", "properties": {
        "id": _STR, "role": {"enum": ["leader", "follower", "candidate"]},
        "leader": {"type": ["string", "null"]}, "term": _INT, "commit_index": _INT,
        "applied_index": _INT, "peers": {"type": "array", "items": {"type": "object"}}}},
    "Output": {"type": "object", "properties": {"stdout": _STR, "stderr": _STR}},
    "JobBatch": {"type": "object", "required": ["jobs"], "additionalProperties": False,
                 "properties": {"jobs": {"type": "array", "minItems": 1, "maxItems": 1000,
                                         "items": {"$ref": "#/components/schemas/Job"}},
                                "create_only": {"type": "boolean"}}},
    "JobBatchResult": {"type": "object", "properties": {"items": {"type": "array", "items": {
        "type": "object", "properties": {"name": _STR, "created": {"type": "boolean"},
                                         "version": _INT}}}}},
    "PeerAdd": {"type": "object", "required": ["id"], "additionalProperties": False,
                "properties": {"id": {"type": "string", "description": "raft address HOST:PORT"}}},
    "PeerList": {"type": "object", "properties": {
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "id": _STR, "self": {"type": "boolean"}, "leader": {"type": "boolean"},
            "api": {"type": ["string", "null"]}, "reachable": {"type": "boolean"}}}},
        "leader": {"type": ["string", "null"]}}},
    "PeerChange": {"type": "object", "properties": {
        "id": _STR, "added": {"type": "boolean"}, "removed": {"type": "boolean"},
        "members": {"type": "array", "items": _STR}}},
    "DashboardJobs": {"type": "object", "properties": {
        "items": {"type": "array", "items": {"allOf": [
            {"$ref": "#/components/schemas/Job"},
            {"type": "object", "properties": {
                "next_run": _TIME,
                "outcomes": {"type": "array", "items": {"$ref": "#/components/schemas/Run"}},
            }}]}},
        "next_cursor": {"type": ["string", "null"]},
        "counts": {"type": "object", "additionalProperties": _INT}, "total": _INT}},
    "DashboardJob": {"allOf": [{"$ref": "#/components/schemas/Job"}, {
        "type": "object", "properties": {
            "fire_times": {"type": "array", "items": {"type": "object", "properties": {
                "slot": _TIME, "fire_at": _TIME}}},
            "runs": {"type": "array", "items": {"$ref": "#/components/schemas/Run"}},
            "missed": {"type": "array", "items": {"$ref": "#/components/schemas/Run"}}}}]},
    "DashboardRun": {"allOf": [{"$ref": "#/components/schemas/Run"}, {
        "type": "object", "properties": {
            "chain": {"type": "array", "items": {"$ref": "#/components/schemas/Run"}}}}]},
    "DashboardCluster": {"type": "object", "properties": {
        "status": {"$ref": "#/components/schemas/Status"},
        "nodes": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
        "peers": {"type": "object", "additionalProperties": {"type": "object"}}}},
    # RFC 7396: any job field, each may be null (remove it: its default applies).
    "JobPatch": {"type": "object", "description": "JSON merge patch of a job: a field left out "
                 "stays, null resets it to its default, an object (env, labels, notify) is "
                 "merged key by key", "properties": {
                     key: {"anyOf": [schema, {"type": "null"}]}
                     for key, schema in _JOB["properties"].items()}},
    "Backfill": {"type": "object", "required": ["from", "to"], "additionalProperties": False,
                 "properties": {"from": {"type": "string", "format": "date-time"},
                                "to": {"type": "string", "format": "date-time"},
                                "cap": _int(1, BACKFILL_MAX_CAP)}},
    "Object": {"type": "object"},
    "Error": {"type": "object", "required": ["error"], "properties": {
        "error": _STR, "field": {"type": ["string", "null"]}}},
}

_QUERY_DOC = {
    "status": "filter by status", "role": "filter by role", "label": "filter: key:value",
    "limit": "page size (1-1000, default 100)", "cursor": "next_cursor of the previous page",
    "job": "filter by job name", "peer": "filter by executing peer",
    "since": "runs slotted at or after (ISO 8601)", "until": "runs slotted at or before",
    "stream": "stdout or stderr: answer that stream as text/plain",
    "q": "search: text in the job's name or description (case-insensitive)",
    "stdout_offset": "resume: stdout from this byte on", "stderr_offset": "resume: stderr "
    "from this byte on",
    "min_index": "wait (bounded) until this peer has applied this index; 503 otherwise",
    "consistency": "strong: wait until this peer has applied the leader's commit index (a "
                   "read index: nothing is written to the log), then read",
    "timeout": "bound of the min_index wait in seconds (default 10, max 60)",
}
_READ_QUERY = ("min_index", "consistency", "timeout")
#: Each query parameter's schema: what `api/http.py` accepts (`status` depends on the route).
_QUERY_SCHEMA: dict[str, dict] = {
    "limit": _int(1, MAX_LIMIT), "min_index": _int(0, MAX_INDEX),
    "timeout": {"type": "number", "minimum": 0, "maximum": MAX_WAIT},
    "consistency": {"type": "string", "enum": ["none", "weak", "strong"]},
    "stream": {"type": "string", "enum": ["stdout", "stderr"]},
    "since": {"type": "string", "format": "date-time"},
    "until": {"type": "string", "format": "date-time"},
    "label": {"type": "string", "pattern": "^[^:=]+([:=].*)?$"},
    "role": _NAME, "job": _NAME, "q": {"type": "string", "maxLength": 200},
    "stdout_offset": _int(0, MAX_INDEX), "stderr_offset": _int(0, MAX_INDEX),
}
_STATUS_QUERY = {
    "jobs": {"type": "string", "enum": [str(status) for status in JobStatus]},
    "runs": {"type": "string", "enum": _RUN["properties"]["status"]["enum"]},
    "notifications": {"type": "string", "enum": ["pending", "delivered", "failed"]},
    "dashboard": {"type": "string", "enum": [str(status) for status in JobStatus]},
}
#: The examples of the path parameters and the bodies: the explicit-examples phase of a
#: generator starts from these (a job named `backup`, a local node).
_EXAMPLES = {
    "Job": {"name": "backup", "schedule": "0 3 * * *", "command": ["/bin/true"]},
    "Node": {"name": "worker-1", "connection_type": "local", "capacity": 2},
    "PeerAdd": {"id": "127.0.0.1:7199"},
    "Backfill": {"from": "2024-05-01T00:00:00Z", "to": "2024-05-02T00:00:00Z"},
    "Group": {"limit": 2},
    "Blackout": {"name": "weekend", "schedule": "* 0-6 * * sat,sun", "tz": "Europe/Berlin"},
    "JobBatch": {"jobs": [{"name": "backup", "schedule": "0 3 * * *",
                           "command": ["/bin/true"]}]},
    "JobPatch": {"retries": 2, "env": {"LEVEL": "full"}, "description": None},
}
_PATH_EXAMPLES = {"name": "backup", "id": "run-1", "file": "app.js"}
_ERROR_TEXT = {400: "bad input", 401: "missing or wrong token",
               403: "needs the admin token (or a write with the read token)",
               404: "not found", 409: "conflict", 413: "body too large",
               415: "body is not JSON", 503: "unavailable (no leader, timeout); retry"}


def _error(status: int) -> dict:
    return {"description": _ERROR_TEXT.get(status, "error"), "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _operation(route: Any) -> dict:
    params: list[dict] = []
    for part in route.path.split("{")[1:]:
        name = part.split("}")[0]
        example = {"nodes": "worker-1", "blackouts": "weekend"}.get(
            route.tag, {"groups": "db-heavy"}.get(route.tag, _PATH_EXAMPLES.get(name, "x")))
        params.append({"name": name, "in": "path", "required": True, "schema": _STR,
                       "example": example})
    extra = _READ_QUERY if route.method == "GET" else ()
    for name in (*route.query, *extra):
        schema = _STATUS_QUERY[route.tag] if name == "status" else _QUERY_SCHEMA.get(name, _STR)
        params.append({"name": name, "in": "query", "required": False, "schema": schema,
                       "description": _QUERY_DOC.get(name, "")})
    status, kind = route.ok
    if "/" in kind:
        ok = {"description": "ok", "content": {kind: {"schema": _STR}}}
    else:
        ok = {"description": "ok", "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{kind}"}}}}
    if "stream" in route.query:  # ?stream= answers that one stream as text
        ok["content"]["text/plain"] = {"schema": _STR}
    responses: dict[str, Any] = {str(status): ok}
    if route.method == "PUT":  # create (201) or replace (200), the same body either way
        responses["201"] = {**ok, "description": "created"}
    errors = set(route.errors) | {503}
    need = route.required.value
    if need != "none":
        errors.add(401)
    if route.method == "GET":
        errors.add(400)
    else:
        # 409 too: a write with an Idempotency-Key answers the key's first outcome, whatever
        # the route (a key reused for another request gets that request's answer).
        errors |= {400, 401, 409}
        params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "schema": {"type": "string", "pattern": f"^[!-~]{{1,{MAX_KEY_LENGTH}}}$"},
                       "description": "a retry with the same key applies once"})
    if route.body:
        errors |= ({403, 413, 415} if route.body in ("Job", "JobBatch", "JobPatch")
                   else {413, 415})
    for code in sorted(errors):
        responses[str(code)] = _error(code)
    op: dict[str, Any] = {"summary": route.summary, "tags": [route.tag],
                          "operationId": route.handler.__name__, "parameters": params,
                          "responses": responses}
    if route.body:
        body = {"schema": {"$ref": f"#/components/schemas/{route.body}"},
                "example": _EXAMPLES[route.body]}
        media = ("application/json", "application/merge-patch+json") if route.method == "PATCH" \
            else ("application/json",)
        op["requestBody"] = {"required": True, "content": {m: body for m in media}}
    if need != "none":
        # Writes need the write (or admin) token when one is configured; reads need a token
        # only when a read token is configured.
        op["security"] = [{"bearer": []}] if need == "write" else [{}, {"bearer": []}]
    return op


def build_document(routes: Iterable[Any]) -> dict:
    """The OpenAPI document for `routes`."""
    paths: dict[str, dict] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "raftcron", "version": __version__,
                 "description": "Every response carries X-Raftcron-Index (this peer's "
                                "applied index). Writes need a bearer token when one is "
                                "configured; reads need one when a read token is configured "
                                "(/healthz and /readyz never do). A job's env values are "
                                "answered as \"***\" to a request without a valid token."},
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
    }
