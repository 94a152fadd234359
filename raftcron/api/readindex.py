"""Strong reads without log entries: a read index (Raft thesis §6.4), not a no-op commit.

`?consistency=strong` must answer as fresh as the leader. Committing a no-op through the log
did that, but let any unauthenticated caller append an entry per request. Instead:

1. The leader takes its commit index when the read arrives (`read_index`) and confirms it
   still leads: a majority of the group, itself included, has been heard from after that
   moment (`confirmed`), and it is still leader in the same term. pysyncobj has no read
   index of its own; the time of the last message from each peer (the transport's
   `last_contact`, in `Node.status()`) is the evidence. A leader that was deposed in that
   instant could answer from one heartbeat earlier: a bounded staleness, documented.
2. A follower asks the leader for that index (`GET /raft/read-index` on the leader's API).
3. The answering peer waits until it has applied that index, then reads its own copy.

Nothing is proposed, so a strong read adds no log entry, whoever asks.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from raftcron.api.http import Request, Response, json_response
from raftcron.errors import NotLeaderError, UnavailableError

if TYPE_CHECKING:
    from raftcron.api.context import Runtime

READ_INDEX_PATH = "/raft/read-index"
#: How often the leader looks again for the majority's answers while confirming.
_POLL = 0.005


def confirmed(peers: Sequence[dict], since_age: float) -> bool:
    """Whether a majority of `peers` (a `Node.status()["peers"]` list, this one included as
    `"self": true`) has been heard from within the last `since_age` seconds."""
    heard = 0
    for peer in peers:
        if peer.get("self"):
            heard += 1
            continue
        age = peer.get("last_contact")
        if isinstance(age, int | float) and not isinstance(age, bool) and age <= since_age:
            heard += 1
    return heard * 2 > len(peers)


async def leader_read_index(rt: Runtime, timeout: float) -> int:
    """On the leader: its commit index once a majority confirmed its leadership after the
    call began. NotLeaderError when this peer does not lead; UnavailableError after
    `timeout` without a majority."""
    node = rt.ctx.node
    first = rt.status()
    if first.get("role") != "leader" or not getattr(node, "is_leader", True):
        raise NotLeaderError(first.get("leader"))
    index, term = int(first.get("commit_index") or 0), first.get("term")
    started = time.monotonic()
    deadline = started + timeout
    while True:
        st = rt.status()
        if st.get("role") != "leader" or st.get("term") != term:
            raise NotLeaderError(st.get("leader"))
        # `last_contact` is rounded to the millisecond: ask for answers strictly newer.
        if confirmed(st.get("peers") or [], time.monotonic() - started - 0.001):
            return index
        if time.monotonic() >= deadline:
            raise UnavailableError(f"the leader could not confirm its leadership with a "
                                   f"majority within {timeout:g}s")
        await asyncio.sleep(_POLL)


async def _from_leader(rt: Runtime, leader: str, timeout: float) -> int:
    base = rt.ctx.peer_apis.get(leader)
    if not base:
        raise UnavailableError(f"the API of the leader {leader!r} is not known")
    url = f"{base.rstrip('/')}{READ_INDEX_PATH}?timeout={timeout:g}"
    try:
        status, _, body = await rt.fetch(url, timeout + 1.0)
    except (OSError, TimeoutError) as exc:
        raise UnavailableError(f"the leader {leader!r} is unreachable for a strong read: "
                               f"{exc or type(exc).__name__}") from None
    try:
        index = json.loads(body)["read_index"] if status == 200 else None
    except (ValueError, KeyError, TypeError):
        index = None
    if not isinstance(index, int) or isinstance(index, bool):
        raise UnavailableError(f"the leader {leader!r} answered {status} for a read index")
    return index


async def strong_read_barrier(rt: Runtime, timeout: float) -> None:
    """Wait until this peer has applied what the leader had committed when the read came.

    UnavailableError (503) when there is no leader, it cannot confirm, or this peer does not
    catch up within `timeout`."""
    st = rt.status()
    leader = st.get("leader")
    if not leader:
        raise UnavailableError("no leader: a strong read cannot be answered now")
    if leader == rt.ctx.self_id:
        index = await leader_read_index(rt, timeout)
    else:
        index = await _from_leader(rt, leader, timeout)
    if rt.applied_index() < index and not await rt.ctx.node.wait_applied(index, timeout):
        raise UnavailableError(f"consistency: this peer has applied index "
                               f"{rt.applied_index()}, not yet the leader's {index}, after "
                               f"waiting {timeout:g}s", field="consistency")


async def read_index(rt: Runtime, req: Request) -> Response:
    """`GET /raft/read-index` -> `{"read_index", "term"}` from the leader (503 elsewhere)."""
    timeout = req.float_arg("timeout", default=rt.ctx.wait_timeout, maximum=60.0)
    index = await leader_read_index(rt, timeout)
    return json_response({"read_index": index, "term": rt.status().get("term")})
