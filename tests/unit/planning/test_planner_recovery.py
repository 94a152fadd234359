"""Table tests of retries, leases and pruning (`recovery`), and of the planning job view."""

from __future__ import annotations

from datetime import timedelta

import pytest

from raftcron.errors import ValidationError
from raftcron.model import Catchup, Concurrency, Hosts, Job
from raftcron.planning.job_plan import JobPlan
from raftcron.planning.recovery import (
    backoff,
    contact_time,
    lost_runs,
    prune_chunks,
    retry_for,
    update_down_since,
)
from tests.support.schedules import T0, at

A, B, C = "10.0.0.1:7100", "10.0.0.2:7100", "10.0.0.3:7100"
LEASE = timedelta(seconds=15)


def job(**kw) -> JobPlan:
    return JobPlan.of({"name": "j", **kw})


# --- the planning view of a job ---------------------------------------------------------------

def test_jobplan_of_reads_the_canonical_dict():
    plan = JobPlan.of({"name": "j", "concurrency": "queue", "catchup": "all",
                       "catchup_window": "2h", "jitter": "5m", "start_at": "2024-01-01T00:00:00Z",
                       "max_runs": 3, "retries": 2, "retry_backoff": "30s", "hosts": "all",
                       "roles": ["db"], "paused": True, "command": ["true"]})
    assert plan.concurrency == Concurrency.QUEUE and plan.catchup == Catchup.ALL
    assert plan.catchup_window == timedelta(hours=2) and plan.jitter == timedelta(minutes=5)
    assert plan.start_at == T0 and plan.max_runs == 3 and plan.retries == 2
    assert plan.hosts == Hosts.ALL and plan.roles == {"db"} and plan.paused


def test_jobplan_of_model_job_and_dict_agree_including_defaults():
    model = Job(name="j", schedule="* * * * *")
    assert JobPlan.of(model) == JobPlan.of({"name": "j", "schedule": "* * * * *"})
    assert JobPlan.of({"name": "j", "retries": None}).retries == model.retries


@pytest.mark.parametrize(("data", "field"), [
    ({"name": "j", "concurrency": "sometimes"}, "concurrency"),
    ({"name": "j", "catchup_window": "soon"}, "catchup_window"),
    ({"name": "j", "max_runs": -1}, "max_runs"),
    ({"name": "j", "start_at": "yesterday"}, "start_at"),
    ({"name": "j", "roles": "db"}, "roles"),
    ({"schedule": "* * * * *"}, "name"),
])
def test_jobplan_of_bad_value_names_the_field(data, field):
    with pytest.raises(ValidationError) as err:
        JobPlan.of(data)
    assert err.value.field == field


# --- retries ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("attempt", "expected"), [(1, 10), (2, 20), (3, 40), (4, 60), (90, 60)])
def test_backoff_doubles_up_to_the_cap(attempt, expected):
    plan = job(retry_backoff="10s", retry_backoff_max="1m")
    assert backoff(plan, attempt) == timedelta(seconds=expected)


def run(status: str, attempt: int = 1, **kw) -> dict:
    return {"id": "r1", "job": "j", "slot": "2024-01-01T00:01:00Z", "attempt": attempt,
            "peer": A, "target": A, "status": status, "finished_at": "2024-01-01T00:02:00Z",
            **kw}


@pytest.mark.parametrize(("status", "attempt", "retries", "wanted"), [
    ("failed", 1, 2, True),
    ("timed_out", 2, 2, True),
    ("lost", 1, 1, True),
    ("failed", 3, 2, False),       # the last attempt
    ("failed", 1, 0, False),       # no retries configured
    ("succeeded", 1, 2, False),
    ("cancelled", 1, 2, False),    # cancelled on purpose: not retried
    ("skipped", 1, 2, False),
])
def test_retry_for_only_failures_with_attempts_left(status, attempt, retries, wanted):
    got = retry_for(job(retries=retries), run(status, attempt))
    assert (got is not None) is wanted


def test_retry_for_is_the_next_attempt_of_the_same_slot_after_the_backoff():
    got = retry_for(job(retries=3, retry_backoff="10s"), run("failed", 2))
    assert got is not None
    assert (got.retry_of, got.job, got.slot, got.attempt) == ("r1", "j", at(60), 3)
    assert got.due == at(120 + 20)
    assert set(got.exclude) == {A} and got.target is None


def test_retry_for_hosts_all_stays_on_its_target():
    got = retry_for(job(retries=1, hosts="all"), run("failed", target="db1"))
    assert got is not None and got.target == "db1"


def test_retry_for_a_run_that_never_ended_waits():
    assert retry_for(job(retries=1), run("failed", finished_at=None)) is None


# --- leases -----------------------------------------------------------------------------------

NOW = at(1000)


@pytest.mark.parametrize(("peer", "previous", "expected"), [
    ({"id": B, "reachable": True, "last_contact": 0.2}, {}, None),        # alive
    ({"id": B, "reachable": True, "last_contact": 20.0}, {}, NOW - timedelta(seconds=20)),
    ({"id": B, "reachable": False, "last_contact": 3.0}, {}, NOW - timedelta(seconds=3)),
    ({"id": B, "reachable": False, "last_contact": None}, {}, NOW),       # first seen silent
    ({"id": B, "reachable": False, "last_contact": None}, {B: at(900)}, at(900)),
    ({"id": B, "reachable": False, "last_contact": "2024-01-01T00:10:00Z"}, {}, at(600)),
    ({"id": A, "reachable": False, "last_contact": None}, {}, None),       # this peer: never
])
def test_update_down_since_tracks_when_each_peer_went_silent(peer, previous, expected):
    got = update_down_since(previous, [peer], NOW, LEASE, self_id=A)
    assert got.get(peer["id"]) == expected


def test_update_down_since_includes_peers_no_longer_listed():
    got = update_down_since({C: at(990)}, [{"id": B, "reachable": True, "last_contact": 0}],
                            NOW, LEASE, self_id=A, others=[C, A, B])
    assert got == {C: at(990)}


@pytest.mark.parametrize(("since", "lost"), [(at(990), False), (at(985), False), (at(984), True)])
def test_lost_runs_only_past_the_lease(since, lost):
    active = [{"id": "r1", "peer": B}, {"id": "r2", "peer": A}]
    got = lost_runs(active, {B: since}, NOW, LEASE)
    assert [r for r, _ in got] == (["r1"] if lost else [])


def test_lost_runs_reason_names_the_peer_and_how_long():
    (run_id, reason), = lost_runs([{"id": "r1", "peer": B}], {B: at(900)}, NOW, LEASE)
    assert run_id == "r1"
    assert reason == f"peer {B} unreachable for 1m40s (lease 15s)"


def test_contact_time_reads_seconds_ago_and_times():
    assert contact_time(2.5, NOW) == NOW - timedelta(seconds=2.5)
    assert contact_time("2024-01-01T00:00:00Z", NOW) == T0
    assert contact_time(None, NOW) is None and contact_time(True, NOW) is None


# --- pruning ----------------------------------------------------------------------------------

def test_prune_chunks_are_bounded():
    ids = [f"r{i}" for i in range(1201)]
    chunks = prune_chunks(ids, 500)
    assert [len(c) for c in chunks] == [500, 500, 201]
    assert [i for c in chunks for i in c] == ids
    assert prune_chunks([]) == []
