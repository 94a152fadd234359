"""Placement follows membership changes: a removed peer gets no runs, an added one does."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.scheduler import A, B, C, Harness

EVERY_10S = "*/10 * * * * *"


@pytest.fixture
def h(tmp_path: Path):
    harness = Harness(tmp_path)
    yield harness
    harness.close()


async def test_scheduler_places_runs_on_the_current_members_only(h: Harness) -> None:
    # The scheduler was started with peers A, B, C; C has since been removed and D added.
    added = "127.0.0.1:7104"
    h.node.peers = [p for p in h.node.peers if p["id"] != C]
    h.node.peers.append({"id": added, "self": False, "reachable": True, "last_contact": 0.0})
    for i in range(9):
        h.put_job(f"j{i}", EVERY_10S)
    h.advance(10)
    await h.scheduler.tick()
    peers = sorted(r["peer"] for r in h.runs())
    assert set(peers) == {A, B, added}
    assert all(peers.count(p) == 3 for p in set(peers))
