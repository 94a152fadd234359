"""From decisions to commands (`firing`): records, placement per slot, keys, batch order."""

from __future__ import annotations

import itertools

from raftcron.model.commands import decode, encode
from raftcron.planning.job_plan import JobPlan
from raftcron.planning.placement import NodeInfo, PeerInfo
from raftcron.planning.proposals import (
    Placement,
    lost_proposal,
    prune_proposal,
    retry_proposal,
    retry_record,
    slot_records,
    tick_proposal,
)
from raftcron.planning.recovery import RetryPlan
from raftcron.planning.slots import SlotDecision, SlotPlan
from tests.support.schedules import at

A, B, C = "10.0.0.1:7100", "10.0.0.2:7100", "10.0.0.3:7100"


def ids(prefix: str = "r"):
    counter = itertools.count(1)
    return lambda: f"{prefix}{next(counter)}"


def where(*down: str, nodes: list[NodeInfo] | None = None, load=None) -> Placement:
    peers = [PeerInfo(id=p, reachable=p not in down, roles=frozenset({"db"}) if p == C else
                      frozenset()) for p in (A, B, C)]
    return Placement(self_id=A, peers=peers, nodes=nodes or [], load=dict(load or {}))


def decisions(*items: tuple[int, str]) -> SlotPlan:
    return SlotPlan(decisions=tuple(
        SlotDecision(at(s), status, None if status == "pending" else "why", at(s))
        for s, status in items))


def test_slot_records_one_per_decision_with_the_leader_on_records_that_do_not_run():
    recs = slot_records(JobPlan(name="j"), decisions((60, "missed"), (120, "pending")),
                        where(load={A: 1, C: 1}), now=at(121), new_run_id=ids())
    assert [(r["run_id"], r["slot"], r["status"], r["peer"], r["target"]) for r in recs] == [
        ("r1", "2024-01-01T00:01:00Z", "missed", A, None),
        ("r2", "2024-01-01T00:02:00Z", "pending", B, B),
    ]
    assert all(r["attempt"] == 1 and r["retry_of"] is None and not r["manual"] for r in recs)
    assert all(r["fired_at"] == "2024-01-01T00:02:01Z" for r in recs)


def test_slot_records_spread_one_plan_over_the_peers():
    plan = decisions(*[(60 * k, "pending") for k in range(1, 7)])
    recs = slot_records(JobPlan(name="j"), plan, where(), now=at(400), new_run_id=ids())
    assert sorted(r["peer"] for r in recs) == [A, A, B, B, C, C]


def test_slot_records_nowhere_to_run_is_a_skipped_record():
    recs = slot_records(JobPlan.of({"name": "j", "roles": ["gpu"]}), decisions((60, "pending")),
                        where(), now=at(61), new_run_id=ids())
    assert [(r["status"], r["reason"], r["peer"]) for r in recs] == [
        ("skipped", "no eligible peer/node", A)]


def test_slot_records_hosts_all_one_record_per_target_same_slot():
    nodes = [NodeInfo(name="db1", roles=frozenset({"db"}))]
    job = JobPlan.of({"name": "j", "roles": ["db"], "hosts": "all"})
    recs = slot_records(job, decisions((60, "pending")), where(nodes=nodes), now=at(61),
                        new_run_id=ids())
    assert {(r["peer"], r["target"]) for r in recs} == {(C, C), (A, "db1")}
    assert {r["slot"] for r in recs} == {"2024-01-01T00:01:00Z"}


def test_retry_record_goes_to_another_target():
    retry = RetryPlan(retry_of="r0", job="j", slot=at(60), attempt=2, due=at(90),
                      exclude=(B,))
    rec = retry_record(JobPlan(name="j"), retry, where(load={A: 1, C: 2}), now=at(90),
                       new_run_id=ids())
    assert (rec["peer"], rec["attempt"], rec["retry_of"], rec["status"]) == (A, 2, "r0", "pending")
    assert rec["slot"] == "2024-01-01T00:01:00Z"


def test_retry_record_hosts_all_stays_on_its_target_or_is_skipped():
    job = JobPlan.of({"name": "j", "hosts": "all"})
    retry = RetryPlan(retry_of="r0", job="j", slot=at(60), attempt=2, due=at(90), target=B)
    assert retry_record(job, retry, where(), now=at(90), new_run_id=ids())["target"] == B
    gone = retry_record(job, retry, where(B), now=at(90), new_run_id=ids())
    assert gone["status"] == "skipped" and "no eligible peer/node" in gone["reason"]


def test_tick_proposal_key_ignores_run_ids_and_placement():
    job = JobPlan(name="j")
    plan = decisions((60, "missed"), (120, "pending"))
    one = tick_proposal(slot_records(job, plan, where(), now=at(121), new_run_id=ids("x")), [],
                        [], now=at(121))
    two = tick_proposal(slot_records(job, plan, where(A), now=at(122), new_run_id=ids("y")), [],
                        [], now=at(122))
    assert one is not None and two is not None
    assert one.op == "fire" and one.key == two.key
    assert one.key != tick_proposal([], [], ["j"], now=at(121)).key


def test_tick_proposal_batch_cancels_first_and_finishes_last():
    recs = slot_records(JobPlan(name="j"), decisions((60, "pending")), where(), now=at(61),
                        new_run_id=ids())
    p = tick_proposal(recs, ["old1"], ["j"], now=at(61))
    assert p is not None and p.op == "batch"
    assert [c["op"] for c in p.args["commands"]] == ["cancel_run", "fire", "finish_job"]
    assert [r["run_id"] for r in p.records()] == ["r1"]
    decode(encode(p.op, p.args, p.key))  # a valid command


def test_tick_proposal_nothing_to_say_is_none():
    assert tick_proposal([], [], [], now=at(1)) is None


def test_retry_lost_and_prune_proposals_are_valid_and_keyed_per_item():
    rec = retry_record(JobPlan(name="j"), RetryPlan(retry_of="r0", job="j", slot=at(60),
                                                    attempt=2, due=at(90)),
                       where(), now=at(90), new_run_id=ids())
    retry = retry_proposal(rec, now=at(90))
    assert retry.key == "retry:r0:2"
    one = lost_proposal([("r1", "peer gone")], now=at(5))
    many = lost_proposal([("r1", "gone"), ("r2", "gone")], now=at(5))
    assert one is not None and one.op == "run_lost" and one.key == "lost:r1"
    assert many is not None and many.op == "batch"
    assert [c["key"] for c in many.args["commands"]] == ["lost:r1", "lost:r2"]
    assert lost_proposal([], now=at(5)) is None
    prune = prune_proposal(["a", "b"])
    for p in (retry, one, many, prune):
        decode(encode(p.op, p.args, p.key))
