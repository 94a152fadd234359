"""Large log entries are stored and sent zlib-compressed once every peer reads them
(`raft.syncobj.COMPRESSED_VERSION`), and left as they are while one peer does not: real
in-process nodes on loopback ports (`test_node.Group`), real copies and journals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from raftcron.config.tuning import RaftTuning
from raftcron.model.commands import batch_entry
from raftcron.raft.node import Node
from raftcron.raft.syncobj import COMPRESSED_VERSION, pack_entry, unpack_entry
from raftcron.raft.version_gate import GOSSIP_KEY
from raftcron.state.machine import StateMachine
from tests.support.wait import wait_until_async
from tests.unit.raft.test_node import FAST, Group, put_job


class VersionedGroup(Group):
    """A group whose peers gossip the command version given for each (as the daemon does)."""

    def __init__(self, root: Path, versions: list[int], tuning: RaftTuning = FAST) -> None:
        super().__init__(root, len(versions), tuning)
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


async def test_the_byte_trigger_counts_entries_as_the_log_holds_them(
        groups: list[VersionedGroup], tmp_path: Path) -> None:
    """Eight batches of ~27 kB of JSON each: past the 100-167 kB trigger (staggered per peer)
    as plain entries, far below it compressed (the trigger bounds memory, and compressed
    entries take little)."""
    tuning = RaftTuning(heartbeat=0.05, election_timeout_min=0.3, election_timeout_max=0.9,
                        connection_timeout=1.0, connection_retry=0.1, leader_fallback=2.0,
                        log_compaction_entries=100_000, log_compaction_bytes=100_000)
    packed = VersionedGroup(tmp_path / "packed", [COMPRESSED_VERSION] * 3, tuning).start_all()
    plain = VersionedGroup(tmp_path / "plain", [COMPRESSED_VERSION - 1] * 3, tuning).start_all()
    groups += [packed, plain]
    for i in range(8):
        assert (await put_many(packed, f"p{i}", 200))["ok"]
        assert (await put_many(plain, f"q{i}", 200))["ok"]
    await wait_until_async(
        lambda: all(n.status()["snapshots_written"] >= 1 for n in plain.nodes.values()),
        message="a snapshot of the plain log from the byte trigger on every peer")
    assert all(n.status()["snapshots_written"] == 0 for n in packed.nodes.values())
