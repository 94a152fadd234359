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
    # One peer of three, alone: no heartbeat moves its deadline, only the hold does (renewed
    # on every tick, `FAST.heartbeat` apart).
    node = group.start(group.ids[0])
    obj = node._raft
    obj.refuse_candidacy = True

    def held() -> float:
        return obj._SyncObj__raftElectionDeadline - raft_clock()  # type: ignore[attr-defined]

    # Right after a tick the deadline is a full max timeout away on pysyncobj's clock. Written
    # on time.monotonic() it fell short by that clock's distance from pysyncobj's (0.26 s on
    # a machine up 17 hours), and never got there.
    await wait_until_async(lambda: held() >= FAST.election_timeout_max - 0.03, timeout=10,
                           message="a deadline a full max timeout away", interval=0.005)
    assert held() <= FAST.election_timeout_max + 0.01
