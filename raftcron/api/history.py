"""History routes: `GET /jobs/{name}/history` and `GET /nodes/{name}/history`.

Each answers a page of the audit history, newest first: `{"items": [{"version", "op", "at",
"by", "changes"}], "next_cursor"}` (`docs/api.md`). `op` is one of create, update, pause,
resume, release, delete; `by` the name of the token that made the change (null: no token);
`changes` the fields that changed, `{"from", "to"}` each, secrets masked. The history outlives
a deleted job (bounded), so a name that has a history answers even when the job is gone; a
name that never had one is 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from raftcron.api.http import Request, Response, json_response, page
from raftcron.errors import JobNotFoundError, NodeNotFoundError

if TYPE_CHECKING:
    from raftcron.api.context import Runtime


async def job_history(rt: Runtime, req: Request) -> Response:
    """`GET /jobs/{name}/history` -> a page of the job's changes, newest first."""
    return await _history(rt, req, "job")


async def node_history(rt: Runtime, req: Request) -> Response:
    """`GET /nodes/{name}/history` -> a page of the node's changes, newest first."""
    return await _history(rt, req, "node")


async def _history(rt: Runtime, req: Request, kind: str) -> Response:
    name = req.params["name"]
    limit = req.limit()
    items, next_cursor = await rt.db(rt.ctx.read.history, kind, name, limit=limit,
                                     cursor=req.arg("cursor"))
    if not items and req.arg("cursor") is None:
        getter = rt.ctx.read.get_job if kind == "job" else rt.ctx.read.get_node
        if await rt.db(getter, name) is None:
            raise JobNotFoundError(name) if kind == "job" else NodeNotFoundError(name)
    return json_response(page(items, next_cursor))
