"""The API of real peers, as a user meets it (issue 3): the token guards every write on every
peer, bad input is refused with a 4xx naming the field and changes nothing anywhere, and a write
without a quorum answers 503 within a bounded wait instead of hanging.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.support.cluster import Cluster, Peer, http
from tests.support.wait import wait_until

TOKEN = "t0ken-for-tests"
QUIET = {"schedule": "0 1 1 1 *", "command": ["true"]}


def applied(peer: Peer) -> int:
    return int(peer.status()["applied_index"])


def test_cluster_api_writes_need_the_token_on_every_peer(
        make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(token=TOKEN).start()
    cluster.wait_for_leader()
    cluster.wait_for_announced()
    for peer in cluster.peers:
        before = applied(peer)
        for token in (None, "wrong"):
            resp = http("PUT", peer.api + "/jobs/nope", QUIET, token=token)
            assert resp.status == 401, resp
            assert resp.json()["error"]
        # Reads stay open, and the refused writes left no trace.
        assert http("GET", peer.api + "/jobs/nope").status == 404
        assert applied(peer) == before
        assert TOKEN not in http("GET", peer.api + "/status").body.decode()
    resp = cluster.peers[1].put("/jobs/ok", QUIET, timeout=30)
    assert resp.status == 201, resp


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**QUIET, "schedule": "61 * * * *"}, "minute"),
        ({**QUIET, "concurency": "allow"}, "concurency"),
        ({**QUIET, "retries": "two"}, "retries"),
        ({"schedule": "@every 10s"}, "command"),
        ({**QUIET, "tz": "Mars/Olympus"}, "tz"),
    ],
)
def test_cluster_api_bad_job_is_refused_on_a_follower_and_changes_nothing(
        cluster: Cluster, body: dict, field: str) -> None:
    leader = cluster.wait_for_leader()
    follower = cluster.followers(leader)[0]
    before = applied(leader)
    resp = follower.put("/jobs/bad", body)
    assert resp.status == 400, resp
    assert resp.json()["field"] == field, resp
    for peer in cluster.peers:
        assert peer.get("/jobs/bad").status == 404
    assert applied(leader) == before


def test_cluster_api_huge_body_is_413(cluster: Cluster) -> None:
    peer = cluster.peers[0]
    resp = peer.put("/jobs/big", {**QUIET, "description": "x" * (3 << 20)})
    assert resp.status == 413, resp
    assert resp.json()["field"] == "body"
    assert peer.get("/jobs/big").status == 404


def test_cluster_api_write_without_quorum_is_503_within_a_bounded_wait(
        cluster: Cluster) -> None:
    survivor = cluster.peers[0]
    for peer in cluster.peers[1:]:
        peer.kill()
    started = time.monotonic()
    resp = survivor.put("/jobs/lonely", QUIET, timeout=60)
    waited = time.monotonic() - started
    assert resp.status == 503, resp
    assert resp.json()["error"], resp
    assert waited < 45, f"the write hung for {waited:.1f}s"
    # Reads of the local copy still answer without a quorum.
    assert survivor.get("/jobs").status == 200
    # Quorum back: the same write, retried, succeeds exactly once.
    for peer in cluster.peers[1:]:
        peer.start()
    cluster.wait_for_leader()
    ok = wait_until(lambda: (r := survivor.put("/jobs/lonely", QUIET, timeout=30)).status
                    in (200, 201) and r, timeout=60, message="the retried write to succeed")
    assert ok.json()["name"] == "lonely"
    names = [j["name"] for j in survivor.get(f"/jobs?min_index={ok.index}").json()["items"]]
    assert names.count("lonely") == 1
