"""The catch-up line: `catchup = "all"` under `forbid` or `queue` runs every missed slot, one
after another, oldest first (`planner.due_slots` with `catchup_until`, `schedpolicy.in_line`).

Same conventions as test_planner.py: a slot each minute from T0, named by its offset in
seconds; a plan reads as a list of (offset, status).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raftcron.planning.job_plan import JobPlan
from raftcron.planning.slots import SlotPlan, due_slots
from tests.support.schedules import T0, Every, at


def secs(t: Any) -> float | None:
    return None if t is None else (t - T0).total_seconds()


def plan(cursor: float | None, now: float, *, until: float | None = None,
         concurrency: str = "forbid", cap: int = 100, **kw: Any) -> SlotPlan:
    job_fields = {k: kw.pop(k) for k in list(kw) if k in JobPlan.__dataclass_fields__}
    job = JobPlan.of({"name": "j", "catchup": "all", "concurrency": concurrency, **job_fields})
    for name in ("created_at", "paused_until", "released_at"):
        if name in kw and kw[name] is not None:
            kw[name] = at(kw[name])
    return due_slots(job, kw.pop("schedule", None) or Every(60),
                     None if cursor is None else at(cursor), 0, at(now), cap,
                     catchup_until=None if until is None else at(until), **kw)


def table(p: SlotPlan) -> list[tuple[float, str]]:
    return [(secs(d.slot), d.status) for d in p.decisions]


@pytest.mark.parametrize("policy", ["forbid", "queue"])
def test_due_slots_line_starts_with_the_oldest_missed_slot_and_holds_the_next(policy):
    p = plan(0, 190, concurrency=policy)
    assert table(p) == [(60, "pending")]
    assert secs(p.held) == 120 and secs(p.catchup_until) == 190
    assert secs(p.next_fire) == 240


def test_due_slots_line_waits_while_its_run_is_active():
    p = plan(60, 200, until=190, active=["r1"])
    assert table(p) == [] and secs(p.held) == 120 and secs(p.catchup_until) == 190


def test_due_slots_line_runs_the_next_slot_when_the_run_ended():
    p = plan(60, 205, until=190)
    assert table(p) == [(120, "pending")]
    assert secs(p.held) == 180 and secs(p.catchup_until) == 190


def test_due_slots_line_last_slot_ends_it_and_what_came_due_meanwhile_is_skipped():
    # 240 and 300 came due while the line's runs went: under forbid they found a run going.
    p = plan(120, 310, until=190)
    assert table(p) == [(180, "pending"), (240, "skipped"), (300, "skipped")]
    assert p.decisions[1].reason == "previous run for slot 2024-01-01T00:03:00Z still running"
    assert p.held is None and p.catchup_until is None


def test_due_slots_line_last_slot_under_queue_keeps_the_newest_waiting():
    p = plan(120, 310, until=190, concurrency="queue", released_at=305)
    assert table(p) == [(180, "pending"), (240, "skipped")]
    assert "queue full" in p.decisions[1].reason
    assert secs(p.held) == 300 and p.catchup_until is None


def test_due_slots_line_is_over_once_its_backlog_has_run():
    # The last backlog slot (180) is running; what is due now is not caught up.
    busy = plan(180, 400, until=190, active=["r1"])
    assert [s for _, s in table(busy)] == ["skipped"] * 3 and busy.catchup_until is None
    free = plan(180, 400, until=190)
    assert table(free) == [(240, "pending"), (300, "skipped"), (360, "skipped")]
    assert free.held is None and free.catchup_until is None


def test_due_slots_line_starts_behind_an_active_run():
    # A new leader does not know the line; a run is still going: everything waits.
    p = plan(60, 200, active=["r1"])
    assert table(p) == [] and secs(p.held) == 120 and secs(p.catchup_until) == 200


def test_due_slots_line_keeps_the_newest_catchup_cap_slots():
    p = plan(0, 400, until=390, cap=2)
    assert table(p) == [(s, "missed") for s in (60, 120, 180, 240)] + [(300, "pending")]
    assert "catch-up cap of 2" in p.decisions[0].reason
    assert secs(p.held) == 360


def test_due_slots_line_drops_slots_that_fell_out_of_the_window():
    p = plan(0, 330, until=200, catchup_window="4m")
    assert table(p) == [(60, "missed"), (120, "pending")]
    assert "older than catchup_window 4m" in p.decisions[0].reason
    assert secs(p.held) == 180


def test_due_slots_line_is_not_used_by_allow_replace_or_other_catchups():
    assert [s for _, s in table(plan(0, 190, concurrency="allow"))] == ["pending"] * 3
    assert plan(0, 190, concurrency="allow").catchup_until is None
    latest = plan(0, 190, catchup="latest")
    assert table(latest) == [(60, "missed"), (120, "missed"), (180, "pending")]
    assert latest.catchup_until is None


def test_due_slots_line_on_time_slots_under_forbid_are_still_skipped():
    # No slot is late: nothing to catch up, forbid as always.
    p = plan(0, 61, active=["r1"])
    assert table(p) == [(60, "skipped")] and p.catchup_until is None


@pytest.mark.parametrize(("run_seconds", "policy"), [(10, "forbid"), (30, "forbid"),
                                                     (90, "forbid"), (30, "queue")])
def test_due_slots_line_simulated_runs_every_missed_slot_once_in_order(run_seconds, policy):
    """Drive the planner as the scheduler does: fire, wait for the run's end or the next slot,
    plan again. Ten missed slots all run, one at a time, oldest first; the line ends."""
    cursor, now, until = 0.0, 630.0, None
    active_until: float | None = None  # when the active run ends
    ran: list[float] = []
    records: dict[float, str] = {}
    for _ in range(200):
        busy = active_until is not None and active_until > now
        p = plan(cursor, now, until=until, concurrency=policy,
                 active=["r"] if busy else [],
                 released_at=(now if busy else active_until) if policy == "queue" else None)
        for d in p.decisions:
            s = secs(d.slot)
            assert s not in records and s > cursor
            records[s] = d.status
            if d.status == "pending":
                assert not busy and (not ran or s > ran[-1])
                ran.append(s)
                active_until, busy = now + run_seconds, True
        if p.decisions:
            cursor = secs(p.decisions[-1].slot)
        until = secs(p.catchup_until)
        wake = [secs(p.next_fire)]
        if active_until is not None and active_until > now:
            wake.append(active_until)
        now = min(wake)
        if now > 3000:
            break
    assert ran[:10] == [float(s) for s in range(60, 660, 60)]
    assert until is None  # the line ended
    assert all(records[s] in ("pending", "skipped") for s in records)
    if run_seconds < 60:
        assert records[max(records)] == "pending"  # back to normal: on-time slots run


@settings(max_examples=200, deadline=None)
@given(
    period=st.sampled_from([1, 7, 60]),
    cursor=st.integers(0, 600),
    ahead=st.floats(0, 3000, allow_nan=False),
    until_back=st.one_of(st.none(), st.floats(0, 3000, allow_nan=False)),
    policy=st.sampled_from(["forbid", "queue"]),
    busy=st.booleans(),
    cap=st.integers(1, 5),
)
def test_due_slots_line_property_records_are_fenceable_and_the_line_ends(
        period, cursor, ahead, until_back, policy, busy, cap):
    now = cursor + ahead
    until = None if until_back is None else now - until_back
    p = plan(cursor, now, until=until, concurrency=policy, cap=cap,
             schedule=Every(period), active=["r"] if busy else [],
             released_at=(now if busy else None) if policy == "queue" else None)
    slots = [d.slot for d in p.decisions]
    assert slots == sorted(set(slots))
    assert all(d.slot > at(cursor) and d.fire_at <= at(now) for d in p.decisions)
    assert len(p.pending) <= (0 if busy else 1)  # one at a time, never beside a run
    if p.held is not None:
        assert all(d.slot < p.held for d in p.decisions)
    if p.catchup_until is not None:
        # A line goes on only while something of its backlog waits.
        assert p.held is not None and p.held <= p.catchup_until
