"""Status, health, readiness, nodes, metrics, OpenAPI, read barriers, auth and error shapes."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from raftcron.api import serve
from raftcron.api.routes import ROUTES
from raftcron.errors import ConfigError
from tests.support.api import OTHER, SELF, THIRD, TOKEN, LiveApi, fire_record, job_body
from tests.support.wait import wait_until


@pytest.fixture
def api(tmp_path: Path) -> Iterator[LiveApi]:
    live = LiveApi(tmp_path)
    yield live
    live.close()


def test_status_merges_extras_and_never_shows_secrets(tmp_path: Path) -> None:
    def extra() -> dict:
        return {"scheduler": {"running": True, "api_token": "leak-1"}, "secret": "leak-2",
                "role": "overridden?", "password": "leak-3"}

    api = LiveApi(tmp_path, token=TOKEN, admin_token="leak-4", extra_status=extra,
                  peer_apis={SELF: "http://127.0.0.1:8101"})
    try:
        status, headers, body = api.request("GET", "/status")
        assert status == 200
        assert body["id"] == SELF and body["role"] == "leader" and body["leader"] == SELF
        assert body["term"] == 1 and body["commit_index"] == body["applied_index"] == 0
        assert [p["id"] for p in body["peers"]] == [SELF, OTHER, THIRD]
        assert body["scheduler"] == {"running": True}
        assert body["api"] == "http://127.0.0.1:8101"
        text = json.dumps(body)
        for leak in ("leak-1", "leak-2", "leak-3", "leak-4", TOKEN):
            assert leak not in text
        assert headers["X-Raftcron-Index"] == "0"
    finally:
        api.close()


def test_healthz_and_readyz(api: LiveApi) -> None:
    assert api.request("GET", "/healthz")[:1] == (200,)
    status, _, body = api.request("GET", "/readyz")
    assert status == 200 and body["ready"] is True
    api.node.commit_ahead = 100
    status, headers, body = api.request("GET", "/readyz")
    assert status == 503 and body["ready"] is False and "catching up" in body["error"]
    assert headers["Retry-After"] == "1"
    api.node.commit_ahead = 0
    api.node.leader = None
    status, _, body = api.request("GET", "/readyz")
    assert status == 503 and body["error"] == "no leader"
    assert api.request("GET", "/healthz")[0] == 200


def test_nodes_lists_peers_and_ssh_nodes_with_load(api: LiveApi) -> None:
    node = {"connection_type": "ssh", "ssh_host": "db1.example", "ssh_user": "cron",
            "roles": ["db"], "capacity": 2}
    status, _, body = api.request("PUT", "/nodes/db1", node)
    assert status == 201 and body["kind"] == "node" and body["roles"] == ["db"]
    assert api.request("PUT", "/nodes/db1", node)[0] == 200
    # a peer announces its roles as a local node named by its raft id
    api.apply("put_node", {"node": {"name": OTHER, "connection_type": "local",
                                    "roles": ["web"], "capacity": 8},
                           "at": "2030-01-01T00:00:00Z"})
    api.request("POST", "/jobs", job_body("a"))
    rec = fire_record("a", "2030-01-01T01:00:00Z", run_id="r1")
    rec["target"] = "db1"
    api.apply("fire", {"runs": [rec], "at": "2030-01-01T01:00:00Z"})
    items = {n["name"]: n for n in api.request("GET", "/nodes")[2]["items"]}
    assert set(items) == {SELF, OTHER, THIRD, "db1"}
    assert items[SELF]["leader"] is True and items[SELF]["healthy"] is True
    assert items[THIRD]["healthy"] is False
    assert items[OTHER]["roles"] == ["web"] and items[OTHER]["capacity"] == 8
    assert items["db1"]["active_runs"] == 1 and items["db1"]["load"] == 0.5
    assert items[SELF]["active_runs"] == 1  # it drives the SSH session
    status, _, one = api.request("GET", "/nodes/db1")
    assert status == 200 and one["ssh_host"] == "db1.example"
    assert api.request("GET", f"/nodes/{OTHER}")[2]["kind"] == "peer"
    assert api.request("GET", "/nodes/nope")[0] == 404


def test_nodes_writes_refuse_peers_and_bad_bodies(api: LiveApi) -> None:
    status, _, body = api.request("PUT", f"/nodes/{OTHER}", {"connection_type": "local"})
    assert status == 409 and body["field"] == "name"
    status, _, body = api.request("PUT", "/nodes/x", {"connection_type": "ssh", "bogus": 1})
    assert status == 400 and body["field"] == "bogus"
    status, _, body = api.request("PUT", "/nodes/x", {"name": "y"})
    assert status == 400 and body["field"] == "name"
    assert api.state.applied_index == 0
    assert api.request("DELETE", f"/nodes/{SELF}")[0] == 409
    assert api.request("DELETE", "/nodes/x")[0] == 404
    assert api.request("PUT", "/nodes/x", {"connection_type": "ssh", "ssh_host": "h",
                                          "ssh_user": "u"})[0] == 201
    assert api.request("DELETE", "/nodes/x")[2] == {"name": "x", "deleted": True}
    assert api.request("GET", "/nodes/x")[0] == 404


def test_metrics_prometheus_text(tmp_path: Path) -> None:
    api = LiveApi(tmp_path)
    try:
        api.request("POST", "/jobs", job_body("a"))
        api.apply("fire", {"runs": [fire_record("a", "2030-01-01T01:00:00Z", run_id="r1",
                                                peer=OTHER)], "at": "2030-01-01T01:00:00Z"})
        skipped = fire_record("a", "2030-01-01T02:00:00Z", run_id="r2")
        skipped.update(status="skipped", reason="previous run r1 still running")
        api.apply("fire", {"runs": [skipped], "at": "2030-01-01T02:00:00Z"})
        status, headers, text = api.request("GET", "/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
        families = {f.name: f for f in text_string_to_metric_families(text)}

        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in families.values() for s in f.samples}

        def value(name: str, **labels: str) -> float:
            return samples[(name, tuple(sorted(labels.items())))]

        assert value("raftcron_runs", status="pending") == 1
        assert value("raftcron_runs_not_run", status="skipped", reason="overlap") == 1
        assert value("raftcron_runs_not_run", status="missed", reason="paused") == 0
        assert value("raftcron_runs_in_flight", peer=OTHER) == 1
        assert value("raftcron_runs_in_flight", peer=SELF) == 0
        assert value("raftcron_raft_role", role="leader") == 1
        assert value("raftcron_raft_term") == 1
        assert value("raftcron_raft_applied_index") == 3
        assert value("raftcron_apply_lag") == 0
        assert value("raftcron_peer_reachable", peer=THIRD) == 0
        # No daemon behind this API: the event metrics are there, at zero.
        assert families["raftcron_fire_skew_seconds"].type == "histogram"
        assert value("raftcron_runs_started_total") == 0
        assert families["process_cpu_seconds"].type == "counter"
        status, headers, _ = api.request(
            "GET", "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        assert status == 200
        assert headers["Content-Type"].startswith("application/openmetrics-text")
    finally:
        api.close()


def test_openapi_documents_every_route(api: LiveApi) -> None:
    status, _, doc = api.request("GET", "/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert documented == {(r.method, r.path) for r in ROUTES}
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op["summary"] and op["responses"], path
    assert "Job" in doc["components"]["schemas"]
    post = doc["paths"]["/jobs"]["post"]
    assert {"201", "400", "401", "409", "413", "415"} <= set(post["responses"])


def test_min_index_waits_until_applied(api: LiveApi) -> None:
    api.request("POST", "/jobs", job_body("a"))
    target = api.state.applied_index + 1
    answer: list = []
    reader = threading.Thread(target=lambda: answer.append(
        api.request("GET", f"/jobs/b?min_index={target}&timeout=20")))
    reader.start()
    wait_until(lambda: api.node._changed is not None, 10, "the read to wait on the node")
    assert not answer
    api.apply("put_job", {"job": {"name": "b", "schedule": "0 * * * *", "command": ["true"]},
                          "expanded": "0 * * * *", "at": "2030-01-01T00:00:00Z"})
    reader.join(30)
    status, headers, body = answer[0]
    assert status == 200 and body["name"] == "b"
    assert int(headers["X-Raftcron-Index"]) >= target


def test_min_index_times_out_with_503(api: LiveApi) -> None:
    status, headers, body = api.request("GET", "/jobs?min_index=50&timeout=0.2")
    assert status == 503 and body["field"] == "min_index"
    assert "50" in body["error"] and headers["Retry-After"] == "1"
    assert api.request("GET", "/jobs?min_index=0")[0] == 200
    assert api.request("GET", "/jobs?min_index=x")[2]["field"] == "min_index"
    assert api.request("GET", "/jobs?min_index=1&timeout=999")[2]["field"] == "timeout"


def test_consistency_strong_waits_for_the_read_index_and_proposes_nothing(
        api: LiveApi) -> None:
    api.apply("noop", {})
    status, headers, _ = api.request("GET", "/jobs?consistency=strong")
    assert status == 200 and headers["X-Raftcron-Index"] == "1"
    assert api.node.proposed == []  # a read never appends to the log
    assert api.request("GET", "/jobs?consistency=eventual")[2]["field"] == "consistency"
    # The leader has committed one entry this peer has not applied: the read waits for it.
    api.node.commit_ahead = 1
    status, _, body = api.request("GET", "/jobs?consistency=strong&timeout=0.2")
    assert status == 503 and body["field"] == "consistency"
    answer: list = []
    reader = threading.Thread(target=lambda: answer.append(
        api.request("GET", "/jobs?consistency=strong&timeout=20")))
    reader.start()
    wait_until(lambda: api.node.waits > 1)  # the reader has its read index and waits for it
    api.apply("noop", {})
    reader.join(30)
    assert answer and answer[0][0] == 200 and answer[0][1]["X-Raftcron-Index"] == "2"
    api.node.commit_ahead = 0
    # Without a majority heard from, the leader cannot vouch for its commit index.
    api.node.peers[1]["last_contact"] = None
    assert api.request("GET", "/jobs?consistency=strong&timeout=0.2")[0] == 503
    api.node.leader = None
    assert api.request("GET", "/jobs?consistency=strong")[0] == 503
    assert api.node.proposed == []


def test_writes_need_the_token_reads_do_not(tmp_path: Path) -> None:
    api = LiveApi(tmp_path, token=TOKEN)
    try:
        status, headers, body = api.request("POST", "/jobs", job_body())
        assert status == 401 and body["field"] == "authorization"
        assert headers["WWW-Authenticate"] == "Bearer"
        assert "X-Raftcron-Index" in headers
        assert api.request("POST", "/jobs", job_body(), token="wrong")[0] == 401
        assert api.request("PUT", "/jobs/backup", job_body(), token=TOKEN[:-1])[0] == 401
        assert api.request("DELETE", "/jobs/backup",
                           headers={"Authorization": f"Basic {TOKEN}"})[0] == 401
        assert api.state.applied_index == 0
        assert api.request("GET", "/jobs")[0] == 200
        assert api.request("POST", "/jobs", job_body(), token=TOKEN)[0] == 201
    finally:
        api.close()


def test_unavailable_node_is_503_with_retry_after(api: LiveApi) -> None:
    api.node.unavailable = True
    status, headers, body = api.request("POST", "/jobs", job_body())
    assert status == 503 and headers["Retry-After"] == "1"
    assert "no leader" in body["error"]


def test_bad_idempotency_key_is_400(api: LiveApi) -> None:
    status, _, body = api.request("POST", "/jobs", job_body(),
                                  headers={"Idempotency-Key": "k" * 300})
    assert status == 400 and body["field"] == "Idempotency-Key"


def test_unknown_route_and_wrong_method_are_json(api: LiveApi) -> None:
    status, headers, body = api.request("GET", "/nothing/here")
    assert status == 404 and body["field"] == "path"
    assert "X-Raftcron-Index" in headers
    status, headers, body = api.request("DELETE", "/status")
    assert status == 405 and body["field"] == "method" and headers["Allow"] == "GET"
    status, _, body = api.request("POST", "/jobs/x")  # PATCH is a route since issue 13
    assert status == 405 and "PUT" in body["error"] and "PATCH" in body["error"]


def test_catch_all_answers_500_json_without_a_traceback(tmp_path: Path) -> None:
    def broken() -> dict:
        raise RuntimeError("a bug in an extra_status provider")

    api = LiveApi(tmp_path, extra_status=broken)
    try:
        status, headers, body = api.request("GET", "/status")
        assert status == 500 and body == {"error": "internal error", "field": None}
        assert "X-Raftcron-Index" in headers
    finally:
        api.close()


def test_serve_on_a_busy_port_is_a_config_error(api: LiveApi) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ConfigError) as err:
            api.call(serve(api.ctx, "127.0.0.1", port))
    assert err.value.field == "api" and str(port) in err.value.message
