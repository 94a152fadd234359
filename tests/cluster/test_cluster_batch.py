"""`POST /jobs:batch` on three real raftcron processes: a batch is one Raft entry, so a
leader killed (SIGKILL) while it is being written leaves every job of it on every surviving
peer, or none."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from tests.support.cluster import Cluster, HttpResponse
from tests.support.wait import wait_until

SIZE = 1000


def batch(prefix: str) -> dict:
    return {"jobs": [{"name": f"{prefix}-{i:04d}", "schedule": "0 3 * * *",
                      "command": ["true"]} for i in range(SIZE)]}


def count(peer, prefix: str) -> int:
    names: list[str] = []
    cursor = None
    while True:
        path = "/jobs?limit=1000&consistency=strong" + (f"&cursor={cursor}" if cursor else "")
        resp = peer.get(path)
        if resp.status != 200:
            return -1
        page = resp.json()
        names += [j["name"] for j in page["items"] if j["name"].startswith(prefix)]
        cursor = page.get("next_cursor")
        if not cursor:
            return len(names)


def test_cluster_batch_applies_whole_and_a_leader_killed_mid_batch_leaves_all_or_none(
        cluster: Cluster, tmp_path: Path) -> None:
    leader = cluster.wait_for_leader()
    resp = leader.post("/jobs:batch", batch("first"), timeout=30)
    assert resp.status == 200, resp
    assert len(resp.json()["items"]) == SIZE
    for peer in cluster.peers:
        wait_until(lambda p=peer: count(p, "first") == SIZE, 30, f"{peer} to hold the batch")

    sent = threading.Event()
    answer: list[HttpResponse | BaseException] = []

    def send() -> None:
        sent.set()
        try:
            answer.append(leader.post("/jobs:batch", batch("second"), timeout=30))
        except BaseException as exc:  # the leader dies under the request
            answer.append(exc)

    worker = threading.Thread(target=send, daemon=True)
    worker.start()
    sent.wait(10)
    leader.kill(signal.SIGKILL)
    worker.join(40)
    survivor = cluster.wait_for_leader(exclude=[leader])
    others = [p for p in cluster.peers if p is not leader]
    counts = wait_until(lambda: (lambda c: c if len(set(c)) == 1 and c[0] >= 0 else None)(
        [count(p, "second") for p in others]), 30, "the survivors to agree")
    assert counts[0] in (0, SIZE), counts
    assert count(survivor, "first") == SIZE
