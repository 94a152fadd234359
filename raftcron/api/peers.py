"""Membership routes: `GET /peers`, `POST /peers {"id"}`, `DELETE /peers/{id}`.

Any peer answers; the change itself is made by the leader (the peer that answers forwards it
through Raft) and the answer comes once this peer has applied it. One change at a time: a
second one while the first is uncommitted is 409, and so are adding a member, removing a
non-member, removing the last member, or any change that would
leave fewer reachable members than a majority of the new set
(`raftcron.raft.membership.refuse_change`). A malformed id is 400. A removed peer is not
stopped by the change: stop it (docs/operations.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from raftcron.api.http import Request, Response, json_response
from raftcron.errors import ConflictError, UnavailableError, ValidationError
from raftcron.raft.membership import check_peer_id, refuse_change

if TYPE_CHECKING:
    from raftcron.api.context import Runtime

#: What each entry of `GET /peers` copies from the node's status.
_STATUS_KEYS = ("reachable", "last_contact", "match_index", "roles", "capacity")


def entries(status: dict, peer_apis: dict[str, str]) -> list[dict[str, Any]]:
    """Every member as `GET /peers` shows it (pure): id, self, leader, api, reachability."""
    out = []
    for p in status.get("peers") or ():
        if not isinstance(p, dict) or not p.get("id"):
            continue
        pid = str(p["id"])
        entry: dict[str, Any] = {"id": pid, "self": bool(p.get("self")),
                                 "leader": pid == status.get("leader"),
                                 "api": peer_apis.get(pid)}
        entry.update({k: p[k] for k in _STATUS_KEYS if k in p})
        out.append(entry)
    return sorted(out, key=lambda e: e["id"])


async def list_peers(rt: Runtime, req: Request) -> Response:
    """`GET /peers` -> {"items": [every member], "leader": id or null}."""
    status = rt.status()
    return json_response({"items": entries(status, await rt.peer_apis()),
                          "leader": status.get("leader")})


async def add_peer(rt: Runtime, req: Request) -> Response:
    """`POST /peers {"id": "HOST:PORT"}` -> 201 once the member is added (it is then started
    with `--join`); 400 for a malformed id, 409 for a member or a change that is refused."""
    body = req.object_body()
    unknown = sorted(set(body) - {"id"})
    if unknown:
        raise ValidationError(f"{unknown[0]}: unknown field", field=unknown[0])
    peer = check_peer_id(body.get("id"))
    return json_response(await _change(rt, "add", peer), status=201)


async def remove_peer(rt: Runtime, req: Request) -> Response:
    """`DELETE /peers/{id}` -> 200 once the member is removed; 400 for a malformed id, 409 for
    a non-member, the last member or a change that is refused."""
    peer = check_peer_id(req.params["id"])
    return json_response(await _change(rt, "remove", peer))


async def _change(rt: Runtime, op: str, peer: str) -> dict[str, Any]:
    status = rt.status()
    reason = refuse_change(op, peer, status)
    if reason is not None:
        raise ConflictError(reason, field="id")
    membership = getattr(rt.ctx.node, "membership", None)
    if membership is None:
        raise UnavailableError("this peer cannot change membership")
    members = await membership.change(op, peer, leader=status.get("leader"),
                                      timeout=rt.ctx.wait_timeout)
    return {"id": peer, ("added" if op == "add" else "removed"): True, "members": members}
