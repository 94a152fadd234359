"""The scheduler drives a catch-up line (`catchup = "all"` under forbid): it keeps the line's
bound between ticks and fires the next missed slot when the previous run ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.scheduler import Harness, slot

EVERY_10S = "*/10 * * * * *"


@pytest.fixture
def h(tmp_path: Path):
    harness = Harness(tmp_path)
    yield harness
    harness.close()


def fired(proposals) -> list[tuple[str, str]]:
    return [(r["slot"], r["status"]) for p in proposals for r in p.records()]


async def test_scheduler_line_runs_missed_slots_one_after_another(h: Harness):
    h.put_job("a", EVERY_10S, catchup="all")  # forbid, the default
    h.advance(10)
    await h.scheduler.tick()
    h.finish(h.runs("a")[0]["id"])
    await h.scheduler.stop()
    h.advance(40)  # no leader: 20, 30, 40 and 50 are missed
    successor = h.new_scheduler()
    assert fired(await successor.tick()) == [(slot(20), "pending")]
    h.advance(1)
    assert fired(await successor.tick()) == []  # 20 still runs: 30 waits
    for expected in (30, 40, 50):
        h.finish(h.runs("a", "pending")[0]["id"])  # the end of the run releases the line
        assert fired(await successor.tick()) == [(slot(expected), "pending")]
    h.advance(10)  # 60 comes due while 50 still runs: skipped, as under forbid always
    assert fired(await successor.tick()) == [(slot(60), "skipped")]
    assert successor.table.entries["a"].catchup_until is None  # the line is over
    h.finish(h.runs("a", "pending")[0]["id"])
    h.advance(10)
    assert fired(await successor.tick()) == [(slot(70), "pending")]
    assert h.runs("a", "missed") == []
