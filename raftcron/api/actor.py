"""Who made a change: the caller's token name, carried in the command for the audit history.

`stamp(rt, req, args)` adds `by` (the name of the token the request presented; `Request.actor`)
to the arguments of a command that changes a job or a node, once every peer reads command
version 4 (`raft.version_gate`); before that, or without a token, the command keeps its older
form and the history records no name. The token's value never leaves `api/auth.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from raftcron.api import nextfire
from raftcron.model.commands import INTRODUCED

if TYPE_CHECKING:
    from raftcron.api.context import Runtime
    from raftcron.api.http import Request

#: The command version that carries `by`.
BY_VERSION = INTRODUCED[("put_job", "by")]


def carries_by(rt: Runtime) -> bool:
    """Every peer reads `by` (and `delete_node`'s `at`)."""
    return nextfire.gate(rt).reads(BY_VERSION)


def stamp(rt: Runtime, req: Request, args: dict[str, Any]) -> dict[str, Any]:
    """`args` with `by` = the caller's token name, when there is one and the cluster reads it."""
    if req.actor is None or not carries_by(rt):
        return args
    return {**args, "by": req.actor}
