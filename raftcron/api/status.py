"""This peer's status, liveness and readiness, and the OpenAPI document.

`/status` is `Node.status()` plus what the scheduler and worker add (`extra_status`), plus
the apply lag and this peer's load. Nothing secret ever appears: keys that name a secret,
token or password are dropped at every level before answering.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from raftcron import __version__
from raftcron.api.http import Request, Response, json_response

if TYPE_CHECKING:
    from raftcron.api.context import Runtime

#: A peer is ready when it is at most this many entries behind the commit index it knows.
READY_LAG = 5
_SECRET_WORDS = ("secret", "token", "password", "passwd", "private_key")


@functools.lru_cache(maxsize=4096)
def _names_secret(key: str) -> bool:
    """Whether a mapping key names a secret (remembered: /status has the same keys each time)."""
    low = key.lower()
    return any(word in low for word in _SECRET_WORDS)


def scrub(value: Any) -> Any:
    """`value` without any mapping key that names a secret (at every depth)."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if not _names_secret(str(k))}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def peer_status(rt: Runtime, apis: dict[str, str] | None = None) -> dict:
    """node.status() + extra_status(), with apply lag and the API addresses: this peer's as
    `api`, and each peer's (`apis`, from `Runtime.peer_apis`) as `api` of its `peers` entry."""
    st = rt.status()
    apis = rt.ctx.peer_apis if apis is None else apis
    st["peers"] = [{**p, "api": apis.get(str(p.get("id")))} if isinstance(p, dict) else p
                   for p in st.get("peers") or ()]
    if rt.ctx.extra_status is not None:
        extra = rt.ctx.extra_status() or {}
        for key, value in extra.items():
            st.setdefault(key, value)  # the node's own fields win over extras
    st["apply_lag"] = max(0, _int(st.get("commit_index")) - _int(st.get("applied_index")))
    st["api"] = rt.ctx.peer_apis.get(rt.ctx.self_id)
    st.setdefault("id", rt.ctx.self_id)
    st["version"] = __version__
    return scrub(st)


async def get_status(rt: Runtime, req: Request) -> Response:
    """`GET /status` -> at least id, role, leader, term, commit_index, applied_index, peers."""
    # Read on the loop, and a count rather than every active run decoded: under overload
    # thousands of runs are active, and /status must stay cheap then above all (the count
    # walks the (peer, status) index only).
    announced, active = await rt.quick(_status_reads, rt.ctx.read, rt.ctx.self_id)
    st = peer_status(rt, rt.merge_peer_apis(announced))
    st["active_runs"] = active
    return json_response(st)


def _status_reads(read: Any, self_id: str) -> tuple[dict[str, str], int]:
    """Blocking: the API addresses the state holds and this peer's active run count."""
    return read.peer_apis(), read.active_run_count(self_id)


async def healthz(rt: Runtime, req: Request) -> Response:
    """`GET /healthz` -> 200 while the process serves."""
    return json_response({"ok": True, "id": rt.ctx.self_id})


async def readyz(rt: Runtime, req: Request) -> Response:
    """`GET /readyz` -> 200 with a leader and applied_index >= commit_index - READY_LAG."""
    st = rt.status()
    leader = st.get("leader")
    applied = _int(st.get("applied_index"))
    commit = _int(st.get("commit_index"))
    body = {"ready": False, "id": rt.ctx.self_id, "leader": leader,
            "applied_index": applied, "commit_index": commit}
    if not leader:
        body.update(error="no leader", field=None)
        return json_response(body, status=503, **{"Retry-After": "1"})
    if applied < commit - READY_LAG:
        body.update(error=f"catching up: applied {applied} of {commit}", field=None)
        return json_response(body, status=503, **{"Retry-After": "1"})
    body["ready"] = True
    return json_response(body)


async def get_openapi(rt: Runtime, req: Request) -> Response:
    """`GET /openapi.json` -> the OpenAPI 3 document of every route."""
    return json_response(rt.extras["openapi"])
