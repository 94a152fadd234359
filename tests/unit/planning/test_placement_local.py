"""Table tests of `placement.choose_targets` for `local` nodes (issue 5): a local node is the
acting peer itself under another name, with its own roles and a capacity that bounds its runs."""

from __future__ import annotations

import pytest

from raftcron.planning.job_plan import JobPlan
from raftcron.planning.placement import NodeInfo, choose_targets, record_assignment
from tests.support.placement import A, B, C, choose, peers
from tests.support.schedules import at

LOCAL = NodeInfo(name="node_local", roles=frozenset({"role1", "role2"}), local=True)


def test_choose_targets_local_node_is_run_by_the_least_loaded_reachable_peer():
    got = choose({"roles": ["role1"]}, peers(A, B, C, down=(B,)), [LOCAL],
                 load={A: 3, B: 0, C: 1})
    assert got == [(C, "node_local")]  # B is less loaded but silent


def test_choose_targets_local_node_needs_one_of_the_jobs_roles():
    assert choose({"roles": ["gpu"]}, peers(A), [LOCAL]) == []
    # A job without roles runs on the peers only, never under a node's name.
    assert choose({}, peers(A), [LOCAL], load={A: 100}) == [(A, A)]


def test_choose_targets_local_node_is_as_healthy_as_its_peers():
    # Its own `healthy` (an SSH notion) does not count; a reachable peer does.
    sick = NodeInfo(name="node_local", roles=frozenset({"role1"}), local=True, healthy=False)
    assert choose({"roles": ["role1"]}, peers(A), [sick]) == [(A, "node_local")]
    assert choose({"roles": ["role1"]}, peers(A, B, down=(A, B)), [LOCAL]) == []


@pytest.mark.parametrize(("capacity", "active", "expected"), [
    (2, 1, [(A, "node_local")]),
    (2, 2, []),    # full: its capacity bounds the concurrent runs on it
    (2, 5, []),
    (0, 0, []),    # capacity 0 is never eligible
])
def test_choose_targets_local_node_capacity_bounds_its_runs(capacity, active, expected):
    node = NodeInfo(name="node_local", roles=frozenset({"role1"}), local=True,
                    capacity=capacity)
    assert choose({"roles": ["role1"]}, peers(A), [node], load={"node_local": active}) == \
        expected


def test_choose_targets_full_local_node_leaves_the_run_to_other_targets():
    node = NodeInfo(name="node_local", roles=frozenset({"role1"}), local=True, capacity=1)
    ssh = NodeInfo(name="node_remote", roles=frozenset({"role1"}), capacity=1)
    got = choose({"roles": ["role1"]}, peers(A), [node, ssh],
                 load={"node_local": 1, "node_remote": 3})
    assert got == [(A, "node_remote")]  # overloaded, but an SSH node's capacity is a weight


def test_choose_targets_local_node_capacity_counts_runs_of_the_same_plan():
    node = NodeInfo(name="node_local", roles=frozenset({"role1"}), local=True, capacity=2)
    job = JobPlan.of({"name": "j", "roles": ["role1"]})
    load: dict[str, int] = {}
    recent: dict[str, int] = {}
    got = []
    for k in range(3):
        pairs = choose_targets(job, peers(A, B), [node], load, recent, slot=at(k))
        for peer, target in pairs:
            record_assignment(load, recent, peer, target)
        got.append(pairs)
    assert [len(p) for p in got] == [1, 1, 0]
    assert {p[0][0] for p in got[:2]} == {A, B}  # the acting peer is spread by load


def test_choose_targets_hosts_all_counts_local_nodes_as_targets():
    ssh = NodeInfo(name="node_remote", roles=frozenset({"role1"}))
    ps = peers(A, B, roles={A: ["role1"]})
    got = choose({"roles": ["role1"], "hosts": "all"}, ps, [LOCAL, ssh], load={A: 2, B: 0})
    assert got == [(A, A), (B, "node_local"), (B, "node_remote")]


def test_choose_targets_retry_avoids_the_local_node_that_failed():
    ssh = NodeInfo(name="node_remote", roles=frozenset({"role1"}))
    got = choose({"roles": ["role1"]}, peers(A), [LOCAL, ssh], load={"node_remote": 3},
                 exclude=["node_local"])
    assert got == [(A, "node_remote")]
