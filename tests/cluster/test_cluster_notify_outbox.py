"""The notification outbox across a leader kill, on three real peers (issue 15, item 2).

A job fails once; its `failure` notification is committed (intent) and the leader starts
delivering it to a webhook that holds the request open. The leader is killed between the
intent and the delivery's result. The next leader finds the notification pending and
delivers it: the webhook receives the event exactly once (one accepted body; the held one was
never answered), signed with the job's hook secret, and every peer's outbox says `delivered`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.cluster import Cluster
from tests.support.cluster_jobs import put_job
from tests.support.wait import wait_until

SECRET = "hook-secret-for-the-test"


class HoldingHook:
    """Records accepted bodies; while `hold` is set it reads a request and never answers."""

    def __init__(self) -> None:
        self.accepted: list[tuple[dict, dict, bytes]] = []
        self.held = 0
        self.hold = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                if hook.hold.is_set():
                    with hook.lock:
                        hook.held += 1
                    hook.release.wait(60)  # the sender dies while we hold it
                    return
                with hook.lock:
                    hook.accepted.append((json.loads(raw), dict(self.headers), raw))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[HoldingHook]:
    h = HoldingHook()
    yield h
    h.close()


def test_cluster_notification_survives_a_leader_kill_between_intent_and_delivery(
        make_cluster: Callable[..., Cluster], hook: HoldingHook) -> None:
    cluster = make_cluster(3).start()
    leader = cluster.wait_for_leader()
    hook.hold.set()
    put_job(leader, "fails", {
        "schedule": "@at 2099-01-01T00:00:00Z", "command": "exit 3",
        "notify": {"on": ["failure"], "webhook": hook.url, "webhook_secret": SECRET}})
    run = leader.post("/jobs/fails/run").json()
    wait_until(lambda: hook.held >= 1, 60, "the leader's delivery held open by the webhook")
    pending = leader.get("/notifications?status=pending").json()["items"]
    assert [(n["job"], n["event"], n["run_id"]) for n in pending] == [
        ("fails", "failure", run["id"])]
    leader.kill()
    hook.hold.clear()

    new = cluster.wait_for_leader(exclude=[leader])
    wait_until(lambda: hook.accepted, 60, "the new leader's delivery")

    def delivered_everywhere() -> bool:
        for peer in cluster.running():
            items = peer.get("/notifications").json()["items"]
            if [n["status"] for n in items] != ["delivered"]:
                return False
        return True

    wait_until(delivered_everywhere, 60, "the outbox says delivered on every running peer")
    assert len(hook.accepted) == 1
    body, headers, raw = hook.accepted[0]
    assert body["event"] == "failure" and body["run"]["id"] == run["id"]
    assert headers["X-Raftcron-Delivery"] == body["id"] == pending[0]["id"]
    assert body["peer"] == leader.id  # the leader that decided the event
    expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert headers["X-Raftcron-Signature"] == expected
    # The secret is a secret: not served without a token, never in a log.
    shown = new.get("/jobs/fails").json()["notify"]["webhook_secret"]
    assert shown == "***"
    assert SECRET not in cluster.logs(400)
