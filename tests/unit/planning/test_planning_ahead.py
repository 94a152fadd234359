"""Which jobs may be planned ahead of their time, and how long a run fired ahead waits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from raftcron.model import Concurrency
from raftcron.planning.ahead import may_fire_early, start_delay
from raftcron.planning.job_plan import JobPlan
from tests.support.schedules import at

ALLOW, FORBID = JobPlan(name="j", concurrency=Concurrency.ALLOW), JobPlan(name="j")
QUEUE = JobPlan(name="j", concurrency=Concurrency.QUEUE)
GROUPED = JobPlan(name="j", concurrency=Concurrency.ALLOW, concurrency_group="db")


@pytest.mark.parametrize(("plan", "active", "windows", "held", "line", "expected"), [
    (ALLOW, [], [], None, None, True),
    (ALLOW, ["r1"], [], None, None, True),     # allow never looks at its runs
    (FORBID, [], [], None, None, True),        # nothing going: nothing can end meanwhile
    (FORBID, ["r1"], [], None, None, False),   # the run may end before the slot
    (QUEUE, ["r1"], [], None, None, False),
    (QUEUE, [], [], at(5), None, False),       # a queued slot waits
    (ALLOW, [], [], None, at(5), False),       # a catch-up line in progress
    (ALLOW, [], ["nightly"], None, None, False),  # a blackout may begin
    (GROUPED, [], [], None, None, False),      # the group's runs may end
])
def test_may_fire_early(plan, active, windows, held, line, expected):
    assert may_fire_early(plan, active=active, windows=windows, held=held,
                          catchup_until=line) is expected


@pytest.mark.parametrize(("own", "majority", "expected"), [
    (9.7, 9.7, 0.3),
    (10.0, 10.0, 0.0),
    (10.5, 10.5, 0.0),    # fired at or after its time: no wait
    (10.0, 9.8, 0.2),     # this clock is ahead of the majority's: wait for theirs
    (9.6, 9.9, 0.4),      # behind: wait for its own
])
def test_start_delay_waits_for_both_clocks(own, majority, expected):
    delay = start_delay(at(10), own=at(own), majority=at(majority))
    assert delay == pytest.approx(expected)
    assert timedelta(seconds=delay) >= timedelta(0)
