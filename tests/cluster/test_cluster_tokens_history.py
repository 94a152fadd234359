"""Named tokens with roles and the audit history, on three real peers (issue 15, items 3-4).

The cluster names three tokens (`ci` writer, `grafana` reader, `oncall` admin; one from the
config file, two from the environment) and closes reads. A job is created by `ci`, the leader
is killed, the job is changed and paused by `oncall` through another peer, and every peer's
`GET /jobs/{name}/history` must then show the same four changes with the token names, the
field diff, and never a token value or an `env` secret; no log mentions a value.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cluster import Cluster, Peer
from tests.support.wait import wait_until

CI = "ci-0123456789abcdef"
GRAFANA = "grafana-0123456789abcdef"
ONCALL = "oncall-0123456789abcdef"
NEVER = "@at 2099-01-01T00:00:00Z"
CONFIG = f"""reads_need_token = true
unprivileged_users = ["daemon"]
[tokens.ci]
role = "writer"
token = "{CI}"
[tokens.grafana]
role = "reader"
token_env = "GRAFANA_TOKEN"
[tokens.oncall]
role = "admin"
token_env = "ONCALL_TOKEN"
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    env = {"GRAFANA_TOKEN": GRAFANA, "ONCALL_TOKEN": ONCALL}
    c = Cluster(tmp_path_factory.mktemp("tokens"), 3, config_text=CONFIG,
                peer_env={i: env for i in range(3)}, client_token=GRAFANA)
    try:
        c.start()
        c.wait_for_leader()
        yield c
    except BaseException:
        print(c.logs())
        raise
    finally:
        c.close()


def write(peer: Peer, method: str, path: str, body: object, token: str) -> dict:
    """A write retried while there is no leader (a 5xx), with one idempotency key."""
    key = f"{method}-{path}-{token[:4]}"
    def attempt() -> dict | None:
        resp = peer.request(method, path, body, token=token,
                            headers={"Idempotency-Key": key})
        if resp.status >= 500:
            return None
        assert resp.status < 300, (resp.status, resp.json())
        return resp.json()
    return wait_until(attempt, 30, f"{method} {path}")


def test_cluster_roles_are_enforced(cluster: Cluster) -> None:
    peer = cluster.peers[0]
    assert peer.get("/jobs", token=None).status == 401  # reads_need_token
    assert peer.get("/jobs", token=GRAFANA).status == 200
    denied = peer.put("/jobs/nope", {"schedule": NEVER, "command": "true"}, token=GRAFANA)
    assert denied.status == 403 and denied.json()["field"] == "authorization"
    wrong = peer.put("/jobs/nope", {"schedule": NEVER, "command": "true"}, token="x" * 20)
    assert wrong.status == 401
    # A writer cannot make a job that runs as another user (not listed); the admin can.
    body = {"schedule": NEVER, "command": "id -u", "user": "nobody"}
    assert peer.put("/jobs/asnobody", body, token=CI).status == 403
    write(peer, "PUT", "/jobs/asnobody", body, ONCALL)


def test_cluster_history_names_the_token_across_a_leader_kill(cluster: Cluster) -> None:
    first = cluster.wait_for_leader()
    write(first, "PUT", "/jobs/backup", {"schedule": NEVER, "command": "echo v1",
                                         "user": "daemon",
                                         "env": {"DB_PASSWORD": "hunter2"}}, CI)
    first.kill()
    other = next(p for p in cluster.peers if p is not first)
    write(other, "PUT", "/jobs/backup", {"schedule": NEVER, "command": "echo v2",
                                         "user": "daemon",
                                         "env": {"DB_PASSWORD": "hunter3"}}, ONCALL)
    write(other, "POST", "/jobs/backup/pause", None, ONCALL)
    first.start()

    def history(peer: Peer) -> list[dict] | None:
        resp = peer.get("/jobs/backup/history", token=GRAFANA)
        items = resp.json().get("items") if resp.status == 200 else None
        return items if items and len(items) == 3 else None

    seen = [wait_until(lambda p=p: history(p), 60, f"history on {p}") for p in cluster.peers]
    assert seen[0] == seen[1] == seen[2]
    items = seen[0]
    assert [(i["op"], i["version"], i["by"]) for i in items] == [
        ("pause", 3, "oncall"), ("update", 2, "oncall"), ("create", 1, "ci")]
    assert items[1]["changes"]["command"] == {"from": "echo v1", "to": "echo v2"}
    assert items[1]["changes"]["env"]["to"] == {"DB_PASSWORD": "(secret) changed"}
    text = str(items) + cluster.logs(400)
    for secret in ("hunter2", "hunter3", CI, GRAFANA, ONCALL):
        assert secret not in text
    assert "by token 'oncall'" in cluster.logs(400)
    missing = cluster.peers[0].get("/jobs/never-existed/history", token=GRAFANA)
    assert missing.status == 404
