"""The scheduler's in-memory job table (heap, replayed commands) and its cluster view."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from raftcron.scheduler.cluster_view import SchedulerSettings, cluster_view
from raftcron.scheduler.job_table import JobTable
from tests.support.schedules import Every, at

A, B, C = "10.0.0.1:7100", "10.0.0.2:7100", "10.0.0.3:7100"


def fake_parse(schedule: Any, expanded: str | None, tz: str, name: str, start_at, created_at):
    if schedule == "broken":
        raise ValueError("cannot parse")
    return Every(float(schedule))


def row(name: str, period: str = "60", **kw: Any) -> dict[str, Any]:
    return {"name": name, "spec": {"name": name, "schedule": period, **kw.pop("spec", {})},
            "expanded": None, "status": "scheduled", "cursor": None, "fired_count": 0,
            "created_at": at(0).isoformat(), "updated_at": at(0).isoformat(), **kw}


def test_jobtable_pops_only_due_jobs_in_time_order():
    table = JobTable(parse=fake_parse)
    table.load([row("slow", "3600"), row("fast", "10"), row("mid", "60")], at(0))
    assert table.pop_due(at(9)) == []
    assert table.pop_due(at(60)) == ["fast", "mid"]
    assert table.next_due() == at(3600)


def test_jobtable_load_leaves_out_unreadable_jobs_and_finished_ones():
    table = JobTable(parse=fake_parse)
    bad = table.load([row("ok"), row("bad", "broken"), row("done", status="finished"),
                      row("held", status="paused")], at(0))
    assert bad == ["bad"]
    assert set(table.entries) == {"ok", "done", "held"}
    assert table.scheduled_count() == 1


def test_jobtable_many_idle_jobs_cost_nothing_per_tick():
    table = JobTable(parse=fake_parse)
    table.load([row(f"j{i}", "3600") for i in range(5_000)], at(0))
    assert table.pop_due(at(1800)) == [] and table.scheduled_count() == 5_000


def test_jobtable_rescheduling_replaces_the_old_heap_entry():
    table = JobTable(parse=fake_parse)
    table.load([row("a", "60")], at(0))
    table.push("a", at(5))
    assert table.pop_due(at(100)) == ["a"]  # once, not twice
    assert table.pop_due(at(100)) == []


def fire_args(*records: tuple[str, float, str]) -> dict:
    return {"runs": [{"run_id": f"r{i}", "job": job, "slot": at(s).isoformat(), "status": st,
                      "manual": False, "retry_of": None} for i, (job, s, st) in
                     enumerate(records)], "at": at(0).isoformat()}


def test_jobtable_fire_mirrors_the_fence_and_replays_idempotently():
    table = JobTable(parse=fake_parse)
    table.load([row("a", "60")], at(0))
    args = fire_args(("a", 60, "missed"), ("a", 120, "pending"))
    result = {"ok": True, "accepted": ["r0", "r1"], "fenced": []}
    assert table.on_command("fire", args, result, at(121)) == {"a"}
    entry = table.entries["a"]
    assert (entry.cursor, entry.fired_count) == (at(120), 1)
    assert table.on_command("fire", args, result, at(121)) == set()  # replayed: no change
    assert (entry.cursor, entry.fired_count) == (at(120), 1)


def test_jobtable_fire_ignores_fenced_manual_and_retry_records():
    table = JobTable(parse=fake_parse)
    table.load([row("a", "60")], at(0))
    args = fire_args(("a", 60, "pending"), ("a", 120, "pending"))
    args["runs"][1]["manual"] = True
    table.on_command("fire", args, {"ok": True, "accepted": ["r1"], "fenced": ["r0"]}, at(0))
    assert table.entries["a"].cursor is None and table.entries["a"].fired_count == 0


def test_jobtable_put_keeps_cursor_and_pause_takes_the_job_out():
    table = JobTable(parse=fake_parse)
    table.load([row("a", "60", cursor=at(600).isoformat(), fired_count=3)], at(0))
    table.on_command("put_job", {"job": {"name": "a", "schedule": "10"}, "at": at(700)
                                 .isoformat()}, {"ok": True, "status": "scheduled"}, at(700))
    entry = table.entries["a"]
    assert (entry.cursor, entry.fired_count, entry.changed_at) == (at(600), 3, at(700))
    assert table.next_due() == at(610)
    table.on_command("set_paused", {"name": "a", "paused": True, "at": at(705).isoformat()},
                     {"ok": True, "status": "paused"}, at(705))
    assert table.next_due() is None
    table.on_command("set_paused", {"name": "a", "paused": False, "at": at(800).isoformat()},
                     {"ok": True, "status": "scheduled"}, at(800))
    assert table.entries["a"].changed_at == at(800) and table.next_due() == at(610)
    table.on_command("delete_job", {"name": "a", "at": at(900).isoformat()}, {"ok": True},
                     at(900))
    assert table.entries == {} and table.next_due() is None


def test_jobtable_refused_commands_change_nothing():
    table = JobTable(parse=fake_parse)
    table.load([row("a", "60")], at(0))
    table.on_command("delete_job", {"name": "a"}, {"ok": False, "error": "not_found"}, at(1))
    assert "a" in table.entries


def test_jobtable_held_slot_wakes_at_the_next_slot_not_at_once():
    table = JobTable(parse=fake_parse)
    table.load([row("a", "60", cursor=at(60).isoformat())], at(0))
    table.entries["a"].held = at(120)
    table.reschedule("a", at(130))
    assert table.next_due() == at(180)


# --- the cluster as placement sees it ---------------------------------------------------------

def test_cluster_view_peer_roles_come_from_local_nodes_and_settings():
    settings = SchedulerSettings(roles=("web",), capacity=8)
    nodes = [{"name": B, "connection_type": "local", "roles": ["db"], "capacity": 2},
             {"name": "db1", "connection_type": "ssh", "roles": ["db"], "healthy": False},
             {"name": "db2", "connection_type": "ssh", "roles": ["db"], "healthy": None}]
    view = cluster_view(self_id=A, configured=[A, B, C],
                        status_peers=[{"id": A}, {"id": B}, {"id": C}], nodes=nodes,
                        silent={C: at(0)}, settings=settings)
    peers = {p.id: p for p in view.peers}
    assert (peers[A].roles, peers[A].capacity, peers[A].reachable) == ({"web"}, 8, True)
    assert (peers[B].roles, peers[B].capacity, peers[B].reachable) == ({"db"}, 2, True)
    assert (peers[C].roles, peers[C].capacity, peers[C].reachable) == (set(), 4, False)
    assert [(n.name, n.healthy) for n in view.nodes] == [("db1", False), ("db2", True)]


def test_scheduler_settings_of_reads_a_config_object():
    class Config:
        lease = timedelta(seconds=30)
        max_run_age = timedelta(days=2)
        catchup_cap = 7
        unrelated = "x"

    settings = SchedulerSettings.of(Config(), roles=["db"])
    assert (settings.lease, settings.max_run_age, settings.catchup_cap, settings.roles) == (
        timedelta(seconds=30), timedelta(days=2), 7, ("db",))
    assert SchedulerSettings.of(None) == SchedulerSettings()


def test_jobtable_pop_early_takes_jobs_due_soon_with_their_times_but_not_deferred_ones():
    table = JobTable(parse=fake_parse)
    table.load([row("a", "10"), row("b", "10"), row("c", "60")], at(0))
    assert table.pop_due(at(9.7)) == []
    assert table.next_wake(timedelta(seconds=0.3)) == at(9.7)
    early = table.pop_early(at(10))
    assert early == {"a": at(10), "b": at(10)}
    table.defer("b", at(10))  # must be planned at its time: never taken early again
    assert table.pop_early(at(10)) == {}
    assert table.next_due() == at(10)
    assert table.next_wake(timedelta(seconds=0.3)) == at(10)  # b's own time, not 0.3 s before
    assert table.pop_due(at(10)) == ["b"]
    assert table.pop_due(at(10)) == []


def test_jobtable_a_deferred_job_rescheduled_is_early_again():
    table = JobTable(parse=fake_parse)
    table.load([row("a", "10")], at(0))
    assert table.pop_early(at(10)) == {"a": at(10)}
    table.defer("a", at(10))
    table.push("a", at(20))  # planned at its time; its next slot may go early again
    assert table.pop_due(at(10)) == []
    assert table.pop_early(at(20)) == {"a": at(20)}
