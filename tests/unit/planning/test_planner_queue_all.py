"""Table tests of `concurrency = "queue_all"` through `due_slots`: every overlapping slot waits
(no record), they run one at a time oldest first, and beyond `queue_cap` the oldest waiting
slots are recorded `skipped`. Slots every minute from T0, named by their offset in seconds."""

from __future__ import annotations

from typing import Any

import pytest

from raftcron.planning.job_plan import JobPlan
from raftcron.planning.slots import SlotPlan, due_slots
from tests.support.schedules import T0, Every, at


def secs(t: Any) -> float | None:
    return None if t is None else (t - T0).total_seconds()


def plan(cursor: float, now: float, *, active: tuple[str, ...] = (),
         released: float | None = None, cap: int = 10, **job: Any) -> SlotPlan:
    spec = JobPlan.of({"name": "j", "concurrency": "queue_all", "queue_cap": cap, **job})
    return due_slots(spec, Every(60), at(cursor), 0, at(now), active=active,
                     released_at=at(now if active else released) if (
                         active or released is not None) else None)


def table(p: SlotPlan) -> list[tuple[float, str]]:
    return [(secs(d.slot), d.status) for d in p.decisions]


@pytest.mark.parametrize(("cursor", "now", "active", "released", "cap", "records", "held"), [
    (0, 61, (), None, 10, [(60, "pending")], None),                   # nothing overlaps
    (60, 121, ("r1",), None, 10, [], 120),                            # busy: it waits
    (60, 241, ("r1",), None, 10, [], 240),                            # three wait, no record
    (60, 241, (), 240, 10, [(120, "pending")], 240),                  # ended: the oldest runs
    (120, 241, (), 240.5, 10, [(180, "pending")], 240),               # then the next
    (180, 241, (), 241, 10, [(240, "pending")], None),                # the last one
    (60, 361, (), 360, 2, [(120, "pending"), (180, "skipped"), (240, "skipped")], 360),
    (60, 361, ("r1",), None, 2, [(120, "skipped"), (180, "skipped"), (240, "skipped")], 360),
])
def test_queue_all_waits_in_order_up_to_the_cap(cursor, now, active, released, cap, records,
                                                held):
    p = plan(cursor, now, active=active, released=released, cap=cap)
    assert table(p) == records
    assert secs(p.held) == held
    assert p.cancel == ()


def test_queue_all_overflow_reason_names_the_cap_and_the_next_slot():
    p = plan(60, 361, released=360, cap=2)
    reasons = {d.reason for d in p.decisions if d.status == "skipped"}
    assert reasons == {"queue full: 2 later slots are waiting (queue_cap, "
                       "concurrency=queue_all); next to run is slot 2024-01-01T00:05:00Z"}


def test_queue_all_waiting_slots_are_late_only_from_the_release():
    # Slots 120-240 waited 10 minutes for a long run: released just now, they are on time and
    # run in turn even under catchup = "none" ...
    p = plan(60, 841, released=840, catchup="none")
    assert table(p)[0] == (120, "pending")
    # ... but a slot that waited longer than catchup_window is `missed`.
    p = plan(60, 841, released=840, catchup_window="5m")
    assert [s for s, st in table(p) if st == "missed"] == [120, 180, 240, 300, 360, 420, 480, 540]


def test_queue_all_records_stay_in_slot_order_for_the_fence():
    p = plan(60, 961, released=960, cap=3)
    slots = [secs(d.slot) for d in p.decisions]
    assert slots == sorted(slots) and len(set(slots)) == len(slots)
    assert all(s < secs(p.held) for s in slots)
