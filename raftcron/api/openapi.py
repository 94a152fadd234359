"""`/openapi.json`: an OpenAPI 3.1 document built from the route table.

Every route in `api/routes.py` appears here, with its query parameters, its body, its
success answer and its error answers; the schemas below describe the resources of design §9.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from raftcron import __version__
from raftcron.model import RunStatus

_STR = {"type": "string"}
_INT = {"type": "integer"}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_DURATION = {"type": ["string", "null"], "description": "a duration like 90s, 5m, 1h30m"}
_STRS = {"type": "array", "items": _STR}
_MAP = {"type": "object", "additionalProperties": _STR}

_JOB = {
    "type": "object",
    "required": ["schedule"],
    "properties": {
        "name": _STR, "description": _STR,
        "schedule": {"oneOf": [_STR, {"type": "object", "properties": {
            "interval": _STR, "reference": _STR}}]},
        "tz": _STR, "type": {"enum": ["command", "script", "binary"]},
        "command": {"oneOf": [_STRS, _STR]}, "script": {"type": "string",
                                                         "description": "base64"},
        "interpreter": _STRS, "env": _MAP, "cwd": _STR, "user": _STR,
        "timeout": _DURATION, "kill_grace": _DURATION, "retries": _INT,
        "retry_backoff": _DURATION, "retry_backoff_max": _DURATION,
        "concurrency": {"enum": ["allow", "forbid", "replace", "queue"]},
        "catchup": {"enum": ["latest", "all", "none"]}, "catchup_window": _DURATION,
        "jitter": _DURATION, "start_at": _TIME, "end_at": _TIME,
        "max_runs": {"type": ["integer", "null"]}, "hosts": {"enum": ["any", "all"]},
        "roles": _STRS, "keep_runs": _INT, "paused": {"type": "boolean"},
        "output_tail": _INT, "notify": {"type": "object"}, "labels": _MAP,
        "owners": {"type": "array", "items": {"type": "object"}},
        "executable": {"type": "string", "description": "distributed-cronjob form (POST only)"},
        "status": {"enum": ["scheduled", "paused", "finished"], "readOnly": True},
        "next_runs": {"type": "array", "items": _TIME, "readOnly": True},
        "last_run": {"readOnly": True}, "counts": {"type": "object", "readOnly": True},
        "version": {"type": "integer", "readOnly": True},
        "created_at": {**_TIME, "readOnly": True}, "updated_at": {**_TIME, "readOnly": True},
        "managed_by": {"type": ["string", "null"], "readOnly": True,
                       "description": "file:<file> for a job a file in --jobs-dir defines"},
    },
}
_RUN = {
    "type": "object",
    "properties": {
        "id": _STR, "job": _STR, "slot": _TIME, "attempt": _INT, "peer": _STR, "target": _STR,
        "status": {"enum": [str(status) for status in RunStatus]},
        "fired_at": _TIME, "started_at": _TIME, "finished_at": _TIME,
        "exit_code": {"type": ["integer", "null"]}, "stdout_tail": _STR, "stderr_tail": _STR,
        "reason": {"type": ["string", "null"]},
    },
}
_NODE = {
    "type": "object",
    "properties": {
        "name": _STR, "kind": {"enum": ["peer", "node"]}, "roles": _STRS,
        "connection_type": {"enum": ["local", "ssh"]}, "ssh_user": _STR, "ssh_host": _STR,
        "ssh_port": _INT, "capacity": _INT, "healthy": {"type": "boolean"},
        "active_runs": _INT, "load": {"type": "number"},
    },
}


def _page(item: str) -> dict:
    return {"type": "object", "properties": {
        "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
        "next_cursor": {"type": ["string", "null"]}}}


SCHEMAS: dict[str, Any] = {
    "Job": _JOB, "Run": _RUN, "Node": _NODE,
    "JobPage": _page("Job"), "RunPage": _page("Run"), "NodePage": _page("Node"),
    "Status": {"type": "object", "properties": {
        "id": _STR, "role": {"enum": ["leader", "follower", "candidate"]},
        "leader": {"type": ["string", "null"]}, "term": _INT, "commit_index": _INT,
        "applied_index": _INT, "peers": {"type": "array", "items": {"type": "object"}}}},
    "Output": {"type": "object", "properties": {"stdout": _STR, "stderr": _STR}},
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
    "min_index": "wait (bounded) until this peer has applied this index; 503 otherwise",
    "consistency": "strong: commit a no-op through the log first, then read",
    "timeout": "bound of the min_index wait in seconds (default 10, max 60)",
}
_READ_QUERY = ("min_index", "consistency", "timeout")
_ERROR_TEXT = {400: "bad input", 401: "missing or wrong token", 403: "needs the admin token",
               404: "not found", 409: "conflict", 413: "body too large",
               415: "body is not JSON", 503: "unavailable (no leader, timeout); retry"}


def _error(status: int) -> dict:
    return {"description": _ERROR_TEXT.get(status, "error"), "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _operation(route: Any) -> dict:
    params: list[dict] = []
    for name in route.path.split("{")[1:]:
        params.append({"name": name.split("}")[0], "in": "path", "required": True,
                       "schema": _STR})
    extra = _READ_QUERY if route.method == "GET" else ()
    for name in (*route.query, *extra):
        params.append({"name": name, "in": "query", "required": False, "schema": _STR,
                       "description": _QUERY_DOC.get(name, "")})
    status, kind = route.ok
    if "/" in kind:
        ok = {"description": "ok", "content": {kind: {"schema": _STR}}}
    else:
        ok = {"description": "ok", "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{kind}"}}}}
    responses: dict[str, Any] = {str(status): ok}
    errors = set(route.errors) | {503}
    if route.method == "GET":
        errors.add(400)
    else:
        errors |= {400, 401}
        params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "schema": _STR, "description": "a retry with the same key applies once"})
    if route.body:
        errors |= {403, 413, 415} if route.body == "Job" else {413, 415}
    for code in sorted(errors):
        responses[str(code)] = _error(code)
    op: dict[str, Any] = {"summary": route.summary, "tags": [route.tag],
                          "operationId": route.handler.__name__, "parameters": params,
                          "responses": responses}
    if route.body:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{route.body}"}}}}
    if route.method != "GET" or getattr(route, "secret", False):
        op["security"] = [{"bearer": []}]
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
                                "applied index). Reads are open; writes and /backup need a "
                                "bearer token when one is configured."},
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
    }
