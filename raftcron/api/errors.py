"""The one table that maps raftcron errors to HTTP statuses, and the error body.

Every error answer is JSON `{"error": "...", "field": "..."}`. Anything that is not a
`RaftcronError` is a bug; `app.py` logs it and answers 500 `{"error": "internal error"}`.
"""

from __future__ import annotations

from raftcron.api.http import HttpError, Response
from raftcron.errors import (
    CommandDecodeError,
    ConflictError,
    JobNotFoundError,
    NodeNotFoundError,
    NotLeaderError,
    RaftcronError,
    RunNotFoundError,
    SchemaVersionError,
    UnavailableError,
    ValidationError,
)

#: Most specific first: the first class the error is an instance of wins.
STATUS_TABLE: tuple[tuple[type[RaftcronError], int], ...] = (
    (ValidationError, 400),
    (JobNotFoundError, 404),
    (RunNotFoundError, 404),
    (NodeNotFoundError, 404),
    (ConflictError, 409),
    (NotLeaderError, 503),
    (UnavailableError, 503),
    (SchemaVersionError, 503),
    (CommandDecodeError, 500),
)

#: Seconds a client should wait before retrying a 503.
RETRY_AFTER = "1"


def status_for(exc: RaftcronError) -> int:
    if isinstance(exc, HttpError):
        return exc.status
    for cls, status in STATUS_TABLE:
        if isinstance(exc, cls):
            return status
    return 500


def error_response(exc: RaftcronError) -> Response:
    """The JSON answer for a raftcron error."""
    status = status_for(exc)
    body: dict[str, object] = {"error": exc.message, "field": exc.field}
    headers: dict[str, str] = {}
    if isinstance(exc, HttpError):
        headers.update(exc.headers)
    if isinstance(exc, NotLeaderError):
        body["leader"] = exc.leader
    if status == 503:
        headers.setdefault("Retry-After", RETRY_AFTER)
    return Response(status=status, body=body, headers=headers)


def internal_error() -> Response:
    return Response(status=500, body={"error": "internal error", "field": None})
