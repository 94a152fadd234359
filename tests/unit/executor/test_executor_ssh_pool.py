"""Connection pool, session limiter and node book of the SSH executor, with fake connections."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from raftcron.executor.ssh_pool import ConnectionPool, NodeBook, PoolKey, SessionLimiter, pool_key
from raftcron.model import ConnectionType, Node

AT = datetime(2024, 5, 1, tzinfo=UTC)
KEY = PoolKey("deploy", "10.0.0.5", 22, "/keys/id", "/etc/kh", False)


class FakeConn:
    def __init__(self) -> None:
        self.closed = False


def make_pool() -> tuple[ConnectionPool[FakeConn], list[FakeConn]]:
    closed: list[FakeConn] = []

    async def close(conn: FakeConn) -> None:
        conn.closed = True
        closed.append(conn)

    return ConnectionPool(is_alive=lambda c: not c.closed, close=close), closed


def ssh_node(name: str, **overrides: object) -> Node:
    values: dict[str, object] = {
        "name": name,
        "connection_type": ConnectionType.SSH,
        "ssh_user": "deploy",
        "ssh_host": "10.0.0.5",
        "ssh_port": 22,
        "ssh_private_key_file": "/keys/id",
        "known_hosts": "/etc/kh",
    }
    values.update(overrides)
    return Node(**values)  # type: ignore[arg-type]


async def test_pool_concurrent_first_runs_connect_once():
    pool, _ = make_pool()
    calls = 0

    async def connect() -> FakeConn:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)  # let the other callers queue up behind the lock
        return FakeConn()

    results = await asyncio.gather(*(pool.get(KEY, connect) for _ in range(5)))
    assert calls == 1 and pool.connects == 1
    assert len({id(conn) for conn, _ in results}) == 1
    assert sorted(fresh for _, fresh in results) == [False] * 4 + [True]


async def test_pool_dead_connection_replaced():
    pool, _ = make_pool()

    async def connect() -> FakeConn:
        return FakeConn()

    first, _ = await pool.get(KEY, connect)
    first.closed = True  # died under us
    second, fresh = await pool.get(KEY, connect)
    assert fresh and second is not first and pool.connects == 2


async def test_pool_connect_error_pools_nothing():
    pool, _ = make_pool()

    async def broken() -> FakeConn:
        raise OSError("refused")

    with pytest.raises(OSError):
        await pool.get(KEY, broken)
    assert pool.alive(KEY) is None and pool.connects == 0


async def test_pool_discard_only_the_given_connection():
    pool, closed = make_pool()

    async def connect() -> FakeConn:
        return FakeConn()

    conn, _ = await pool.get(KEY, connect)
    await pool.discard(KEY, FakeConn())  # a stale handle: the pooled one stays
    assert pool.alive(KEY) is conn
    await pool.discard(KEY, conn)
    assert pool.alive(KEY) is None and closed == [conn]


async def test_session_limiter_waits_for_a_free_slot():
    limiter = SessionLimiter()
    order: list[str] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with limiter.slot(1):
            order.append("first in")
            await release.wait()
            order.append("first out")

    async def waiter() -> None:
        async with limiter.slot(1):
            order.append("second in")

    task1 = asyncio.create_task(holder())
    while limiter.in_use == 0:
        await asyncio.sleep(0)
    task2 = asyncio.create_task(waiter())
    for _ in range(5):
        await asyncio.sleep(0)
    assert order == ["first in"]  # the second cannot enter while the only slot is held
    release.set()
    await asyncio.gather(task1, task2)
    assert order == ["first in", "first out", "second in"]
    assert limiter.in_use == 0


def test_pool_key_shared_by_aliases_split_by_host_key_policy():
    assert pool_key(ssh_node("a")) == pool_key(ssh_node("b")) == KEY
    assert pool_key(ssh_node("c", known_hosts=None, insecure_no_host_key_check=True)) != KEY
    assert pool_key(ssh_node("d", ssh_port=2222)) != KEY


def test_node_book_health_and_recovery():
    book = NodeBook()
    assert book.health("web") == (True, None)  # never tried
    assert book.mark("web", False, "refused", AT) is False
    assert book.health("web") == (False, "refused")
    assert book.mark("web", True, "ignored", AT + timedelta(seconds=5)) is True  # answers again
    assert book.health("web") == (True, None)


async def test_node_book_status_reports_insecure_nodes():
    pool, _ = make_pool()
    book = NodeBook()
    book.remember(ssh_node("safe"))
    book.remember(ssh_node("lax", known_hosts=None, insecure_no_host_key_check=True))
    book.mark("safe", False, "host key not verified", AT)
    status = book.status(pool, running=0)
    assert status["insecure_nodes"] == ["lax"]
    assert status["nodes"]["safe"]["healthy"] is False
    assert status["nodes"]["safe"]["checked_at"] == "2024-05-01T00:00:00Z"
    assert status["nodes"]["lax"]["connected"] is False


def test_node_book_remember_reports_moved_key():
    book = NodeBook()
    assert book.remember(ssh_node("web")) is None
    assert book.remember(ssh_node("web")) is None
    assert book.remember(ssh_node("web", ssh_port=2222)) == KEY
    assert not book.in_use(KEY)
