"""Turning `apply`'s business results into raftcron errors.

`StateMachine.apply` never raises for a business error: it returns
`{"ok": False, "error": code, "message": ...}`. The API raises the matching error so the one
status table in `api/errors.py` answers it.
"""

from __future__ import annotations

from raftcron.errors import (
    ConflictError,
    JobNotFoundError,
    NodeNotFoundError,
    RunNotFoundError,
    ValidationError,
)


def check_result(result: dict, *, job: str | None = None, run: str | None = None,
                 node: str | None = None) -> dict:
    """Return `result` when it is a success; raise the matching error otherwise."""
    if not isinstance(result, dict) or result.get("ok", True):
        return result
    code = result.get("error")
    message = result.get("message")
    if code == "not_found":
        if run is not None:
            raise RunNotFoundError(run)
        if node is not None:
            raise NodeNotFoundError(node)
        raise JobNotFoundError(job or "")
    if code == "exists":
        what = f"a job named {job!r}" if job is not None else f"a node named {node!r}"
        raise ConflictError(f"{what} already exists", field="name")
    if code == "not_active":
        raise ConflictError(message or f"run {run!r} is not active", field="id")
    if code == "invalid_args":
        raise ValidationError(message or "invalid arguments", field=result.get("field"))
    raise ConflictError(message or f"refused: {code}", field=result.get("field"))
