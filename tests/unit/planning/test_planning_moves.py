"""Table tests of `planning.moves`: which held runs leave a silent peer, where they go."""

from __future__ import annotations

from datetime import timedelta

import pytest

from raftcron.durations import format_time
from raftcron.planning.job_plan import JobPlan
from raftcron.planning.moves import move_proposal, move_target, stranded
from raftcron.planning.placement import NodeInfo, PeerInfo
from tests.support.schedules import T0

A, B, C = "10.0.0.1:7100", "10.0.0.2:7100", "10.0.0.3:7100"
NOW = T0 + timedelta(seconds=10)


def ref(run_id: str, *, peer: str = A, status: str = "pending", held: bool = True,
        due: timedelta = timedelta(seconds=-1), target: str | None = None) -> dict:
    return {"id": run_id, "job": "j", "peer": peer, "target": target or peer, "status": status,
            "held": held, "fired_at": format_time(NOW + due)}


@pytest.mark.parametrize("run, moves", [
    (ref("r"), True),                                     # held, pending, due, peer silent
    (ref("r", due=timedelta(0)), True),                   # due right now
    (ref("r", due=timedelta(milliseconds=200)), False),   # not due yet: its peer may be back
    (ref("r", held=False), False),                        # not held: it may have started
    (ref("r", status="running"), False),                  # confirmed: it may have started
    (ref("r", peer=B), False),                            # its peer is heard from
])
def test_stranded_takes_only_due_pending_held_runs_of_silent_peers(run, moves):
    assert [r["id"] for r in stranded([run], {A: NOW - timedelta(seconds=2)}, NOW)] == (
        ["r"] if moves else [])


def test_move_target_is_the_least_loaded_live_peer_and_never_the_silent_one():
    peers = [PeerInfo(id=A, reachable=False), PeerInfo(id=B), PeerInfo(id=C)]
    load = {B: 3, C: 1}
    assert move_target(JobPlan.of({"name": "j"}), ref("r"), peers=peers, nodes=[],
                       load=load, recent={}) == (C, C)
    assert load[C] == 2  # counted, so the next move of the same pass weighs it


def test_move_target_none_when_no_other_peer_can_run_it():
    peers = [PeerInfo(id=A, reachable=False), PeerInfo(id=B, reachable=False)]
    assert move_target(JobPlan.of({"name": "j"}), ref("r"), peers=peers, nodes=[], load={},
                       recent={}) is None
    role_bound = JobPlan.of({"name": "j", "roles": ["db"]})
    assert move_target(role_bound, ref("r"), peers=[PeerInfo(id=B)], nodes=[], load={},
                       recent={}) is None


def test_move_target_keeps_the_target_of_a_fan_out_run():
    job = JobPlan.of({"name": "j", "hosts": "all", "roles": ["db"]})
    nodes = [NodeInfo(name="db1", roles=frozenset({"db"})),
             NodeInfo(name="db2", roles=frozenset({"db"}))]
    peers = [PeerInfo(id=A, reachable=False), PeerInfo(id=B)]
    assert move_target(job, ref("r", target="db2"), peers=peers, nodes=nodes, load={},
                       recent={}) == (B, "db2")


def test_move_proposal_is_keyed_by_run_and_old_peer():
    one = move_proposal([("r1", A, B, B)], now=NOW)
    assert one is not None and (one.op, one.key) == ("move_run", f"move:r1:{A}")
    assert one.args == {"run_id": "r1", "from_peer": A, "peer": B, "target": B,
                        "at": format_time(NOW)}
    two = move_proposal([("r1", A, B, B), ("r2", A, C, C)], now=NOW)
    assert two is not None and two.op == "batch"
    assert [c["key"] for c in two.args["commands"]] == [f"move:r1:{A}", f"move:r2:{A}"]
    again = move_proposal([("r2", A, C, C), ("r1", A, B, B)], now=NOW)
    assert again is not None and again.key == two.key
    assert move_proposal([], now=NOW) is None
