"""Three real raftcron processes tell a webhook about failures (design §7): the global
`[notify]` webhook from the config file hears each failed run exactly once, from the leader,
and only after the run's last retry."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.cluster import Cluster
from tests.support.cluster_jobs import all_runs, pause, put_job, wait_settled
from tests.support.wait import wait_until


class Hook:
    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with hook.lock:
                    hook.bodies.append(body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[dict]:
        with self.lock:
            return list(self.bodies)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


def test_cluster_notify_failure_reaches_the_webhook_once_per_failed_run(
        make_cluster: Callable[..., Cluster], hook: Hook) -> None:
    cluster = make_cluster(3, config_text=f'[notify]\nwebhook = "{hook.url}"\n').start()
    cluster.wait_for_leader()
    peer = cluster.peers[0]
    put_job(peer, "flaky", {
        "schedule": "*/2 * * * * *", "command": "echo trying; exit 3", "retries": 1,
        "retry_backoff": "1s", "notify": {"on": ["failure", "recovery"]},
    })

    def final_failures() -> list[dict]:
        return [r for r in all_runs(peer, "flaky") if r["status"] == "failed"
                and r["attempt"] == 2]

    wait_until(lambda: len(final_failures()) >= 3, 30, "three failed runs past their retry")
    pause(peer, "flaky")
    runs = wait_settled(peer, "flaky", timeout=30)
    final = {r["id"] for r in runs if r["status"] == "failed" and r["attempt"] == 2}
    retried = {r["id"] for r in runs if r["status"] == "failed" and r["attempt"] == 1}
    assert len(final) >= 3 and retried

    def told() -> Counter[str] | None:
        got = Counter(b["run"]["id"] for b in hook.events())
        return got if set(got) >= final else None

    got = wait_until(told, 20, "a failure notification for every failed run")
    assert set(got) == final and set(got.values()) == {1}  # once each; none for attempt 1
    bodies = hook.events()
    assert {b["event"] for b in bodies} == {"failure"} and {b["job"] for b in bodies} == {"flaky"}
    leaders = {b["peer"] for b in bodies}
    assert leaders <= {p.id for p in cluster.peers}
    first = bodies[0]["run"]
    assert first["status"] == "failed" and first["exit_code"] == 3
    assert "trying" in first["stdout_tail"]
