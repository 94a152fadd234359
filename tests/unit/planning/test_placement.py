"""Table tests of `placement.choose_targets`: load, ties, roles, SSH nodes, hosts=all, retries."""

from __future__ import annotations

from collections import Counter

import pytest

from raftcron.planning.placement import NodeInfo, counted_loads, loads, record_assignment
from tests.support.placement import A, B, C, choose, peers
from tests.support.schedules import at


@pytest.mark.parametrize(("load", "capacity", "recent", "winner"), [
    ({A: 2, B: 0, C: 1}, {}, {}, B),                        # least loaded
    ({A: 2, B: 1, C: 4}, {A: 8, B: 2}, {}, A),              # by load / capacity: .25 < .5
    ({A: 1, B: 1, C: 1}, {}, {A: 5, B: 2, C: 9}, B),        # tie: fewest recent assignments
    ({A: 0, B: 1, C: 1}, {}, {A: 9, B: 0}, A),              # load first, recent only for ties
])
def test_choose_targets_least_loaded_wins(load, capacity, recent, winner):
    assert choose({}, peers(A, B, C, capacity=capacity), load=load, recent=recent) == \
        [(winner, winner)]


def test_choose_targets_full_ties_break_by_a_stable_hash_that_spreads():
    ps = peers(A, B, C)
    first = [choose({}, ps, slot=at(60 * k))[0][0] for k in range(300)]
    again = [choose({}, ps, slot=at(60 * k))[0][0] for k in range(300)]
    assert first == again  # every leader breaks the tie the same way
    counts = Counter(first)
    assert set(counts) == {A, B, C} and min(counts.values()) > 50


@pytest.mark.parametrize(("load", "recent", "winners"), [
    ({}, {}, {B, C}),                                   # a full tie: never the avoided peer
    ({}, {B: 9, C: 9}, {B, C}),                         # ... whatever the recent assignments
    ({A: 0, B: 1, C: 1}, {}, {A}),                      # the least loaded still wins
    ({A: 1, B: 1, C: 2}, {B: 3}, {B}),                  # a tie of load with B only
])
def test_choose_targets_a_run_committed_ahead_avoids_the_leader_on_ties(load, recent, winners):
    # A run held until its slot dies with its peer (recorded lost, never run); the leader is
    # the peer a failover takes down, so a tie of load goes elsewhere.
    got = choose({}, peers(A, B, C), load=load, recent=recent, avoid_on_tie=A)
    assert got[0][0] in winners


def test_choose_targets_ahead_spreads_over_the_others_and_falls_back_to_the_leader():
    ps = peers(A, B, C)
    picks = Counter(choose({}, ps, slot=at(60 * k), avoid_on_tie=A)[0][0] for k in range(200))
    assert set(picks) == {B, C} and min(picks.values()) > 50
    # Alone, or the only one with room, the leader takes it.
    assert choose({}, peers(A, B, down=(B,)), avoid_on_tie=A) == [(A, A)]
    assert choose({}, peers(A, B, capacity={B: 0}), avoid_on_tie=A) == [(A, A)]
    # A node's driving peer too.
    nodes = [NodeInfo(name="db1", roles=frozenset({"db"}))]
    assert choose({"roles": ["db"]}, ps, nodes, avoid_on_tie=A)[0][0] != A


def test_choose_targets_unreachable_peer_is_never_chosen():
    assert choose({}, peers(A, B, down=(A,)), load={B: 10}) == [(B, B)]
    assert choose({}, peers(A, down=(A,))) == []


def test_choose_targets_capacity_zero_is_not_eligible():
    assert choose({}, peers(A, B, capacity={A: 0}), load={B: 3}) == [(B, B)]


