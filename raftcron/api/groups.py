"""Concurrency groups: `GET /concurrency-groups`, `GET/PUT/DELETE /concurrency-groups/{name}`.

A group is `{"name", "limit", "source", "active", "waiting"}`: at most `limit` runs of the jobs
whose `concurrency_group` names it are pending or running at once; the others are recorded
`waiting` and start in the order they fired (`planning/groups.py`). Limits set here live in
the replicated state (`put_group`) and win over the cluster config's `[concurrency_groups]`,
which are this peer's, listed with `"source": "config"`. `active` and `waiting` count the
group's runs now. A group that only jobs name, with no limit set, is listed with `limit` null.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from raftcron.api.blackouts import require_version
from raftcron.api.http import HttpError, Request, Response, json_response, page
from raftcron.api.results import check_result
from raftcron.model import checks as c
from raftcron.model.window_commands import V4

if TYPE_CHECKING:
    from raftcron.api.context import Runtime

MAX_LIMIT = 100_000
READ_ONLY = frozenset({"name", "source", "active", "waiting", "version", "created_at",
                       "updated_at"})


async def _all(rt: Runtime) -> list[dict[str, Any]]:
    stored = {g["name"]: g for g in await rt.db(rt.ctx.read.list_groups)}
    loads = await rt.db(rt.ctx.read.group_loads)
    config = dict(getattr(rt.ctx, "config_groups", ()))
    out = []
    for name in sorted({*stored, *config, *loads}):
        entry = stored.get(name) or {"name": name, "limit": config.get(name),
                                     "source": "config" if name in config else None}
        load = loads.get(name, {})
        out.append({**entry, "active": load.get("active", 0),
                    "waiting": load.get("waiting", 0)})
    return out


async def list_groups(rt: Runtime, req: Request) -> Response:
    """`GET /concurrency-groups` -> every group with a limit or a run, by name."""
    return json_response(page(await _all(rt), None))


async def _find(rt: Runtime, name: str) -> dict[str, Any]:
    for g in await _all(rt):
        if g["name"] == name:
            return g
    raise HttpError(404, f"no concurrency group named {name!r}", field="name")


async def get_group(rt: Runtime, req: Request) -> Response:
    """`GET /concurrency-groups/{name}` -> the group; 404 if nothing knows it."""
    return json_response(await _find(rt, req.params["name"]))


async def put_group(rt: Runtime, req: Request) -> Response:
    """`PUT /concurrency-groups/{name}` {"limit": N} -> 201 created / 200 replaced."""
    name = c.name(req.params["name"], "name")
    data = c.mapping(req.object_body(), "body")
    c.check_keys(data, ("limit",), ignored=READ_ONLY)
    if data.get("limit") is None:
        raise HttpError(400, "limit: a concurrency group needs a limit", field="limit")
    limit = c.integer(data["limit"], "limit", minimum=1, maximum=MAX_LIMIT)
    require_version(rt, V4, "a concurrency group limit")
    result = check_result(await rt.propose("put_group", {"name": name, "limit": limit,
                                                         "at": rt.now_iso()},
                                           req.idempotency_key()))
    return json_response(await _find(rt, name), status=201 if result.get("created") else 200)


async def delete_group(rt: Runtime, req: Request) -> Response:
    """`DELETE /concurrency-groups/{name}` -> 200; 404 if the API set no limit for it."""
    name = req.params["name"]
    if req.idempotency_key() is None and await rt.db(rt.ctx.read.get_group, name) is None:
        raise HttpError(404, f"no concurrency group limit named {name!r} set through the API",
                        field="name")
    require_version(rt, V4, "a concurrency group limit")
    result = await rt.propose("delete_group", {"name": name, "at": rt.now_iso()},
                              req.idempotency_key())
    if result.get("error") == "not_found":
        raise HttpError(404, f"no concurrency group limit named {name!r}", field="name")
    check_result(result)
    return json_response({"name": name, "deleted": True})
