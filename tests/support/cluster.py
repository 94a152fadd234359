"""Real raftcron peers as subprocesses on 127.0.0.1, for cluster tests and benchmarks.

`Cluster(tmp_path, size=3)` picks free ports (raft port P, API port P + 1000, the daemon's
convention for other peers' APIs), writes a config with test-tuned `[raft]` timings, and
starts `python -m raftcron --peers ... --self ... --api ... --data-dir ...` per peer, each
peer's stdout/stderr going to `<peer dir>/peer.log`. Everything waits by polling with a
deadline; nothing sleeps a fixed time. `Cluster.close()` kills whatever still runs (the
`make_cluster` fixture in tests/conftest.py calls it and prints the logs when a test failed).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from tests.support.ports import API_OFFSET, free_port_outside, free_port_pair
from tests.support.wait import GaveUp, wait_until

#: Raft timings for tests: quick elections, quick reconnects (small tables, so no long stalls;
#: see docs/design/replication.md for why the production defaults are slower).
TEST_RAFT = {
    "heartbeat": 0.05,
    "election_timeout_min": 0.3,
    "election_timeout_max": 0.9,
    "connection_timeout": 2.0,
    "connection_retry": 0.2,
    "leader_fallback": 3.0,
}
DEFAULT_SECRET = "cluster-test-secret"


class HttpResponse:
    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.status = status
        self.body = body
        self.headers = headers

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    @property
    def index(self) -> int | None:
        value = self.headers.get("x-raftcron-index")
        return int(value) if value is not None else None

    def __repr__(self) -> str:
        return f"<HttpResponse {self.status} {self.body[:200]!r}>"


def http(method: str, url: str, body: Any = None, *, token: str | None = None,
         headers: dict[str, str] | None = None, timeout: float = 10.0) -> HttpResponse:
    """One request with urllib; any status comes back as a response (no exception)."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    all_headers = {"Accept": "application/json"}
    if data is not None:
        all_headers["Content-Type"] = "application/json"
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    all_headers.update(headers or {})
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return HttpResponse(resp.status, resp.read(), {k.lower(): v for k, v in
                                                           resp.headers.items()})
    except urllib.error.HTTPError as err:
        return HttpResponse(err.code, err.read(), {k.lower(): v for k, v in err.headers.items()})


