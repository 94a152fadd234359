"""Large log entries are stored and sent zlib-compressed once every peer reads them
(`raft.syncobj.COMPRESSED_VERSION`), and left as they are while one peer does not: real
in-process nodes on loopback ports (`test_node.Group`), real copies and journals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from raftcron.model.commands import batch_entry
from raftcron.raft.node import Node
from raftcron.raft.syncobj import COMPRESSED_VERSION, pack_entry, unpack_entry
from raftcron.raft.version_gate import GOSSIP_KEY
from raftcron.state.machine import StateMachine
from tests.support.wait import wait_until_async
from tests.unit.raft.test_node import Group, put_job


class VersionedGroup(Group):
    """A group whose peers gossip the command version given for each (as the daemon does)."""

    def __init__(self, root: Path, versions: list[int]) -> None:
        super().__init__(root, len(versions))
        self.versions = dict(zip(self.ids, versions, strict=True))

    def start(self, peer: str) -> Node:
        self.dir(peer).mkdir(parents=True, exist_ok=True)
        state = StateMachine(self.dir(peer) / "state.sqlite3")
        node = Node(self_id=peer, peers=self.ids, data_dir=self.dir(peer), secret="node-tests",
                    state=state, tuning=self.tuning,
                    on_fatal=lambda msg, p=peer: self.fatal.append((p, msg)),
                    announce={GOSSIP_KEY: self.versions[peer]})
        self.nodes[peer], self.states[peer] = node, state
        return node

    def journal(self, peer: str) -> bytes:
        return (self.dir(peer) / "raft.journal").read_bytes()


@pytest.fixture
async def groups(tmp_path: Path) -> AsyncIterator[list[VersionedGroup]]:
    made: list[VersionedGroup] = []
    yield made
    for group in made:
        group.close()
        assert not group.fatal, group.fatal


async def put_many(group: VersionedGroup, prefix: str, n: int = 40) -> dict:
    leader = await group.leader()
    # The gate reads the gossip: wait until every peer has told the leader its version.
    await wait_until_async(lambda: all(isinstance(p.get(GOSSIP_KEY), int)
                                       for p in leader.status()["peers"]
                                       if p["id"] != leader.self_id),
                           message="every peer's version gossiped")
    entries = [batch_entry("put_job", put_job(f"{prefix}-{i:03d}")) for i in range(n)]
    result = await leader.propose("batch", {"commands": entries})
    for node in group.nodes.values():
        assert await node.wait_applied(leader.applied_index, 10)
    return result


def test_pack_and_unpack_round_trip_and_plain_entries_pass_through() -> None:
    command = b'{"v":1,"op":"noop","key":null,"args":{}}' * 100
    packed = pack_entry(command)
    assert packed[:1] == b"x" and len(packed) < len(command) // 10
    assert unpack_entry(packed) == command
    assert unpack_entry(command) == command
    assert unpack_entry(b"x not zlib") == b"x not zlib"  # the apply path calls it corrupt


async def test_large_entries_are_compressed_when_every_peer_reads_them(
        groups: list[VersionedGroup], tmp_path: Path) -> None:
    group = VersionedGroup(tmp_path / "new", [COMPRESSED_VERSION] * 3).start_all()
    groups.append(group)
    result = await put_many(group, "big")
    assert result["ok"] and len(result["results"]) == 40
    dumps = [s.dump() for s in group.states.values()]
    assert dumps[0] == dumps[1] == dumps[2] and len(dumps[0]["jobs"]) == 40
    for peer in group.ids:
        assert b"big-000" not in group.journal(peer)  # stored compressed everywhere
    # A restarted peer replays its compressed journal into the same copy.
    peer = group.ids[0]
    group.stop(peer)
    node = group.start(peer)
    await wait_until_async(lambda: node.caught_up, message="caught up after restart")
    assert group.states[peer].dump() == dumps[1]


async def test_entries_stay_plain_while_one_peer_reads_an_older_version(
        groups: list[VersionedGroup], tmp_path: Path) -> None:
    group = VersionedGroup(tmp_path / "mixed",
                           [COMPRESSED_VERSION, COMPRESSED_VERSION, COMPRESSED_VERSION - 1])
    groups.append(group.start_all())
    assert (await put_many(group, "plain"))["ok"]
    for peer in group.ids:
        assert b"plain-000" in group.journal(peer)
