"""The one error hierarchy of raftcron.

Every error a user can cause carries the name of what was wrong (`field`) and, where it
came from a file, the file. The API maps these to HTTP statuses in one table; the CLI maps
them to exit status 2. Anything that is not a `RaftcronError` is a bug.
"""

from __future__ import annotations


class RaftcronError(Exception):
    """Base of every error raftcron raises on purpose."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str | None]:
        return {"error": self.message, "field": self.field}


class ValidationError(RaftcronError, ValueError):
    """A job, node or request body that does not validate. `field` names the bad field."""


class OutOfRangeError(ValidationError):
    """A well-formed duration, time or number beyond its bounds (`field` names it)."""


class InvalidScheduleError(ValidationError):
    """A schedule expression that cannot be parsed or can never fire.

    `field` is the cron field at fault (`minute`, `day-of-month`, ...) or `schedule`.
    """


class ConfigError(ValidationError):
    """A config, job or node file that does not load. The message names the file."""

    def __init__(self, message: str, *, field: str | None = None, file: str | None = None) -> None:
        full = f"{file}: {message}" if file else message
        super().__init__(full, field=field)
        self.file = file


class JobNotFoundError(RaftcronError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no job named {name!r}", field="name")
        self.name = name


class RunNotFoundError(RaftcronError, LookupError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run with id {run_id!r}", field="id")
        self.run_id = run_id


class NodeNotFoundError(RaftcronError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no node named {name!r}", field="name")
        self.name = name


class ConflictError(RaftcronError):
    """The write conflicts with the current state (a job that already exists, ...)."""


class NotLeaderError(RaftcronError):
    """This peer is not the leader; `leader` is the one it knows of, or None."""

    def __init__(self, leader: str | None) -> None:
        super().__init__(f"not the leader (leader: {leader or 'unknown'})")
        self.leader = leader


class UnavailableError(RaftcronError):
    """No leader, no quorum, or a bounded wait ran out: the outcome of a write is unknown.

    Retrying with the same idempotency key is always safe.
    """


class CommandDecodeError(RaftcronError):
    """A replicated command that cannot be decoded: a corrupt log entry or a newer version."""


class SchemaVersionError(RaftcronError):
    """The SQLite copy was written by a different schema version than this build knows."""


class SnapshotError(RaftcronError):
    """A snapshot file (SQLite copy or its raft data) that is not one, is damaged, or comes
    from a newer build."""


class AuthError(RaftcronError):
    """401/403 from the API: a missing or wrong token, or a write that needs the admin token."""


class NotFoundError(RaftcronError, LookupError):
    """404 for something that is not a job, run or node (e.g. a route, or gone output)."""


class HttpStatusError(RaftcronError):
    """Any other error status from the API."""

    def __init__(self, status: int, message: str, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.status = status


class RestoreError(ValidationError):
    """A backup that cannot be restored, or a data directory that must not be overwritten."""


class OutcomeUnknownError(UnavailableError):
    """A write was sent but no answer came back (the peer stopped answering, or said it could
    not confirm the commit in time): it may or may not have been applied. Check the resource,
    or retry with the same idempotency key (it never applies twice)."""
