"""Table tests of `planner.due_slots`: bounds, catch-up, windows, caps, concurrency, max_runs.

Every case runs on a fake schedule with a slot each minute from T0 (`Every(60)`), so a slot is
named by its offset in seconds and a plan reads as a list of (offset, status).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raftcron.planning.job_plan import JobPlan
from raftcron.planning.slots import PAUSED_REASON, SlotPlan, due_slots, first_fire
from tests.support.schedules import T0, Every, Once, at, fixed_jitter


def secs(t: Any) -> float | None:
    return None if t is None else (t - T0).total_seconds()


def plan(cursor: float | None, now: float, *, fired: int = 0, schedule: Any = None,
         cap: int = 100, **kw: Any) -> SlotPlan:
    job_fields = {k: kw.pop(k) for k in list(kw) if k in JobPlan.__dataclass_fields__}
    job = JobPlan.of({"name": "j", **job_fields})
    for name in ("created_at", "paused_until", "released_at"):
        if name in kw and kw[name] is not None:
            kw[name] = at(kw[name])
    return due_slots(job, schedule or Every(60), None if cursor is None else at(cursor),
                     fired, at(now), cap, **kw)


def table(p: SlotPlan) -> list[tuple[float, str]]:
    return [(secs(d.slot), d.status) for d in p.decisions]


# --- the ordinary case and its bounds ---------------------------------------------------------

@pytest.mark.parametrize(("cursor", "now", "created", "expected", "next_fire"), [
    (0, 59, None, [], 60),                             # nothing due yet
    (0, 60, None, [(60, "pending")], 120),             # due exactly at its time
    (0, 61, None, [(60, "pending")], 120),             # a second late is on time
    (60, 61, None, [], 120),                           # the cursor's slot never again
    (None, 61, 30, [(60, "pending")], 120),            # never fired: after its creation
    (None, 61, 60, [], 120),                           # created at a slot: strictly after
    (None, 61, None, [], 120),                         # creation unknown: from now on only
])
def test_due_slots_on_time_slot_runs_once(cursor, now, created, expected, next_fire):
    p = plan(cursor, now, created_at=created)
    assert table(p) == expected
    assert secs(p.next_fire) == next_fire
    assert not p.finish and p.held is None and p.cancel == ()


def test_due_slots_start_at_is_inclusive_and_earlier_slots_get_no_record():
    p = plan(None, 125, created_at=0, start_at=(at(120)).isoformat())
    assert table(p) == [(120, "pending")]


def test_due_slots_start_at_in_the_future_waits():
    p = plan(None, 30, created_at=0, start_at=at(300).isoformat())
    assert table(p) == [] and secs(p.next_fire) == 300


@pytest.mark.parametrize(("cursor", "now", "end", "expected", "finish"), [
    (60, 200, 90, [], True),                            # past end_at: finish, no record
    (60, 121, 120, [(120, "pending")], True),           # the last slot runs and finishes
    (60, 121, 150, [(120, "pending")], True),           # 180 is past end_at: 120 is the last
    (60, 119, 150, [], False),
])
def test_due_slots_end_at_finishes(cursor, now, end, expected, finish):
    p = plan(cursor, now, end_at=at(end).isoformat())
    assert table(p) == expected
    assert p.finish is finish
    if finish:
        assert p.next_fire is None


def test_due_slots_end_at_with_a_future_slot_left_keeps_the_job():
    p = plan(60, 121, end_at=at(180).isoformat())
    assert table(p) == [(120, "pending")] and not p.finish and secs(p.next_fire) == 180


def test_due_slots_one_shot_fires_then_finishes():
    p = plan(None, 61, created_at=0, schedule=Once(at(60)))
    assert table(p) == [(60, "pending")] and p.finish


def test_due_slots_one_shot_already_fired_finishes_without_record():
    p = plan(60, 500, schedule=Once(at(60)))
    assert table(p) == [] and p.finish


@pytest.mark.parametrize(("fired", "max_runs", "expected", "finish"), [
    (0, 3, [(60, "pending")], False),
    (2, 3, [(60, "pending")], True),                    # the last repeat finishes the job
    (3, 3, [], True),                                   # nothing left: finish, no record
    (5, 3, [], True),
])
def test_due_slots_max_runs_counts_pending_fires(fired, max_runs, expected, finish):
    p = plan(0, 61, fired=fired, max_runs=max_runs)
    assert table(p) == expected and p.finish is finish


def test_due_slots_max_runs_cuts_a_catch_up_and_drops_later_records():
    # catchup=all, allow: five late slots, two repeats left -> the first two that run, then
    # finish; the slots after the last repeat get no record at all.
    p = plan(0, 330, fired=1, max_runs=3, catchup="all", concurrency="allow")
    assert table(p) == [(60, "pending"), (120, "pending")]
    assert p.finish and p.next_fire is None


def test_due_slots_skipped_records_do_not_count_toward_max_runs():
    # forbid with an active run, the slots on time (a long grace): every slot skipped, none
    # counts, the job goes on.
    p = plan(0, 330, fired=2, max_runs=3, catchup="all", active=["r1"],
             grace=timedelta(seconds=400))
    assert [s for _, s in table(p)] == ["skipped"] * 5 and not p.finish


# --- catch-up ---------------------------------------------------------------------------------

# cursor 0; slots 60..600 are due. At now=601 the newest (600) is on time, at 630 all are late.
CATCH_UP = [
    ("latest", 601, [(s, "missed") for s in range(60, 600, 60)] + [(600, "pending")]),
    ("latest", 630, [(s, "missed") for s in range(60, 600, 60)] + [(600, "pending")]),
    ("all", 601, [(s, "pending") for s in range(60, 660, 60)]),
    ("all", 630, [(s, "pending") for s in range(60, 660, 60)]),
    ("none", 601, [(s, "missed") for s in range(60, 600, 60)] + [(600, "pending")]),
    ("none", 630, [(s, "missed") for s in range(60, 660, 60)]),
]


@pytest.mark.parametrize(("policy", "now", "expected"), CATCH_UP)
def test_due_slots_catch_up_policies(policy, now, expected):
    p = plan(0, now, catchup=policy, concurrency="allow")
    assert table(p) == expected
    assert secs(p.next_fire) == 660


def test_due_slots_catch_up_reasons_say_why():
    latest = plan(0, 630, catchup="latest")
    assert "superseded by slot 2024-01-01T00:10:00Z" in latest.decisions[0].reason
    none = plan(0, 630, catchup="none")
    assert all("catchup=none" in d.reason for d in none.decisions)


def test_due_slots_slots_within_grace_all_run_whatever_the_policy():
    # Every 1s, the loop woke 3s late: four slots due, all within the 5s grace: none missed.
    p = plan(0, 4, schedule=Every(1), catchup="none", concurrency="allow")
    assert table(p) == [(1, "pending"), (2, "pending"), (3, "pending"), (4, "pending")]


def test_due_slots_latest_with_on_time_slots_runs_only_those():
    p = plan(0, 4, schedule=Every(1), catchup="latest", concurrency="allow",
             grace=timedelta(seconds=1.5))
    assert table(p) == [(1, "missed"), (2, "missed"), (3, "pending"), (4, "pending")]


@pytest.mark.parametrize(("cap", "missed", "pending"), [(100, 0, 10), (3, 7, 3), (1, 9, 1)])
def test_due_slots_catch_up_all_is_capped_keeping_the_newest(cap, missed, pending):
    p = plan(0, 630, catchup="all", concurrency="allow", cap=cap)
    statuses = [s for _, s in table(p)]
    assert statuses == ["missed"] * missed + ["pending"] * pending
    if missed:
        assert f"catch-up cap of {cap}" in p.decisions[0].reason


def test_due_slots_window_bounds_every_policy():
    # cursor 0, now one hour later (+1s), window 5m: 55 slots are older than the window
    # (one summary record), 4 in the window are superseded, the newest runs.
    p = plan(0, 3601, catchup_window="5m")
    assert table(p) == [(3540, "missed"), (3600, "pending")]
    reason = p.decisions[0].reason
    assert "59 slots from 2024-01-01T00:01:00Z to 2024-01-01T00:59:00Z missed" in reason
    assert "55 older than catchup_window 5m" in reason
    assert "4 not run under catchup=latest" in reason


def test_due_slots_window_all_runs_only_the_slots_inside_it():
    p = plan(0, 900, catchup="all", concurrency="allow", catchup_window="2m")
    # 60..900: lateness <= 120s -> 780, 840, 900 run; 60..720 (12 slots) are old.
    assert table(p)[-3:] == [(780, "pending"), (840, "pending"), (900, "pending")]
    assert [s for _, s in table(p)[:-3]] == ["missed"] * 12
    assert "older than catchup_window 2m" in p.decisions[0].reason


def test_due_slots_few_missed_slots_each_get_a_record():
    p = plan(0, 3601, catchup_window="5m", record_cap=100)
    assert len(p.decisions) == 60
    assert [s for _, s in table(p)] == ["missed"] * 59 + ["pending"]
    assert "older than catchup_window 5m" in p.decisions[0].reason


def test_due_slots_weeks_down_are_summarized_with_bounded_work():
    sched = Every(1)
    two_weeks = 14 * 86400
    p = plan(0, two_weeks + 0.5, schedule=sched, scan_cap=1000, grace=timedelta(seconds=0.5))
    assert table(p) == [(two_weeks - 1, "missed"), (two_weeks, "pending")]
    assert "at least 1000 older than catchup_window 1h" in p.decisions[0].reason
    # It counted up to the cap, then jumped to the window: not 1.2 million slots.
    assert sched.produced < 1000 + 3600 + 10


def test_due_slots_a_huge_window_considers_only_the_newest_due_slots():
    sched = Every(1)
    p = plan(0, 20000.5, schedule=sched, catchup="all", concurrency="allow", cap=3,
             catchup_window="1d", scan_cap=100, grace=timedelta(seconds=0.5))
    # cap 3 late slots plus the one on time run; of the 100 considered, 96 are missed, and
    # the 19900 older ones were counted without being kept.
    assert [s for _, s in table(p)] == ["missed"] + ["pending"] * 4
    assert table(p)[0] == (19996, "missed")
    reason = p.decisions[0].reason
    assert reason.startswith("19996 slots from 2024-01-01T00:00:01Z to 2024-01-01T05:33:16Z")
    assert "19900 more than one plan considers" in reason and "96 not run" in reason


def test_due_slots_summary_slot_is_after_the_cursor_and_before_the_run():
    p = plan(0, 14 * 86400 + 0.5, schedule=Every(1), scan_cap=50)
    slots = [d.slot for d in p.decisions]
    assert slots == sorted(slots) and len(set(slots)) == len(slots) and slots[0] > T0


# --- pause and queue lateness -----------------------------------------------------------------

def test_due_slots_slots_due_while_paused_are_skipped():
    p = plan(0, 301, paused_until=305.5)
    assert table(p) == [(s, "skipped") for s in range(60, 360, 60)]
    assert all(d.reason == PAUSED_REASON for d in p.decisions)
    assert secs(p.next_fire) == 360


def test_due_slots_slot_due_just_before_an_edit_still_runs():
    # The job was edited 0.3s after its slot, before the leader's tick fired it.
    p = plan(0, 60.5, paused_until=60.3)
    assert table(p) == [(60, "pending")]


def test_due_slots_a_long_pause_is_one_summary():
    p = plan(0, 86400 + 30, paused_until=86400 + 10.5, schedule=Every(1), scan_cap=500,
             grace=timedelta(seconds=0.5))
    assert next(s for _, s in table(p)) == "skipped"
    assert "at least 500 slots" in p.decisions[0].reason
    assert table(p)[-1] == (86400 + 30, "pending")
    # between the end of the pause and now, slots are on time or caught up by policy
    assert all(s in ("skipped", "missed", "pending") for _, s in table(p))


def test_due_slots_queue_judges_lateness_from_the_previous_run_end():
    # The 180 slot waited for a run that ended at 200: at 201 it is on time, even with none.
    p = plan(120, 201, concurrency="queue", catchup="none", released_at=200)
    assert table(p) == [(180, "pending")]
    late = plan(120, 201, concurrency="forbid", catchup="none", released_at=200)
    assert table(late) == [(180, "missed")]


# --- concurrency ------------------------------------------------------------------------------

@pytest.mark.parametrize(("policy", "active", "expected", "cancel", "held"), [
    ("forbid", [], [(60, "pending")], (), None),
    ("forbid", ["r1"], [(60, "skipped")], (), None),
    ("allow", ["r1"], [(60, "pending")], (), None),
    ("replace", ["r1", "r2"], [(60, "pending")], ("r1", "r2"), None),
    ("replace", [], [(60, "pending")], (), None),
    ("queue", [], [(60, "pending")], (), None),
    ("queue", ["r1"], [], (), 60),
])
def test_due_slots_concurrency_against_active_runs(policy, active, expected, cancel, held):
    p = plan(0, 61, concurrency=policy, active=active)
    assert table(p) == expected
    assert p.cancel == cancel
    assert secs(p.held) == held
    assert secs(p.next_fire) == 120  # a held slot is looked at again at the next slot


def test_due_slots_forbid_names_the_running_run():
    p = plan(0, 61, active=["r0", "r1"])
    assert p.decisions[0].reason == "previous run r1 still running"


# forbid and queue under catchup=all form a line (one slot at a time): test_planner_line.py
@pytest.mark.parametrize(("policy", "expected", "held"), [
    ("allow", ["pending"] * 3, None),
    ("forbid", ["pending"], 120),
    ("replace", ["skipped", "skipped", "pending"], None),
    ("queue", ["pending"], 120),
])
def test_due_slots_concurrency_within_one_catch_up(policy, expected, held):
    p = plan(0, 190, catchup="all", concurrency=policy)
    assert [s for _, s in table(p)] == expected
    assert secs(p.held) == held


def test_due_slots_in_plan_overlap_reasons_name_the_slot():
    forbid = plan(0, 190, catchup="latest", grace=timedelta(seconds=200))  # all on time
    assert forbid.decisions[1].reason == "previous run for slot 2024-01-01T00:01:00Z still running"
    replace = plan(0, 190, catchup="all", concurrency="replace")
    assert "replaced by slot 2024-01-01T00:03:00Z" in replace.decisions[0].reason


def test_due_slots_queue_keeps_one_waiting_and_skips_the_rest():
    # While a run is active the scheduler passes released_at = now: waiting slots are not late.
    p = plan(0, 190, catchup="all", concurrency="queue", active=["r1"], released_at=190)
    assert table(p) == [(60, "skipped"), (120, "skipped")]
    assert secs(p.held) == 180
    assert all("queue full" in d.reason and "run r1" in d.reason for d in p.decisions)


def test_due_slots_queue_release_runs_the_newest_waiting_slot():
    # The run ended at 200; 60..180 all came due during it: one was waiting (180), the
    # others found the queue full.
    p = plan(0, 201, concurrency="queue", released_at=200, catchup="all")
    assert table(p) == [(60, "skipped"), (120, "skipped"), (180, "pending")]
    assert all(d.reason == "queue full: slot 2024-01-01T00:03:00Z was waiting"
               for d in p.decisions[:2])


def test_due_slots_queue_held_slot_is_not_finished_by_end_at():
    p = plan(0, 61, concurrency="queue", active=["r1"], end_at=at(60).isoformat())
    assert p.held is not None and not p.finish


# --- jitter -----------------------------------------------------------------------------------

def test_due_slots_jitter_delays_the_fire_but_not_the_slot():
    jit = fixed_jitter(10)
    assert table(plan(0, 65, jitter="30s", jitter_fn=jit)) == []
    p = plan(0, 71, jitter="30s", jitter_fn=jit)
    assert table(p) == [(60, "pending")]
    assert secs(p.decisions[0].fire_at) == 70
    assert secs(p.next_fire) == 130
    job, slot, max_jitter, nxt = jit.calls[0]
    assert (job, secs(slot), max_jitter, secs(nxt)) == ("j", 60, timedelta(seconds=30), 120)


def test_due_slots_without_jitter_never_calls_the_jitter_function():
    jit = fixed_jitter(10)
    plan(0, 601, jitter_fn=jit)
    assert jit.calls == []


def test_first_fire_is_the_next_slot_plus_jitter_or_none():
    job = JobPlan.of({"name": "j", "jitter": "30s"})
    assert secs(first_fire(job, Every(60), at(0), None, at(5), fixed_jitter(7))) == 67
    ended = JobPlan.of({"name": "j", "end_at": at(30).isoformat()})
    assert first_fire(ended, Every(60), at(0), None, at(5)) is None
    assert secs(first_fire(JobPlan(name="j"), Every(60), None, None, at(65))) == 120


# --- invariants -------------------------------------------------------------------------------

@pytest.mark.parametrize("policy", ["latest", "all", "none"])
@pytest.mark.parametrize("concurrency", ["allow", "forbid", "replace", "queue"])
@pytest.mark.parametrize("now", [59, 61, 200, 3700, 90000])
def test_due_slots_records_are_ordered_after_the_cursor_and_due(policy, concurrency, now):
    p = plan(0, now, catchup=policy, concurrency=concurrency, active=["r1"], record_cap=5,
             scan_cap=200)
    slots = [d.slot for d in p.decisions]
    assert slots == sorted(slots) and len(set(slots)) == len(slots)
    assert all(d.slot > T0 and d.fire_at <= at(now) for d in p.decisions)
    assert all(d.reason for d in p.decisions if d.status != "pending")
    if p.held is not None:
        assert all(d.slot < p.held for d in p.decisions)


@settings(max_examples=200, deadline=None)
@given(
    period=st.sampled_from([1, 7, 60, 3600]),
    cursor=st.one_of(st.none(), st.integers(0, 5000)),
    ahead=st.floats(0, 20_000, allow_nan=False),
    policy=st.sampled_from(["latest", "all", "none"]),
    concurrency=st.sampled_from(["allow", "forbid", "replace", "queue"]),
    active=st.lists(st.sampled_from(["r1", "r2"]), max_size=2, unique=True),
    max_runs=st.one_of(st.none(), st.integers(1, 5)),
    fired=st.integers(0, 5),
    window=st.sampled_from(["1m", "1h", "1d"]),
)
def test_due_slots_property_records_are_fenceable(period, cursor, ahead, policy, concurrency,
                                                  active, max_runs, fired, window):
    base = 0 if cursor is None else cursor
    now = base + ahead
    p = plan(cursor, now, created_at=0, schedule=Every(period), catchup=policy,
             concurrency=concurrency, active=active, max_runs=max_runs, fired=fired,
             catchup_window=window, cap=10, scan_cap=300, record_cap=20)
    slots = [d.slot for d in p.decisions]
    # The fence accepts them all in one command: strictly increasing, after the cursor, due.
    assert slots == sorted(set(slots))
    assert all(d.slot > at(base) and d.fire_at <= at(now) for d in p.decisions)
    assert all(d.reason for d in p.decisions if d.status != "pending")
    # Bounded: records per plan never grow with the length of the outage.
    assert len(p.decisions) <= 20 + 20 + 10 + 2
    pending = len(p.pending)
    if max_runs is not None:
        assert fired + pending <= max(max_runs, fired)
        if fired + pending >= max_runs:
            assert p.finish
    if concurrency == "forbid" and active:
        assert pending == 0
    if p.finish:
        assert p.next_fire is None and p.held is None
    else:
        assert p.next_fire is not None and p.next_fire > at(now)
