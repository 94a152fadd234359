"""The clock guard's actions on a stand-in for pysyncobj: not firing, handing over, muting,
refusing candidacy, and trusting peers of an older release."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pytest

from raftcron.raft import clock_guard
from raftcron.raft.clock_guard import ClockGuard
from tests.support.wait import wait_until


@dataclass(frozen=True)
class Peer:
    id: str


@dataclass
class Transport:
    offsets: dict[str, float | None]
    clockless: set[str] = field(default_factory=set)
    mute_append_entries: bool = False
    clock_samples: int = 0

    def clock_offset(self, peer_id: str) -> float | None:
        return self.offsets.get(peer_id)

    def sends_no_clock(self, peer_id: str) -> bool:
        return peer_id in self.clockless


@dataclass
class Raft:
    wire: Transport
    leader: bool = True
    match: dict[str, int] = field(default_factory=dict)
    last: int = 10
    asked: list[str] = field(default_factory=list)
    refuse_candidacy: bool = False

    @property
    def otherNodes(self) -> list[Peer]:  # pysyncobj's names
        return [Peer(p) for p in sorted(self.wire.offsets)]

    def transport(self) -> Transport:
        return self.wire

    def _isLeader(self) -> bool:
        return self.leader

    def last_log_index(self) -> int:
        return self.last

    def isNodeConnected(self, node: Peer) -> bool:
        return True

    def match_index(self, node: Peer) -> int:
        return self.match.get(node.id, 0)

    def hand_over(self, node: Peer) -> None:
        self.asked.append(node.id)


@pytest.fixture(autouse=True)
def every_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock_guard, "CHECK_EVERY", 0.0)


def guard(raft: Raft, *, emax: float = 0.9) -> ClockGuard:
    return ClockGuard(raft, members=3, max_skew=1.0, election_timeout_min=0.0,
                      election_timeout_max=emax)


def test_outvoted_leader_stops_and_asks_an_agreeing_caught_up_peer(
        caplog: pytest.LogCaptureFixture) -> None:
    raft = Raft(Transport({"b": -30.0, "c": -30.0}), match={"b": 9, "c": 10})
    with caplog.at_level(logging.INFO, "raftcron.raft.clock_guard"):
        verdict = guard(raft).tick()
    assert not verdict.ok and verdict.outvoted
    assert raft.asked == ["c"]  # b lacks the last entry: pysyncobj would deny it
    assert raft.refuse_candidacy
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("not firing" in m and "+30.000s" in m for m in errors), errors
    assert any(m.startswith("handing over leadership") for m in errors), errors


def test_a_leader_nobody_takes_over_from_withholds_its_heartbeats() -> None:
    raft = Raft(Transport({"b": -30.0, "c": -30.0}))  # no follower has the whole log
    g = guard(raft, emax=0.01)
    g.tick()
    assert raft.asked == [] and not raft.wire.mute_append_entries
    wait_until(lambda: g.tick() and raft.wire.mute_append_entries, 5, "the heartbeats muted")
    raft.leader = False  # the followers elected one of themselves
    g.tick()
    assert not raft.wire.mute_append_entries
    assert raft.refuse_candidacy  # still outvoted: it stands in no election


def test_a_follower_with_the_majority_fires_and_stands() -> None:
    raft = Raft(Transport({"a": 30.0, "c": 0.001}), leader=False)
    verdict = guard(raft).tick()
    assert verdict.ok and not raft.refuse_candidacy and raft.asked == []


def test_unsure_peer_fires_nothing_but_stands_in_elections() -> None:
    raft = Raft(Transport({"b": -30.0, "c": None}))
    verdict = guard(raft).tick()
    assert not verdict.ok and not verdict.outvoted
    assert not raft.refuse_candidacy and raft.asked == []


def test_peers_of_an_older_release_count_as_agreeing() -> None:
    raft = Raft(Transport({"b": None, "c": None}, clockless={"b", "c"}))
    g = guard(raft)
    assert g.tick().ok
    assert g.offsets() == {"b": None, "c": None}  # and /status says they are not measured


def test_judge_now_sees_a_measurement_before_the_next_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    # What stamps a proposal reads `judge_now`: a write right after the last peer is measured
    # must get the majority's time even though the guard's own verdict is a tick old.
    monkeypatch.setattr(clock_guard, "CHECK_EVERY", 3600.0)
    wire = Transport({"b": -30.0, "c": None})
    g = guard(Raft(wire))
    assert g.tick().correction == 0.0  # no majority measured yet: this peer's own time
    wire.offsets["c"] = -30.2
    wire.clock_samples += 1
    assert g.verdict.correction == 0.0  # the verdict waits for the next check...
    fresh = g.judge_now()
    assert fresh.outvoted and fresh.correction == pytest.approx(30.1)  # ...this does not
    assert g.verdict.correction == 0.0  # and judging changes nothing
    wire.offsets["c"] = None  # no new sample: the same judgement, not judged again
    assert g.judge_now() is fresh
