"""A `local` node in a real cluster (issue 5): three raftcron processes, distcrond's
`node_local.json` loaded from `--nodes-dir` as node `node_local` (roles role1, role2).

"local" means the executing peer itself: a job asking for role1 (which no peer and no SSH node
carries here) runs on whichever reachable peer placement picks to act for the node, locally,
with `target` = the node's name and `peer` = that peer; `hosts = "all"` gives the local node
its own run beside the peers that carry the job's roles.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.cluster import Cluster
from tests.support.paths import DATA
from tests.support.wait import wait_until

SEED_NODE = DATA / "distcrond" / "nodes.d" / "node_local.json"
TERMINAL = ("succeeded", "failed", "timed_out", "lost", "skipped", "missed", "cancelled")
NEVER = "0 0 1 1 *"
ECHO = ["/bin/sh", "-c", "echo on $RAFTCRON_TARGET by $RAFTCRON_PEER"]


def _ok(resp: Any, *statuses: int) -> Any:
    assert resp.status in (statuses or (200,)), resp
    return resp.json()


def test_cluster_localnode_runs_jobs_asking_for_its_roles(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    nodes_dir = tmp_path / "nodes.d"
    nodes_dir.mkdir()
    (nodes_dir / "node_local.json").write_text(SEED_NODE.read_text())
    cluster = make_cluster(3, extra_args=["--nodes-dir", str(nodes_dir)],
                           peer_args={2: ["--roles", "edge"]}).start()
    cluster.wait_for_leader()
    peer_ids = {p.id for p in cluster.peers}
    edge = cluster.peers[2].id
    api = cluster.peers[0]

    def nodes() -> dict[str, dict]:
        return {n["name"]: n for n in _ok(api.get("/nodes"))["items"]}
    local = wait_until(lambda: nodes().get("node_local"), 30, "node_local in /nodes")
    assert (local["kind"], local["connection_type"], local["roles"], local["healthy"]) == (
        "node", "local", ["role1", "role2"], True)

    def put_job(name: str, spec: dict[str, Any]) -> None:
        def attempt() -> bool:
            resp = api.put(f"/jobs/{name}", {"schedule": NEVER, "command": ECHO, **spec})
            if resp.status >= 500:
                return False  # no leader for a moment: again
            _ok(resp, 200, 201)
            return True
        wait_until(attempt, 30, f"PUT /jobs/{name}")

    def runs_of(job: str) -> list[dict]:
        return _ok(api.get(f"/runs?job={job}&limit=200"))["items"]

    # hosts = "any", roles ["role1"]: only node_local carries it, so it runs there.
    put_job("onlocal", {"roles": ["role1"]})
    for _ in range(3):
        placed = _ok(api.post("/jobs/onlocal/run"), 202)
        assert placed["target"] == "node_local", placed
        run = wait_until(lambda i=placed["id"]: (r := _ok(api.get(f"/runs/{i}")))["status"]
                         in TERMINAL and r, 30, f"run {placed['id']} to finish")
        assert (run["status"], run["target"]) == ("succeeded", "node_local"), run
        assert run["peer"] in peer_ids
        assert run["stdout_tail"] == f"on node_local by {run['peer']}\n"

    # hosts = "all" on the scheduler's path: one run per eligible target, the local node too.
    put_job("fanlocal", {"roles": ["role1", "edge"], "hosts": "all",
                         "schedule": "*/2 * * * * *"})

    def a_settled_slot() -> list[dict] | None:
        slots: dict[str, list[dict]] = defaultdict(list)
        for r in runs_of("fanlocal"):
            if r["status"] not in ("skipped", "missed"):
                slots[r["slot"]].append(r)
        for runs in slots.values():
            if len(runs) == 2 and all(r["status"] in TERMINAL for r in runs):
                return runs
        return None
    runs = wait_until(a_settled_slot, 40, "a slot of fanlocal with both runs finished")
    _ok(api.post("/jobs/fanlocal/pause"))
    by_target = {r["target"]: r for r in runs}
    assert set(by_target) == {edge, "node_local"}, runs
    assert by_target[edge]["peer"] == edge
    assert by_target["node_local"]["peer"] in peer_ids
    for target, r in by_target.items():
        assert r["status"] == "succeeded", r
        assert r["stdout_tail"] == f"on {target} by {r['peer']}\n"
