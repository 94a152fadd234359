"""The exit statuses of `raftcron`, in one table, so a script can tell the failures apart.

Every `RaftcronError` a command raises maps to one status by its class (most specific first);
the client (`raftcron.client`) already turned each HTTP status into one of these classes:
400/413/415/422 -> validation, 401/403 -> unauthorized, 404 -> not found, 409 -> conflict,
503 or no answer -> unavailable or outcome unknown, another 5xx -> server error.
`raftcron --help` and docs/cli.md print `TABLE` as it is here.
"""

from __future__ import annotations

from raftcron.errors import (
    AuthError,
    ConflictError,
    HttpStatusError,
    JobNotFoundError,
    NodeNotFoundError,
    NotFoundError,
    NotLeaderError,
    OutcomeUnknownError,
    RaftcronError,
    RunNotFoundError,
    UnavailableError,
    ValidationError,
)

OK = 0
#: `jobs run --wait` / `runs logs --follow`: the run ended other than `succeeded`.
RUN_FAILED = 1
#: A bad flag, value, job field or file (also any error with no better status).
USAGE = 2
NOT_FOUND = 3
CONFLICT = 4
UNAUTHORIZED = 5
#: No leader, no peer reachable, or a bounded wait ran out: nothing was applied.
UNAVAILABLE = 6
#: A write was sent and no answer came: it may or may not have been applied.
OUTCOME_UNKNOWN = 7
#: The server answered an error of its own (HTTP 500 and the like): a bug, see its log.
SERVER_ERROR = 8
INTERRUPTED = 130

#: (error class, status), most specific first: the first class the error is an instance of wins.
_BY_CLASS: tuple[tuple[type[RaftcronError], int], ...] = (
    (OutcomeUnknownError, OUTCOME_UNKNOWN),
    (ValidationError, USAGE),
    (JobNotFoundError, NOT_FOUND),
    (RunNotFoundError, NOT_FOUND),
    (NodeNotFoundError, NOT_FOUND),
    (NotFoundError, NOT_FOUND),
    (ConflictError, CONFLICT),
    (AuthError, UNAUTHORIZED),
    (NotLeaderError, UNAVAILABLE),
    (UnavailableError, UNAVAILABLE),
)

#: (status, meaning) as `raftcron --help` and docs/cli.md list them.
TABLE: tuple[tuple[int, str], ...] = (
    (OK, "success"),
    (RUN_FAILED, "the run ended other than succeeded (jobs run --wait, runs logs --follow)"),
    (USAGE, "usage or validation: a bad flag, value, job field or file"),
    (NOT_FOUND, "not found: no such job, run or node"),
    (CONFLICT, "conflict: the job exists, is file-managed, the run is not active, ..."),
    (UNAUTHORIZED, "unauthorized: a missing or wrong token, or a field that needs the admin "
                   "token"),
    (UNAVAILABLE, "unavailable: no peer reachable or no leader (a write was not applied), "
                  "or a --wait-timeout/--follow-timeout ran out"),
    (OUTCOME_UNKNOWN, "outcome unknown: a write was sent but not answered; check, then retry"),
    (SERVER_ERROR, "the server failed (HTTP 500): a bug; the peer's log says more"),
    (INTERRUPTED, "interrupted (Ctrl-C)"),
)


def code_for(exc: RaftcronError) -> int:
    """The exit status for an error a command raised."""
    for cls, code in _BY_CLASS:
        if isinstance(exc, cls):
            return code
    if isinstance(exc, HttpStatusError) and exc.status >= 500:
        return SERVER_ERROR
    return USAGE


def help_text() -> str:
    """The exit-status lines of `raftcron --help`."""
    return "\n".join(f"  {code:<5}{meaning}" for code, meaning in TABLE)


def message(exc: RaftcronError) -> str:
    """The one stderr line for an error: its message, prefixed by its field when the message
    does not name it, and for an unknown outcome how to find out."""
    text = exc.message
    if exc.field and exc.field not in text:
        text = f"{exc.field}: {text}"
    return text
