"""The Raft node in-process: real pysyncobj on loopback ports, real StateMachine copies.

Several `Node`s share this process (and its asyncio loop, in the main thread, as pysyncobj
needs). Each test waits by polling with a deadline. Fatal errors are collected instead of
exiting the process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from raftcron.config.tuning import RaftTuning
from raftcron.errors import ConfigError, UnavailableError
from raftcron.model.commands import encode
from raftcron.raft.node import Node
from raftcron.state.machine import StateMachine
from tests.support.ports import free_port
from tests.support.records import job_body, put_job_args
from tests.support.wait import wait_until_async

AT = "2024-05-01T10:00:00Z"
FAST = RaftTuning(heartbeat=0.05, election_timeout_min=0.3, election_timeout_max=0.9,
                  connection_timeout=1.0, connection_retry=0.1, leader_fallback=2.0)


def put_job(name: str) -> dict[str, Any]:
    return put_job_args(job_body(name), AT)


class Group:
    """A Raft group of in-process nodes with their own data dirs."""

    def __init__(self, root: Path, size: int, tuning: RaftTuning = FAST) -> None:
        self.root = root
        self.tuning = tuning
        self.ids = [f"127.0.0.1:{free_port()}" for _ in range(size)]
        self.nodes: dict[str, Node] = {}
        self.states: dict[str, StateMachine] = {}
        self.fatal: list[tuple[str, str]] = []
        self.applied: dict[str, list[tuple[int, str]]] = {i: [] for i in self.ids}

    def dir(self, peer: str) -> Path:
        return self.root / peer.replace(":", "_")

    def start(self, peer: str) -> Node:
        self.dir(peer).mkdir(parents=True, exist_ok=True)
        state = StateMachine(self.dir(peer) / "state.sqlite3")
        node = Node(self_id=peer, peers=self.ids, data_dir=self.dir(peer), secret="node-tests",
                    state=state, tuning=self.tuning,
                    on_fatal=lambda msg, p=peer: self.fatal.append((p, msg)),
                    announce={"roles": ["r-" + peer[-2:]], "capacity": 3})
        node.add_apply_listener(lambda i, c, r, p=peer: self.applied[p].append((i, c.op)))
        self.nodes[peer], self.states[peer] = node, state
        return node

    def stop(self, peer: str) -> None:
        self.nodes.pop(peer).close()
        self.states.pop(peer).close()

    def start_all(self) -> Group:
        for peer in self.ids:
            self.start(peer)
        return self

    async def leader(self, exclude: tuple[str, ...] = ()) -> Node:
        def find() -> Node | None:
            leaders = [n for p, n in self.nodes.items() if p not in exclude and n.is_leader]
            return leaders[0] if len(leaders) == 1 else None
        return await wait_until_async(find, message="a leader")

    def close(self) -> None:
        for peer in list(self.nodes):
            self.stop(peer)


@pytest.fixture
async def make_group(tmp_path: Path) -> AsyncIterator[Callable[..., Group]]:
    groups: list[Group] = []

    def make(size: int = 3, tuning: RaftTuning = FAST) -> Group:
        group = Group(tmp_path / f"g{len(groups)}", size, tuning)
        groups.append(group)
        return group

    yield make
    for group in groups:
        group.close()
        assert not group.fatal, group.fatal


async def test_node_propose_on_leader_and_follower_applies_everywhere(make_group) -> None:
    group = make_group().start_all()
    leader = await group.leader()
    follower = next(n for n in group.nodes.values() if n is not leader)
    first = await leader.propose("put_job", put_job("a"))
    second = await follower.propose("put_job", put_job("b"))
    assert first["ok"] and first["created"] and second["ok"] and second["created"]
    # The follower's answer came after its own copy applied the command.
    assert group.states[follower.self_id].dump()["jobs"][1][0] == "b"
    # Any copy may be the furthest ahead (the follower answered after its own
    # apply; the leader's may still be catching up), so wait for the highest.
    index = max(node.applied_index for node in group.nodes.values())
    for node in group.nodes.values():
        assert await node.wait_applied(index, 10)
    dumps = [s.dump() for s in group.states.values()]
    assert dumps[0] == dumps[1] == dumps[2]
    for peer in group.ids:
        await wait_until_async(
            lambda p=peer: [op for _, op in group.applied[p]] == ["put_job", "put_job"],
            message="apply listeners")


async def test_node_same_key_is_applied_once(make_group) -> None:
    group = make_group().start_all()
    leader = await group.leader()
    first = await leader.propose("put_job", put_job("a"), key="k1")
    again = await leader.propose("put_job", put_job("a"), key="k1")
    assert first == again and first["version"] == 1
    fresh = await leader.propose("put_job", put_job("a"))
    assert fresh["version"] == 2


async def test_node_status_reports_roles_peers_and_gossip(make_group) -> None:
    group = make_group().start_all()
    leader = await group.leader()
    await wait_until_async(
        lambda: all(p["reachable"] and "roles" in p for p in leader.status()["peers"]),
        message="every peer reachable with its roles")
    status = leader.status()
    assert status["id"] == leader.self_id and status["role"] == "leader"
    assert status["leader"] == leader.self_id and status["term"] >= 1
    assert status["applied_index"] == status["commit_index"]
    assert status["peers"][0]["id"] == leader.self_id
    assert sorted(p["id"] for p in status["peers"]) == sorted(group.ids)
    for entry in status["peers"]:
        assert entry["roles"] == ["r-" + entry["id"][-2:]] and entry["capacity"] == 3
        if not entry["self"]:
            assert entry["match_index"] is not None
            assert 0 <= entry["last_contact"] < FAST.connection_timeout
    follower = next(n for n in group.nodes.values() if n is not leader)
    assert follower.status()["role"] == "follower"
    assert follower.status()["leader"] == leader.self_id


async def test_node_idle_follower_connections_stay_up(make_group) -> None:
    """The keepalive: followers never talk raft to each other, yet stay connected."""
    group = make_group().start_all()
    leader = await group.leader()
    a, b = [n for n in group.nodes.values() if n is not leader]

    def link_up() -> bool:
        entry = next(p for p in a.status()["peers"] if p["id"] == b.self_id)
        return entry["reachable"]

    await wait_until_async(link_up, message="follower-to-follower link")
    # Watch the idle link for twice the connection timeout: it must never drop.
    watch_until = time.monotonic() + 2 * FAST.connection_timeout
    while time.monotonic() < watch_until:
        assert link_up()
        await asyncio.sleep(0.05)


async def test_node_new_leader_after_leader_stops_and_writes_go_on(make_group) -> None:
    group = make_group().start_all()
    leader = await group.leader()
    await leader.propose("put_job", put_job("before"))
    seen: list[bool] = []
    survivors = [n for n in group.nodes.values() if n is not leader]
    for node in survivors:
        node.add_leadership_listener(seen.append)
    group.stop(leader.self_id)
    new_leader = await group.leader()
    assert new_leader in survivors
    await wait_until_async(lambda: seen == [True], message="the leadership listener")
    result = await survivors[0].propose("put_job", put_job("after"), timeout=10)
    assert result["ok"]
    group.start(leader.self_id)
    back = group.nodes[leader.self_id]
    assert await back.wait_applied(new_leader.applied_index, 15)
    assert [r[0] for r in group.states[leader.self_id].dump()["jobs"]] == ["after", "before"]


async def test_node_propose_without_quorum_times_out_unavailable(make_group) -> None:
    group = make_group()
    lonely = group.start(group.ids[0])
    started = time.monotonic()
    with pytest.raises(UnavailableError, match="Idempotency-Key"):
        await lonely.propose("noop", {}, timeout=0.5)
    assert time.monotonic() - started < 5
    assert not lonely.is_leader and lonely.status()["leader"] is None


async def test_node_wait_applied_false_on_timeout(make_group) -> None:
    group = make_group(size=1).start_all()
    node = await group.leader()
    assert await node.wait_applied(node.applied_index, 0.1)
    assert not await node.wait_applied(node.applied_index + 100, 0.1)


async def test_node_restart_keeps_state_and_replays_nothing_twice(make_group) -> None:
    group = make_group().start_all()
    leader = await group.leader()
    for i in range(5):
        await leader.propose("put_job", put_job(f"j{i}"))
    peer = next(p for p in group.ids if p != leader.self_id)
    assert await group.nodes[peer].wait_applied(leader.applied_index, 10)
    await wait_until_async(lambda: len(group.applied[peer]) == 5,
                           message="the five apply notifications")
    before = group.states[peer].dump()
    group.applied[peer].clear()
    group.stop(peer)
    node = group.start(peer)
    await wait_until_async(lambda: node.caught_up, message="caught up after restart")
    assert group.states[peer].dump() == before
    assert group.applied[peer] == []  # replayed entries are not announced again


async def test_node_rebuilds_a_wiped_peer_from_a_snapshot(make_group) -> None:
    tuning = RaftTuning(heartbeat=0.05, election_timeout_min=0.3, election_timeout_max=0.9,
                        connection_timeout=1.0, connection_retry=0.1, leader_fallback=2.0,
                        log_compaction_entries=20)
    group = make_group(tuning=tuning).start_all()
    leader = await group.leader()
    peer = next(p for p in group.ids if p != leader.self_id)
    group.stop(peer)
    for i in range(80):
        await leader.propose("put_job", put_job(f"j{i:02d}"))
    await wait_until_async(lambda: leader.status()["snapshots_written"] >= 1, message="a snapshot")
    for path in group.dir(peer).iterdir():
        path.unlink()
    node = group.start(peer)
    assert await node.wait_applied(leader.applied_index, 20)
    assert node.status()["snapshots_loaded"] >= 1
    assert group.states[peer].dump() == group.states[leader.self_id].dump()
    # It works on from there: a write through it lands everywhere.
    result = await node.propose("put_job", put_job("later"), timeout=10)
    assert result["ok"]


async def test_node_snapshots_once_the_log_holds_enough_bytes(make_group) -> None:
    """Few entries, but big ones: the byte trigger snapshots long before the entry count or
    the time trigger would (pysyncobj holds the log in memory until then)."""
    tuning = RaftTuning(heartbeat=0.05, election_timeout_min=0.3, election_timeout_max=0.9,
                        connection_timeout=1.0, connection_retry=0.1, leader_fallback=2.0,
                        log_compaction_entries=100_000, log_compaction_bytes=50_000)
    group = make_group(tuning=tuning).start_all()
    leader = await group.leader()
    for i in range(40):
        args = put_job(f"big{i:02d}")
        args["job"]["description"] = "x" * 3000
        assert (await leader.propose("put_job", args))["ok"]
    await wait_until_async(lambda: leader.status()["snapshots_written"] >= 1,
                           message="a snapshot from the byte trigger")


async def test_node_corrupt_entry_stops_every_peer(make_group) -> None:
    group = make_group().start_all()
    leader = await group.leader()
    leader._raft.apply(b"this is not a command")
    await wait_until_async(lambda: len(group.fatal) == 3, message="every peer to stop")
    assert all("cannot read log entry" in message for _, message in group.fatal)
    with pytest.raises(UnavailableError):
        await leader.propose("noop", {}, timeout=0.2)
    group.fatal.clear()


async def test_node_waiter_resolved_from_state_after_snapshot(make_group) -> None:
    """The path for forwarded commands whose callback a snapshot install dropped."""
    group = make_group(size=1).start_all()
    node = await group.leader()
    state = group.states[node.self_id]
    state.apply(node.applied_index + 1000, encode("put_job", put_job("x"), "lost-key"))
    waiting = asyncio.get_running_loop().create_future()
    node._waiters.add("lost-key", waiting)
    node._on_snapshot_loaded(restored=False)
    result = await asyncio.wait_for(waiting, 5)
    assert result["ok"] and result["created"]


async def test_node_refuses_a_raft_port_in_use(make_group, tmp_path: Path) -> None:
    group = make_group(size=1).start_all()
    busy = group.ids[0]
    state = StateMachine(tmp_path / "other.sqlite3")
    try:
        with pytest.raises(ConfigError, match="in use"):
            Node(self_id=busy, peers=[busy], data_dir=tmp_path / "other", secret=None,
                 state=state, tuning=FAST, on_fatal=lambda m: None)
    finally:
        state.close()
