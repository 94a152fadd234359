"""Table tests of `planning.blackouts`: which instants a window covers, where it ends, and
what becomes of a job's slots around it (held while it lasts, caught up after it under the
job's catch-up policy, the rest `skipped` with `blackout NAME`).

T0 (2024-01-01T00:00Z) is a Monday; the window `* 0 * * mon` covers 00:00:00-00:59:59.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from raftcron.planning.blackouts import hold, job_windows, relabel, window, window_end
from raftcron.planning.job_plan import JobPlan
from raftcron.planning.slots import SlotPlan, due_slots
from tests.support.schedules import T0, Every, at

NIGHT = window("monday-night", "* 0 * * mon")


def secs(t: Any) -> float | None:
    return None if t is None else (t - T0).total_seconds()


@pytest.mark.parametrize(("expr", "tz", "t", "covered", "end"), [
    ("* 0 * * mon", "UTC", 0, True, 3600),
    ("* 0 * * mon", "UTC", 3599.9, True, 3600),
    ("* 0 * * mon", "UTC", 3600, False, 3600),
    ("* 0 * * mon", "UTC", -1, False, -1),                 # Sunday 23:59:59
    ("* 0-6 * * sat,sun", "UTC", 0, False, 0),             # Monday is not a weekend
    ("* 0-6 * * sat,sun", "UTC", -3600, False, -3600),     # Sunday 23:00
    ("* 0-6 * * sat,sun", "UTC", -86400 + 60, True, -86400 + 7 * 3600),  # Sunday 00:01
    ("* 1 * * mon", "Europe/Berlin", 0, True, 3600),       # 01:00 in Berlin is 00:00Z
    ("0-29 * * * * *", "UTC", 10.5, True, 30),             # six fields: to the second
    ("@hourly", "UTC", 30, True, 60),                      # a macro: one minute
])
def test_blackout_window_covers_and_ends(expr, tz, t, covered, end):
    w = window("w", expr, tz)
    assert w.covers(at(t)) is covered
    assert secs(w.end_after(at(t))) == end


def test_blackout_windows_that_touch_end_together():
    later = window("later", "* 1 * * mon")
    assert secs(window_end([NIGHT, later], at(10))) == 7200
    assert secs(window_end([later, NIGHT], at(10))) == 7200
    assert secs(window_end([later], at(10))) == 10


def test_blackout_hold_plans_nothing_and_wakes_at_the_end():
    assert hold([NIGHT], at(3600)) is None
    assert hold([], at(10)) is None
    held = hold([NIGHT], at(10), held=at(5), catchup_until=at(7))
    assert held is not None and held.decisions == () and secs(held.next_fire) == 3600
    assert secs(held.held) == 5 and secs(held.catchup_until) == 7


def plan_at(now: float, windows: list, **job: Any) -> SlotPlan:
    """Plan a job on a 7-minute grid (slots 420..3360 fall in the window; 3780 after it),
    created at T0, the way the leader does: held during a window, relabelled after it."""
    plan = JobPlan.of({"name": "j", **job})
    held = hold(windows, at(now))
    if held is not None:
        return held
    return relabel(due_slots(plan, Every(420), None, 0, at(now), created_at=T0), windows)


def table(p: SlotPlan) -> list[tuple[float, str, str | None]]:
    return [(secs(d.slot), d.status, d.reason) for d in p.decisions]


INSIDE = [420 * k for k in range(1, 9)]  # 00:07 .. 00:56
BLACKOUT = "blackout monday-night"


@pytest.mark.parametrize(("job", "expected"), [
    # latest (the default): the newest slot of the window runs once it ends.
    ({}, [(s, "skipped", BLACKOUT) for s in INSIDE[:-1]] + [(3360, "pending", None)]),
    ({"catchup": "none"}, [(s, "skipped", BLACKOUT) for s in INSIDE]),
    ({"catchup": "all", "concurrency": "allow"}, [(s, "pending", None) for s in INSIDE]),
    # A window longer than catchup_window: the oldest are beyond it, still `blackout`.
    ({"catchup": "all", "concurrency": "allow", "catchup_window": "30m"},
     [(s, "skipped", BLACKOUT) for s in INSIDE[:4]]
     + [(s, "pending", None) for s in INSIDE[4:]]),
])
def test_blackout_catch_up_after_the_window_follows_the_policy(job, expected):
    assert [table(plan_at(t, [NIGHT], **job)) for t in (420, 3000, 3599)] == [[], [], []]
    after = plan_at(3600, [NIGHT], **job)
    assert table(after) == expected
    assert secs(after.next_fire) == 3780


def test_blackout_slot_due_right_at_the_end_supersedes_the_window():
    # An hourly window and a 10-minute job: 01:00 is on time, so `latest` runs it alone.
    p = relabel(due_slots(JobPlan.of({"name": "j"}), Every(600), None, 0, at(3601),
                          created_at=T0), [NIGHT])
    assert [(s, st) for s, st, _ in table(p)] == [(600 * k, "skipped") for k in range(1, 6)] + [
        (3600, "pending")]
    assert all(r == BLACKOUT for _, st, r in table(p) if st == "skipped")


def test_blackout_relabels_only_slots_inside_a_window():
    p = due_slots(JobPlan.of({"name": "j", "catchup": "none"}), Every(420), None, 0,
                  at(3600 + 420 * 3 + 100), created_at=T0)
    out = table(relabel(p, [NIGHT]))
    assert {r for s, st, r in out if s < 3600} == {BLACKOUT}
    assert all(st == "missed" and r != BLACKOUT for s, st, r in out if s >= 3600)


def test_blackout_summary_keeps_its_count():
    p = due_slots(JobPlan.of({"name": "j", "catchup": "none"}), Every(60), None, 0, at(3600),
                  created_at=T0)
    summary, on_time = relabel(p, [NIGHT]).decisions
    assert summary.status == "skipped" and summary.reason.startswith(BLACKOUT + "; 59 slots")
    assert (secs(on_time.slot), on_time.status) == (3600, "pending")


def test_blackout_job_windows_are_named_by_their_expression_in_the_jobs_zone():
    (w,) = job_windows(["* 1 * * mon"], "Europe/Berlin")
    assert w.name == "* 1 * * mon" and w.covers(at(0)) and not w.covers(at(3600))


def test_blackout_a_window_that_never_ends_is_planned_again_later():
    always = window("always", "* * * * *")
    end = window_end([always], at(0))
    assert end - at(0) >= timedelta(days=8)