class Peer:
    """One raftcron process of a `Cluster`."""

    def __init__(self, cluster: Cluster, index: int, raft_port: int,
                 api_port: int | None = None) -> None:
        self.cluster = cluster
        self.index = index
        self.raft_port = raft_port
        self.api_port = raft_port + API_OFFSET if api_port is None else api_port
        self.id = f"127.0.0.1:{raft_port}"
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.dir = cluster.root / f"peer{index}"
        self.data_dir = self.dir / "data"
        self.log_path = self.dir / "peer.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def __repr__(self) -> str:
        return f"<Peer {self.index} {self.id} pid={self.pid}>"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command(self) -> list[str]:
        c = self.cluster
        args = [sys.executable, "-m", "raftcron", "--peers", ",".join(p.id for p in c.peers),
                "--self", self.id, "--api", f"127.0.0.1:{self.api_port}",
                "--data-dir", str(self.data_dir), "--config", str(c.config_path)]
        return args + list(c.extra_args) + list(c.peer_args.get(self.index, ()))

    def start(self, wait: bool = True) -> Peer:
        """Start the process (its log appended to peer.log); wait until /healthz answers."""
        assert not self.running, f"{self} is already running"
        self.dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        for name in ("RAFTCRON_SECRET", "RAFTCRON_TOKEN", "RAFTCRON_READ_TOKEN",
                     "RAFTCRON_ADMIN_TOKEN"):
            env.pop(name, None)
        if self.cluster.secret:
            env["RAFTCRON_SECRET"] = self.cluster.secret
        if self.cluster.token:
            env["RAFTCRON_TOKEN"] = self.cluster.token
        if self.cluster.read_token:
            env["RAFTCRON_READ_TOKEN"] = self.cluster.read_token
        if self.cluster.admin_token:
            env["RAFTCRON_ADMIN_TOKEN"] = self.cluster.admin_token
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.cluster.peer_env.get(self.index, {}))
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"===== start #{self.starts}: {' '.join(self.command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env,
                                         cwd=str(self.dir), start_new_session=True)
        if wait:
            self.wait_up()
        return self

    def wait_up(self, timeout: float = 30.0) -> None:
        def up() -> bool:
            if not self.running:
                code = self.proc.returncode if self.proc else None
                raise GaveUp(f"{self} exited with {code}:\n{self.log_tail()}")
            return self.get("/healthz", timeout=2.0).status == 200
        wait_until(up, timeout, f"{self} to answer /healthz")

    def announced(self) -> bool:
        """True once this start of the peer has its API address in the replicated state (it
        proposes that once it has caught up: one log entry per peer after a fresh start)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        since = text.rsplit("===== start #", 1)[-1]
        return ("announced this peer's API address" in since
                or "is announced already" in since)

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 20.0) -> int | None:
        """Send `sig`; for SIGKILL/SIGTERM/SIGINT wait for the exit and return its status."""
        if not self.running:
            return self.proc.returncode if self.proc else None
        assert self.proc is not None
        self.proc.send_signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            return self.proc.wait(timeout)
        return None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM and wait; the clean shutdown must exit 0."""
        status = self.kill(signal.SIGTERM, timeout)
        assert status == 0, f"{self} exited with {status} on SIGTERM:\n{self.log_tail()}"

    def wipe(self) -> None:
        assert not self.running, "stop the peer before wiping it"
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # --- HTTP ------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> HttpResponse:
        kwargs.setdefault("token", self.cluster.client_token)
        return http(method, self.api + path, body, **kwargs)

    def get(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.request("GET", path, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> HttpResponse:
        return self.request("PUT", path, body, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> HttpResponse:
        return self.request("POST", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.request("DELETE", path, **kwargs)

    def status(self) -> dict:
        resp = self.get("/status", timeout=3.0)
        assert resp.status == 200, resp
        return resp.json()


class Cluster:
    """`size` peers on 127.0.0.1 under `root`. Not started until `start()`.

    `raft` adds `[raft]` settings on top of the quick test timings (`TEST_RAFT`), or of the
    production defaults with `test_timings=False`; `config_text` is prepended to the config
    file; `extra_args` go to every peer, `peer_args[i]` to peer i only, and `peer_env[i]` is
    added to peer i's environment. `read_token` and `admin_token` go to every peer's
    environment. `privileged` (default True) writes `allow_privileged_jobs = true`: the tests
    run as root, where a job without `user` is privileged; tests of that rule pass False.
    `free_api_ports` gives each peer an API port of its own choosing (never raft port +
    1000), so the peers know each other's API only from what they announce. `client_token`
    is what the harness's requests present when it is not `token` (named tokens in the config).
    """

    def __init__(self, root: Path, size: int = 3, *, secret: str | None = DEFAULT_SECRET,
                 token: str | None = None, extra_args: Sequence[str] = (),
                 raft: dict[str, float] | None = None, config_text: str = "",
                 peer_args: dict[int, Sequence[str]] | None = None,
                 peer_env: dict[int, dict[str, str]] | None = None,
                 test_timings: bool = True, read_token: str | None = None,
                 admin_token: str | None = None, privileged: bool = True,
                 free_api_ports: bool = False, client_token: str | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.secret = secret
        self.token = token
        #: What the harness's own requests present (default: `token`).
        self.client_token = client_token or token
        self.read_token = read_token
        self.admin_token = admin_token
        self.extra_args = list(extra_args)
        self.peer_args = dict(peer_args or {})
        self.peer_env = dict(peer_env or {})
        taken: set[int] = set()
        ports = []
        for _ in range(size):
            port = free_port_pair(taken)
            taken.update({port, port + API_OFFSET})
            ports.append(port)
        api_ports: list[int | None] = [None] * size
        if free_api_ports:
            for i in range(size):
                api_ports[i] = port = free_port_outside(taken)
                taken.add(port)
        self.peers = [Peer(self, i, port, api_ports[i]) for i, port in enumerate(ports)]
        self.config_path = self.root / "cluster.toml"
        # `test_timings=False` keeps the production defaults (benchmarks measure those).
        tuning = {**(TEST_RAFT if test_timings else {}), **(raft or {})}
        lines = ["[raft]"] + [f"{k} = {v!r}" for k, v in tuning.items()]
        # Top-level keys must come before the first table.
        head = "allow_privileged_jobs = true\n" if privileged else ""
        self.config_path.write_text(head + config_text + "\n" + "\n".join(lines) + "\n")

    def start(self) -> Cluster:
        for peer in self.peers:
            peer.start(wait=False)
        for peer in self.peers:
            peer.wait_up()
        return self

    def close(self) -> None:
        """Kill every process still running (used on teardown, pass or fail)."""
        for peer in self.peers:
            if peer.running:
                with contextlib.suppress(Exception):
                    peer.kill(signal.SIGKILL, timeout=10)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def logs(self, lines: int = 80) -> str:
        return "\n".join(f"----- {p} log (last {lines} lines) -----\n{p.log_tail(lines)}"
                         for p in self.peers)

    def running(self, exclude: Iterable[Peer] = ()) -> list[Peer]:
        skip = set(map(id, exclude))
        return [p for p in self.peers if p.running and id(p) not in skip]

    def leader(self, exclude: Iterable[Peer] = ()) -> Peer | None:
        """The peer that says it leads, if the others that answer agree; else None."""
        candidates = self.running(exclude)
        views = {}
        for peer in candidates:
            with contextlib.suppress(Exception):
                views[peer.id] = peer.status()
        leaders = [p for p in candidates if views.get(p.id, {}).get("role") == "leader"]
        if len(leaders) != 1:
            return None
        leader = leaders[0]
        if any(v.get("leader") not in (leader.id, None) for v in views.values()):
            return None
        return leader

    def wait_for_leader(self, exclude: Iterable[Peer] = (), timeout: float = 30.0) -> Peer:
        """A leader among the running peers not in `exclude`, known to every running peer."""
        exclude = list(exclude)

        def agreed() -> Peer | None:
            leader = self.leader(exclude)
            if leader is None:
                return None
            views = [p.status() for p in self.running(exclude)]
            if all(v.get("leader") == leader.id for v in views):
                return leader
            return None
        return wait_until(agreed, timeout, "a leader every running peer agrees on")

    def wait_for_announced(self, timeout: float = 30.0) -> None:
        """Wait until every running peer has announced its API address: a test that counts
        log entries starts after those start-up entries."""
        for peer in self.running():
            wait_until(peer.announced, timeout, f"{peer} to announce its API address")

    def followers(self, leader: Peer) -> list[Peer]:
        return [p for p in self.running() if p is not leader]

    def wait_for_applied(self, index: int, peers: Iterable[Peer] | None = None,
                         timeout: float = 30.0) -> None:
        """Every given peer (default: all running) has applied raft index `index`."""
        targets = list(peers) if peers is not None else self.running()
        for peer in targets:
            wait_until(lambda p=peer: p.status()["applied_index"] >= index, timeout,
                       f"{peer} to apply index {index}")

    def wait_until(self, predicate: Callable[[], Any], timeout: float = 30.0,
                   message: str = "condition") -> Any:
        return wait_until(predicate, timeout, message)