@pytest.mark.parametrize(("job_roles", "expected"), [
    ([], [(A, A)]),                     # no roles: any peer (A is least loaded)
    (["db"], [(B, B)]),                 # only B carries db
    (["db", "web"], [(B, B)]),          # one of the roles is enough; B is less loaded than C
    (["gpu"], []),                      # nobody carries it
])
def test_choose_targets_roles_filter_peers(job_roles, expected):
    ps = peers(A, B, C, roles={B: ["db"], C: ["web"]})
    assert choose({"roles": job_roles}, ps, load={B: 1, C: 2}) == expected


def test_choose_targets_ssh_node_is_driven_by_the_least_loaded_peer():
    nodes = [NodeInfo(name="db1", roles=frozenset({"db"}))]
    got = choose({"roles": ["db"]}, peers(A, B, C), nodes, load={A: 3, B: 1, C: 2})
    assert got == [(B, "db1")]


@pytest.mark.parametrize(("nodes", "expected"), [
    ([NodeInfo(name="db1", roles=frozenset({"db"}), healthy=False)], []),
    ([NodeInfo(name="db1", roles=frozenset({"web"}))], []),
    ([NodeInfo(name="db1", roles=frozenset({"db"}), capacity=0)], []),
    ([NodeInfo(name="db1", roles=frozenset({"db"}), capacity=2),
      NodeInfo(name="db2", roles=frozenset({"db"}), capacity=4)], [(A, "db2")]),  # 1/2 vs 1/4
])
def test_choose_targets_ssh_node_eligibility(nodes, expected):
    load = {"db1": 1, "db2": 1}
    assert choose({"roles": ["db"]}, peers(A), nodes, load=load) == expected


def test_choose_targets_job_without_roles_never_goes_to_an_ssh_node():
    nodes = [NodeInfo(name="db1", roles=frozenset({"db"}))]
    assert choose({}, peers(A), nodes, load={A: 100}) == [(A, A)]


def test_choose_targets_ssh_node_needs_a_reachable_peer():
    nodes = [NodeInfo(name="db1", roles=frozenset({"db"}))]
    assert choose({"roles": ["db"]}, peers(A, down=(A,)), nodes) == []


def test_choose_targets_hosts_all_gives_one_per_eligible_target():
    nodes = [NodeInfo(name="db1", roles=frozenset({"db"})),
             NodeInfo(name="db2", roles=frozenset({"db"}), healthy=False)]
    ps = peers(A, B, C, down=(C,), roles={A: ["db"], C: ["db"]})
    got = choose({"roles": ["db"], "hosts": "all"}, ps, nodes, load={A: 5, B: 0})
    assert got == [(A, A), (B, "db1")]  # B drives db1: the least loaded reachable peer


def test_choose_targets_hosts_argument_overrides_the_job():
    assert len(choose({"hosts": "all"}, peers(A, B), hosts="any")) == 1
    assert len(choose({}, peers(A, B), hosts="all")) == 2


@pytest.mark.parametrize(("exclude", "expected"), [
    ([A], B),            # the failed target is avoided
    ([A, B], C),
    ([A, B, C], A),      # nothing else eligible: the same again rather than nowhere
])
def test_choose_targets_retry_goes_elsewhere_where_possible(exclude, expected):
    assert choose({}, peers(A, B, C), load={A: 0, B: 1, C: 2}, exclude=exclude)[0][0] == expected


def test_record_assignment_spreads_one_plans_runs():
    ps = peers(A, B, C)
    load: dict[str, int] = {}
    recent: dict[str, int] = {}
    got = []
    for k in range(6):
        peer, target = choose({}, ps, load=load, recent=recent, slot=at(k))[0]
        record_assignment(load, recent, peer, target)
        got.append(peer)
    assert Counter(got) == {A: 2, B: 2, C: 2}


def test_loads_counts_peers_and_ssh_nodes():
    runs = [{"peer": A, "target": A}, {"peer": A, "target": "db1"}, {"peer": B, "target": None}]
    assert loads(runs) == {A: 2, "db1": 1, B: 1}
    # The same from SQL's (peer, target, count) groups.
    assert counted_loads([(A, A, 3), (A, "db1", 2), (B, None, 1)]) == {A: 5, "db1": 2, B: 1}
