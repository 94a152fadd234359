"""`schedview.cluster_view`: which nodes placement sees, local nodes included (issue 5)."""

from __future__ import annotations

from raftcron.scheduler.cluster_view import SchedulerSettings, cluster_view

A, B = "10.0.0.1:7100", "10.0.0.2:7100"


def view(nodes: list, *, silent: dict | None = None, settings: SchedulerSettings | None = None):
    return cluster_view(self_id=A, configured=[A, B], status_peers=[{"id": A}, {"id": B}],
                        nodes=nodes, silent=silent or {}, settings=settings or
                        SchedulerSettings())


def test_cluster_view_local_node_not_named_after_a_peer_is_a_target():
    got = view([{"name": "node_local", "connection_type": "local",
                 "roles": ["role1", "role2"], "capacity": 3},
                {"name": "node_remote", "connection_type": "ssh", "roles": ["role1"]}])
    assert [(n.name, n.local, n.roles, n.capacity, n.healthy) for n in got.nodes] == [
        ("node_local", True, {"role1", "role2"}, 3, True),
        ("node_remote", False, {"role1"}, 4, True)]


def test_cluster_view_peer_announcement_is_not_a_node():
    got = view([{"name": B, "connection_type": "local", "roles": ["db"], "capacity": 2},
                {"name": A, "roles": ["web"]}])
    assert got.nodes == []
    peers = {p.id: p for p in got.peers}
    assert (peers[A].roles, peers[B].roles, peers[B].capacity) == ({"web"}, {"db"}, 2)


def test_cluster_view_local_node_ignores_health_and_bad_capacity():
    settings = SchedulerSettings(default_capacity=6)
    got = view([{"name": "box", "connection_type": "local", "roles": ["x"], "healthy": False,
                 "capacity": "lots"},
                {"name": "nameless", "roles": None}, {"roles": ["x"]}, "junk"],
               settings=settings)
    assert [(n.name, n.local, n.healthy, n.capacity, n.roles) for n in got.nodes] == [
        ("box", True, True, 6, {"x"}), ("nameless", True, True, 6, frozenset())]
