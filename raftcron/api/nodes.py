"""Node routes: the peers (from the node's status) and the SSH/local nodes (from the state).

Each entry has `name`, `kind` (`peer` or `node`), `roles`, `capacity`, `healthy`,
`active_runs` and `load` = active runs / capacity. A peer's roles and capacity are the ones
placement uses (`api/cluster.py`): a `local` node named by a peer's raft id is that peer's
announcement and is shown as the peer, not as a node. Peers are members of the Raft group and
change by configuration, not through this API: PUT and DELETE on a peer's id are 409.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from raftcron import model
from raftcron.api import actor
from raftcron.api.cluster import view
from raftcron.api.http import Request, Response, json_response, page
from raftcron.api.results import check_result
from raftcron.errors import ConflictError, NodeNotFoundError
from raftcron.planning.placement import loads

if TYPE_CHECKING:
    from raftcron.api.context import Runtime
    from raftcron.db.reader import ReadDb

_PEER_STATUS_KEYS = ("last_contact", "match_index")


def _load(active: int, capacity: Any) -> float | None:
    if isinstance(capacity, int | float) and capacity > 0:
        return round(active / capacity, 4)
    return None


def entries(self_id: str, status: dict, nodes: list[dict], active: list[dict], extra: dict,
            peer_apis: dict[str, str]) -> list[dict]:
    """Every peer, then every node that is not a peer's announcement (pure)."""
    by_id = {str(p["id"]): p for p in status.get("peers") or ()
             if isinstance(p, dict) and p.get("id")}
    cluster = view(self_id, status, nodes, extra)
    counts = loads(active)
    out: list[dict] = []
    for p in cluster.peers:
        reported = by_id.get(p.id, {})
        n = counts.get(p.id, 0)
        entry = {
            "name": p.id, "kind": "peer", "roles": sorted(p.roles), "capacity": p.capacity,
            "healthy": p.id == self_id or bool(reported.get("reachable")),
            "leader": p.id == status.get("leader"), "self": p.id == self_id,
            "api": peer_apis.get(p.id), "active_runs": n, "load": _load(n, p.capacity),
        }
        entry.update({k: reported[k] for k in _PEER_STATUS_KEYS if k in reported})
        out.append(entry)
    peer_ids = {p.id for p in cluster.peers}
    for node in nodes:
        if node.get("name") in peer_ids:
            continue
        entry = dict(node)
        n = counts.get(entry.get("name"), 0)
        entry["kind"] = "node"
        entry["healthy"] = entry.get("healthy") is not False
        entry["active_runs"] = n
        entry["load"] = _load(n, entry.get("capacity"))
        out.append(entry)
    return out


async def _all(rt: Runtime) -> list[dict]:
    def gather(read: ReadDb) -> tuple[list, list]:
        nodes, _ = read.list_nodes(limit=1000)
        return nodes, read.active_runs()

    nodes, active = await rt.db(gather, rt.ctx.read)
    extra = (rt.ctx.extra_status() or {}) if rt.ctx.extra_status is not None else {}
    return entries(rt.ctx.self_id, rt.status(), nodes, active, extra, await rt.peer_apis())


async def list_nodes(rt: Runtime, req: Request) -> Response:
    """`GET /nodes` -> every peer and node (one page: a cluster has few)."""
    return json_response(page(await _all(rt), None))


async def _find(rt: Runtime, name: str) -> dict:
    for entry in await _all(rt):
        if entry.get("name") == name:
            return entry
    raise NodeNotFoundError(name)


async def get_node(rt: Runtime, req: Request) -> Response:
    """`GET /nodes/{name}` -> one peer or node; 404 if neither."""
    return json_response(await _find(rt, req.params["name"]))


def _refuse_peer(rt: Runtime, name: str) -> None:
    status = rt.status()
    ids = {p.get("id") for p in status.get("peers") or () if isinstance(p, dict)}
    if name == rt.ctx.self_id or name in ids:
        raise ConflictError(f"{name!r} is a peer; peers change by configuration", field="name")


async def put_node(rt: Runtime, req: Request) -> Response:
    """`PUT /nodes/{name}` -> 201 created / 200 replaced; 409 for a peer's id."""
    name = req.params["name"]
    _refuse_peer(rt, name)
    node = model.node_from_dict(req.object_body(), name=name)
    args = actor.stamp(rt, req, {"node": model.node_to_dict(node), "at": rt.now_iso()})
    result = await rt.propose("put_node", args, req.idempotency_key())
    check_result(result, node=name)
    return json_response(await _find(rt, name), status=201 if result.get("created") else 200)


async def delete_node(rt: Runtime, req: Request) -> Response:
    """`DELETE /nodes/{name}` -> 200; 404 if missing; 409 for a peer's id."""
    name = req.params["name"]
    _refuse_peer(rt, name)
    if req.idempotency_key() is None and await rt.db(rt.ctx.read.get_node, name) is None:
        raise NodeNotFoundError(name)  # no log entry for a plain miss
    args = {"name": name, "at": rt.now_iso()} if actor.carries_by(rt) else {"name": name}
    result = await rt.propose("delete_node", actor.stamp(rt, req, args), req.idempotency_key())
    check_result(result, node=name)
    return json_response({"name": name, "deleted": True})
