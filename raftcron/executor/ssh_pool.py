"""Connection reuse, session caps and node health for SSH runs; no SSH library here.

`ConnectionPool` keeps one connection per `PoolKey` (user, host, port, private key file and
the host-key policy), opens it on first use and replaces it when it has died. Concurrent runs
to the same key wait for one connect instead of each opening their own. The connection
objects are opaque: the pool is given `connect`, `is_alive` and `close` callables (the
asyncssh glue in `ssh.py` provides them).

`SessionLimiter` caps the sessions open at once on one connection. OpenSSH refuses more than
`MaxSessions` (default 10) channels per connection, so the cap belongs to the connection, not
to the node name: two node names that share a connection share its sessions, and each run
waits while the connection has `max_sessions` of its own node or more in use.

`NodeBook` records the nodes seen and, per node name, whether the last attempt to reach it
worked; it builds `SshExecutor.status()`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from raftcron.durations import format_time
from raftcron.model import Node

C = TypeVar("C")


@dataclass(frozen=True)
class PoolKey:
    """What makes two nodes share a connection. The host-key policy is part of it: a
    connection verified against one known_hosts file must not serve a node that names another.
    """

    user: str
    host: str
    port: int
    key_file: str | None
    known_hosts: str | None
    insecure: bool

    def describe(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


def pool_key(node: Node) -> PoolKey:
    """The `PoolKey` of a `raftcron.model.Node` with `connection_type == "ssh"`."""
    key_file = node.ssh_private_key_file
    known_hosts = node.known_hosts
    return PoolKey(
        user=str(node.ssh_user),
        host=str(node.ssh_host),
        port=int(node.ssh_port or 22),
        key_file=os.path.expanduser(str(key_file)) if key_file else None,
        known_hosts=os.path.expanduser(str(known_hosts)) if known_hosts else None,
        insecure=bool(getattr(node, "insecure_no_host_key_check", False)),
    )


class SessionLimiter:
    """Counts sessions in use on one connection; `slot(limit)` waits while `limit` are."""

    def __init__(self) -> None:
        self.in_use = 0
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def slot(self, limit: int, cancel: asyncio.Event | None = None) -> AsyncIterator[bool]:
        """Hold a session slot; yields True, or False at once if `cancel` is set while
        waiting (whoever sets it must call `wake()`)."""
        limit = max(1, int(limit))

        def cancelled() -> bool:
            return cancel is not None and cancel.is_set()

        async with self._changed:
            await self._changed.wait_for(lambda: self.in_use < limit or cancelled())
            got = not cancelled()
            if got:
                self.in_use += 1
        try:
            yield got
        finally:
            if got:
                async with self._changed:
                    self.in_use -= 1
                    self._changed.notify_all()

    async def wake(self) -> None:
        """Let waiters re-check their cancel events."""
        async with self._changed:
            self._changed.notify_all()


class ConnectionPool(Generic[C]):
    """One live connection per key. `get(key, connect)` returns the pooled one if it is alive,
    otherwise calls `connect()` (once, however many runs are waiting) and pools the result.
    `connect` raising leaves nothing pooled; the caller turns the error into a run outcome.
    """

    def __init__(
        self, *, is_alive: Callable[[C], bool], close: Callable[[C], Awaitable[None]]
    ) -> None:
        self._is_alive = is_alive
        self._close = close
        self._conns: dict[PoolKey, C] = {}
        self._locks: dict[PoolKey, asyncio.Lock] = {}
        self._limiters: dict[PoolKey, SessionLimiter] = {}
        #: Connections opened so far (tests and the benchmark read it).
        self.connects = 0

    def limiter(self, key: PoolKey) -> SessionLimiter:
        return self._limiters.setdefault(key, SessionLimiter())

    def sessions_in_use(self, key: PoolKey) -> int:
        limiter = self._limiters.get(key)
        return limiter.in_use if limiter is not None else 0

    def alive(self, key: PoolKey) -> C | None:
        conn = self._conns.get(key)
        return conn if conn is not None and self._is_alive(conn) else None

    async def get(self, key: PoolKey, connect: Callable[[], Awaitable[C]]) -> tuple[C, bool]:
        """The live connection for `key` and whether it was opened by this call."""
        conn = self.alive(key)
        if conn is not None:
            return conn, False
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            conn = self.alive(key)  # another run may have connected while this one waited
            if conn is not None:
                return conn, False
            await self.discard(key)
            conn = await connect()
            self.connects += 1
            self._conns[key] = conn
            return conn, True

    async def discard(self, key: PoolKey, conn: C | None = None) -> None:
        """Forget (and close) the pooled connection of `key`; only `conn` if given."""
        current = self._conns.get(key)
        if current is None or (conn is not None and current is not conn):
            return
        del self._conns[key]
        await self._close(current)

    def open_count(self) -> int:
        return sum(1 for conn in self._conns.values() if self._is_alive(conn))

    async def close_all(self) -> None:
        for key in list(self._conns):
            await self.discard(key)


@dataclass
class NodeHealth:
    healthy: bool
    reason: str | None
    checked_at: datetime | None


class NodeBook:
    """The SSH nodes this executor has been asked about, and per node name whether the last
    attempt to reach it worked (and if not, why)."""

    def __init__(self) -> None:
        self.nodes: dict[str, Any] = {}
        self._health: dict[str, NodeHealth] = {}

    def remember(self, node: Node) -> PoolKey | None:
        """Record `node`; returns the key it used before if that changed (e.g. a new port)."""
        previous = self.nodes.get(node.name)
        self.nodes[node.name] = node
        if previous is not None and pool_key(previous) != pool_key(node):
            return pool_key(previous)
        return None

    def in_use(self, key: PoolKey) -> bool:
        return any(pool_key(n) == key for n in self.nodes.values())

    def mark(self, node: str, healthy: bool, reason: str | None, at: datetime) -> bool:
        """Record an attempt; True when the node was unhealthy and now answers again."""
        was_healthy = self.health(node)[0]
        self._health[node] = NodeHealth(healthy, None if healthy else reason, at)
        return healthy and not was_healthy

    def health(self, node: str) -> tuple[bool, str | None]:
        """`(healthy, reason)`; a node never tried counts as healthy."""
        entry = self._health.get(node)
        return (True, None) if entry is None else (entry.healthy, entry.reason)

    def status(self, pool: ConnectionPool[Any], running: int) -> dict[str, Any]:
        """Connections, runs in progress, and per node: health, whether it is connected,
        sessions in use on its connection, and whether its host key is checked."""
        nodes: dict[str, Any] = {}
        for name, node in sorted(self.nodes.items()):
            key = pool_key(node)
            entry = self._health.get(name)
            nodes[name] = {
                "healthy": entry is None or entry.healthy,
                "reason": entry.reason if entry else None,
                "checked_at": format_time(entry.checked_at) if entry and entry.checked_at else None,
                "target": key.describe(),
                "connected": pool.alive(key) is not None,
                "sessions": pool.sessions_in_use(key),
                "max_sessions": node.max_sessions,
                "insecure_no_host_key_check": key.insecure,
            }
        return {
            "connections": pool.open_count(),
            "connects": pool.connects,
            "running": running,
            "insecure_nodes": [n for n, e in nodes.items() if e["insecure_no_host_key_check"]],
            "nodes": nodes,
        }
