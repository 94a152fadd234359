"""Test support for the API, client and CLI tests (no tests here).

`LiveApi` runs the real aiohttp app on an ephemeral port in a thread with its own event loop,
over a real `StateMachine` and a real `ReadDb` on one tmp SQLite file. A `FakeNode`
(tests/support/fake_node.py) stands in for the Raft node: `propose` applies the command
straight into the state machine at the next index, so everything above the node (validation,
commands, apply, SQLite reads, HTTP) is the real code. Tests talk to it over HTTP only
(urllib or `raftcron.client.Client`), so the synchronous client never blocks the loop that
serves it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from raftcron.api import ApiContext, serve
from raftcron.client import Client
from raftcron.clock import FakeClock
from raftcron.db.reader import ReadDb
from raftcron.model.privilege import Identity
from raftcron.state.machine import StateMachine
from tests.support import records
from tests.support.fake_node import OTHER, SELF, THIRD, FakeNode

START = datetime(2030, 1, 1, 0, 0, tzinfo=UTC)
TOKEN = "s3cret-token"


class LiveApi:
    """A served API on 127.0.0.1:<ephemeral> with a fake node over real SQLite."""

    def __init__(self, root: Path, *, token: str | None = None, admin_token: str | None = None,
                 read_token: str | None = None, allow_privileged_jobs: bool = True,
                 identity: Identity | None = None,
                 self_id: str = SELF, peer_apis: dict[str, str] | None = None,
                 extra_status: Callable[[], dict] | None = None,
                 cancel_local_run: Any = None) -> None:
        """`allow_privileged_jobs` defaults to True here: the tests run as root, where every
        job without `user` is privileged (`raftcron.model.privilege`); tests of that rule pass
        False, and `identity` to pretend the daemon runs as someone else."""
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.clock = FakeClock(START)
        self.state = StateMachine(root / "state.db")
        self.read = ReadDb(root / "state.db")
        self.node = FakeNode(self.state, self_id, peers=[
            {"id": self_id, "self": True, "reachable": True, "last_contact": 0.0},
            {"id": OTHER, "self": False, "reachable": True, "last_contact": 0.0},
            {"id": THIRD, "self": False, "reachable": False, "last_contact": None},
        ])
        self.ctx = ApiContext(
            self_id=self_id, read=self.read, node=self.node, clock=self.clock,  # type: ignore[arg-type]
            data_dir=root, token=token, peer_apis=dict(peer_apis or {}),
            extra_status=extra_status, admin_token=admin_token, read_token=read_token,
            allow_privileged_jobs=allow_privileged_jobs,
            identity=identity or Identity.current(), cancel_local_run=cancel_local_run,
        )
        self.ctx.wait_timeout = 2.0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.server = self.call(serve(self.ctx, "127.0.0.1", 0))
        self.url = self.server.url

    def call(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def on_loop(self, fn: Callable[[], Any]) -> Any:
        """Run a plain function on the server's loop (where the node lives)."""
        future: Future = Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the caller
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return future.result(30)

    def apply(self, op: str, args: dict, key: str | None = None) -> dict:
        """A command applied as if another peer had proposed it."""
        return self.on_loop(lambda: self.node.apply(op, args, key))

    def client(self, token: str | None = None) -> Client:
        return Client(self.url, token=token, timeout=10)

    def request(self, method: str, path: str, body: Any = None, *,
                headers: dict[str, str] | None = None, raw: bytes | None = None,
                token: str | None = None) -> tuple[int, dict[str, str], Any]:
        """One HTTP call that never raises on a status: (status, headers, JSON or text)."""
        data = raw
        hdrs = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, rh, payload = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            status, rh, payload = exc.code, dict(exc.headers), exc.read()
        if "json" in rh.get("Content-Type", ""):
            return status, rh, json.loads(payload)
        return status, rh, payload.decode()

    def close(self) -> None:
        self.call(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
        self.read.close()
        self.state.close()


def job_body(name: str = "backup", **fields: Any) -> dict[str, Any]:
    """`records.job_body` with a command (the API requires one)."""
    return records.job_body(name, **{"command": ["/bin/echo", "hi"], **fields})


def fire_record(job: str, slot: str, *, run_id: str, peer: str = SELF,
                status: str = "pending") -> dict[str, Any]:
    """`records.run_record` as this module's tests fire it: run on `peer` (default SELF)."""
    return records.run_record(run_id, job, slot, peer=peer, status=status)
