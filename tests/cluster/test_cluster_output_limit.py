"""Issue 13 item 3: a run's output files stop at its job's `output_limit`, and the run records
`output_truncated` (real processes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.cluster import Cluster
from tests.support.wait import wait_until

LIMIT = 2048
PRINTED = 10_000


def _ok(resp: Any, *statuses: int) -> Any:
    assert resp.status in (statuses or (200,)), resp
    return resp.json()


def _finished(peer: Any, run_id: str) -> Any:
    run = _ok(peer.get(f"/runs/{run_id}"))
    return run if run["status"] not in ("pending", "running") else None


def test_cluster_output_past_the_limit_is_cut_at_it_and_recorded(
        make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(1).start()
    peer = cluster.wait_for_leader()
    bad = peer.put("/jobs/huge", {"schedule": "@every 1h", "command": "true",
                                  "output_limit": "lots"})
    assert bad.status == 400 and bad.json()["field"] == "output_limit", bad

    job = {"schedule": "@every 1h", "output_limit": "2KiB", "output_tail": 16,
           "command": f"head -c {PRINTED - 3} /dev/zero | tr '\\0' x; printf END"}
    assert _ok(peer.put("/jobs/chatty", job), 201)["output_limit"] == LIMIT
    run = _ok(peer.post("/jobs/chatty/run"), 202)
    done = wait_until(lambda: _finished(peer, run["id"]), 30, "the run to finish")
    assert done["status"] == "succeeded", done
    assert (done["output_truncated"], done["output_bytes"]) == (True, PRINTED), done
    assert done["stdout_tail"].endswith("xEND")  # the tail is the real end, past the cap
    text = peer.get(f"/runs/{run['id']}/output?stream=stdout")
    assert text.status == 200 and text.body == b"x" * LIMIT

    _ok(peer.put("/jobs/quiet", {"schedule": "@every 1h", "command": "echo hi"}), 201)
    quiet = _ok(peer.post("/jobs/quiet/run"), 202)
    done = wait_until(lambda: _finished(peer, quiet["id"]), 30, "the quiet run to finish")
    assert (done["status"], done["output_truncated"]) == ("succeeded", False), done
