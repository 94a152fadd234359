"""When a follower's raft thread wakes for its election deadline, and on which clock.

A follower used to notice its deadline only at its next tick (a heartbeat period later at
worst), and two followers woken by the same event stood in the same term and split the vote.
pysyncobj keeps its deadlines on its own clock (CLOCK_MONOTONIC_RAW), which parts from
`time.monotonic()` by NTP's slewing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from raftcron.raft.syncobj import LEADER_STATE, RaftObj, raft_clock
from tests.support.wait import wait_until_async
from tests.unit.raft.test_node import FAST, Group

FOLLOWER, CANDIDATE = 0, 1


def raft(state: int, deadline: float) -> SimpleNamespace:
    return SimpleNamespace(_SyncObj__raftState=state, _SyncObj__raftElectionDeadline=deadline)


@pytest.mark.parametrize(("state", "deadline_in", "sleeps"), [
    (FOLLOWER, 0.05, 0.05),     # due within the period: wake exactly then
    (CANDIDATE, 0.12, 0.12),    # a candidate's next round too
    (FOLLOWER, 0.5, 0.2),       # due later: the period paces the other timers
    (FOLLOWER, 0.2, 0.2),
    (FOLLOWER, -0.3, 0.2),      # overdue means connected to nobody: nothing to wake for
    (FOLLOWER, 0.0, 0.2),
    (LEADER_STATE, 0.05, 0.2),  # a leader has no election deadline
])
def test_a_tick_sleeps_no_longer_than_the_election_deadline(
        state: int, deadline_in: float, sleeps: float) -> None:
    now = 1000.0
    got = RaftObj.wake_within(raft(state, now + deadline_in), 0.2, now)  # type: ignore[arg-type]
    assert got == pytest.approx(sleeps)


@pytest.fixture
async def group(tmp_path: Path) -> AsyncIterator[Group]:
    g = Group(tmp_path / "g", 3, FAST)
    yield g
    g.close()
    assert not g.fatal, g.fatal


async def test_a_refused_candidacy_holds_a_full_max_timeout_on_pysyncobjs_clock(
        group: Group) -> None:
    group.start_all()
    leader = await group.leader()
    follower = next(n for n in group.nodes.values() if n is not leader)
    obj = follower._raft
    obj.refuse_candidacy = True
    before = raft_clock()
    # The hold is renewed on every tick; wait for one after `before`.
    tick = follower._last_tick
    await wait_until_async(lambda: follower._last_tick > tick, message="a tick")
    held = obj._SyncObj__raftElectionDeadline - before  # type: ignore[attr-defined]
    # Written on time.monotonic() it was off by that clock's distance from pysyncobj's.
    assert FAST.election_timeout_max - 0.05 <= held <= FAST.election_timeout_max + 1.0
