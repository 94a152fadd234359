"""Group commit: concurrent single job writes share one Raft entry.

`PUT /jobs/{name}` and `POST /jobs` hand their `put_job` to `propose_put`. The first write
to arrive waits `WINDOW` seconds (a millisecond or two) for others; the writes gathered then
go as one `batch` of `put_job` entries, each entry with its request's own idempotency key
(the state honours a batch entry's key as a command's), and each request gets its own
entry's result, the same result a lone `put_job` would have given. A write that arrives
alone is proposed alone, as a plain `put_job`. Entries are independent (not an atomic
batch): one refused write does not refuse the others.

The cost is at most `WINDOW` of added latency per write; the gain is one log entry, one
replication round and one SQLite transaction for up to `MAX_GROUP` writes.
"""

from __future__ import annotations

import asyncio
from typing import Any

#: How long the first write of a group waits for others, in seconds.
WINDOW = 0.002
#: Writes in one group at most.
MAX_GROUP = 500


def put_entry(args: dict, key: str | None = None) -> dict[str, Any]:
    """A `put_job` batch entry, as `commands.batch_entry` makes it but not checked on its
    own: `encode` checks every entry of the batch anyway, and checking each twice was a
    tenth of a leader's time in a fill."""
    return {"op": "put_job", "key": key, "args": dict(args)}


class _Group:
    def __init__(self) -> None:
        self.writes: list[tuple[dict, str | None, asyncio.Future]] = []
        self.full = asyncio.Event()


class GroupCommit:
    """One per API runtime (`group(rt)`)."""

    def __init__(self) -> None:
        self._open: _Group | None = None
        self._flushing: set[asyncio.Future] = set()

    async def propose_put(self, rt: Any, args: dict, key: str | None) -> dict:
        """Propose `put_job(args)` with `key`, grouped with concurrent ones; its result."""
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        group = self._open
        if group is not None:
            group.writes.append((args, key, fut))
            if len(group.writes) >= MAX_GROUP:
                group.full.set()
            return await fut
        group = self._open = _Group()
        group.writes.append((args, key, fut))
        try:
            await asyncio.wait_for(group.full.wait(), WINDOW)
        except TimeoutError:
            pass
        finally:
            # A task of its own: the others' writes go even if this request is cancelled.
            self._open = None
            flush = asyncio.ensure_future(self._flush(rt, group))
            self._flushing.add(flush)  # held until done (the loop keeps only weak references)
            flush.add_done_callback(self._flushing.discard)
        return await fut

    @staticmethod
    async def _flush(rt: Any, group: _Group) -> None:
        writes = group.writes
        try:
            if len(writes) == 1:
                args, key, fut = writes[0]
                fut.set_result(await rt.propose("put_job", args, key))
                return
            entries = [put_entry(a, k) for a, k, _ in writes]
            result = await rt.propose("batch", {"commands": entries}, None)
            results = result.get("results") if isinstance(result, dict) else None
            if not isinstance(results, list) or len(results) != len(writes):
                results = [result] * len(writes)  # the batch itself was refused
            for (_, _, fut), res in zip(writes, results, strict=True):
                if not fut.done():
                    fut.set_result(res)
        except BaseException as exc:
            for _, _, fut in writes:
                if not fut.done():
                    fut.set_exception(exc)
            if not isinstance(exc, Exception):
                raise


def group(rt: Any) -> GroupCommit:
    """This app's group commit."""
    found = rt.extras.get("group_commit")
    if found is None:
        found = rt.extras["group_commit"] = GroupCommit()
    return found
