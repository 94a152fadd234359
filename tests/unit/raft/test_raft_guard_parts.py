"""The pure parts behind issue 12's fixes: the leader lease arithmetic, reachability, the
keepalive interval, the watchdog's checking (its exit is tested on a real peer in
test_cluster_raft_guard.py) and its report of a blocked event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from raftcron.config.tuning import RaftTuning
from raftcron.raft.liveness import heard_within, majority_heard
from raftcron.watchdog import LoopHeartbeat, Watchdog
from tests.support.wait import wait_until_async


def test_heard_within_needs_a_recent_contact() -> None:
    assert heard_within(9.5, now=10.0, bound=1.0)
    assert not heard_within(8.5, now=10.0, bound=1.0)
    assert not heard_within(None, now=10.0, bound=1.0)


@pytest.mark.parametrize(("contacts", "members", "held"), [
    ([], 1, True),                      # a single peer is its own majority
    ([9.9, None], 3, True),             # itself and one follower of three
    ([5.0, None], 3, False),            # both followers silent
    ([9.9, 5.0, None, None], 5, False),  # two of five
    ([9.9, 9.8, None, None], 5, True),   # three of five
    ([9.9], 2, True),                   # two of two
    ([None], 2, False),                 # one of two is no majority
])
def test_majority_heard_counts_this_peer_and_recent_others(
        contacts: list[float | None], members: int, held: bool) -> None:
    assert majority_heard(contacts, members, now=10.0, bound=1.0) is held


def test_keepalive_is_frequent_enough_for_reachability() -> None:
    for tuning in (RaftTuning(), RaftTuning(election_timeout_min=0.3, election_timeout_max=0.9,
                                            heartbeat=0.05, connection_timeout=10.0)):
        # A live peer sends something at least twice per election_timeout_min, so one that
        # said nothing for election_timeout_max is not merely idle.
        assert tuning.keepalive_interval <= tuning.election_timeout_min / 2
        assert tuning.keepalive_interval < tuning.connection_timeout


def test_watchdog_reports_the_first_failing_probe_and_skips_broken_ones() -> None:
    dog = Watchdog(on_dead=lambda name, why: None)
    dog.watch("fine", lambda: None)

    def broken() -> str | None:
        raise RuntimeError("probe bug")
    dog.watch("broken", broken)
    assert dog.check() is None
    dog.watch("raft", lambda: "the raft thread has stopped")
    assert dog.check() == ("raft", "the raft thread has stopped")


def test_watchdog_thread_calls_on_dead_once_and_stop_silences_it() -> None:
    seen: list[tuple[str, str]] = []
    fired = threading.Event()

    def on_dead(name: str, why: str) -> None:
        seen.append((name, why))
        fired.set()
    problem: list[str] = []
    dog = Watchdog(interval=0.01, on_dead=on_dead)
    dog.watch("worker", lambda: problem[0] if problem else None)
    dog.start()
    problem.append("gone")
    assert fired.wait(5)
    dog.stop()
    assert seen == [("worker", "gone")]

    seen.clear()
    fired.clear()
    quiet = Watchdog(interval=0.01, on_dead=on_dead)
    quiet.watch("worker", lambda: "gone")
    quiet.stop()  # a stopped watchdog (a clean shutdown under way) reports nothing
    quiet.start()
    assert not fired.wait(0.2)
    assert seen == []
    quiet.stop()


def block_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # the fault under test: a callback that holds the loop


async def test_a_blocked_loop_is_logged_with_where_and_how_long(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="raftcron.watchdog")
    died: list[tuple[str, str]] = []
    beat = LoopHeartbeat(asyncio.get_running_loop(), interval=0.02, warn=0.2, log_every=0)
    heard: list[float] = []
    beat.on_stall = heard.append
    beat.start()
    dog = Watchdog(interval=0.01, on_dead=lambda name, why: died.append((name, why)))
    dog.watch("event loop", beat.problem)
    dog.start()
    try:
        await asyncio.sleep(0.1)  # a few beats on time: nothing to say
        assert beat.stalls == 0 and not caplog.records
        block_the_loop(0.6)
        await wait_until_async(lambda: beat.stalls == 1, message="the stall counted")
        messages = [r.getMessage() for r in caplog.records]
        assert any("has been blocked" in m and "block_the_loop" in m for m in messages), messages
        lengths = [float(m.split("for ")[1].rstrip("s")) for m in messages
                   if m.startswith("the event loop was blocked for")]
        assert len(lengths) == 1 and 0.5 <= lengths[0] < 5, messages
        assert heard == [pytest.approx(lengths[0], abs=0.01)]  # what the metrics hear
        assert died == []  # a stall is not a death
    finally:
        dog.stop()
        beat.stop()
