"""Helpers for the cluster tests of firing, policies, catch-up and failover (issue 4).

Jobs leave side effects in files (`echo $RAFTCRON_SCHEDULED_TS $RAFTCRON_PEER >> FILE`): the
tests count slots there as well as in the API, so a slot the state forgot or a process that
ran twice shows either way. Everything waits by polling with a deadline.

`biased_cluster` makes the first leader predictable and keeps it from executing runs: peer 0
has quick elections and no roles, peers 1 and 2 slow elections and the role `worker`. Jobs
that ask for `worker` then never run on peer 0, so killing or stopping it tests the firing
alone (a run in flight on a killed peer is a different test: `lost` and retried).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.cluster import TEST_RAFT, Cluster, Peer
from tests.support.wait import wait_until

ACTIVE = ("pending", "running")
WORKER_ROLE = "worker"
#: Elections of peers 1 and 2 in a biased cluster: slower than peer 0's (0.3-0.9 s), so peer 0
#: wins the first one; still quick enough for a failover test.
SLOW_ELECTIONS = {"election_timeout_min": 2.0, "election_timeout_max": 3.0,
                  "connection_timeout": 3.0}


def epoch(text: str) -> float:
    """An ISO 8601 time from the API (`...Z`) as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def slot_line(path: Path) -> str:
    """A shell command appending `<slot epoch> <peer>` to `path`."""
    return f'echo "$RAFTCRON_SCHEDULED_TS $RAFTCRON_PEER" >> {path}'


def file_slots(path: Path) -> list[tuple[int, str]]:
    """The (slot, peer) lines a job wrote, in file order; a torn last line is left out."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            with contextlib.suppress(ValueError):
                out.append((round(float(parts[0])), parts[1]))
    return out


def slot_counts(path: Path) -> Counter[int]:
    return Counter(s for s, _ in file_slots(path))


def put_job(peer: Peer | Callable[[], Peer], name: str, spec: dict[str, Any],
            timeout: float = 30.0) -> dict:
    """PUT a job, retrying while the cluster has no leader (a PUT is idempotent)."""
    def attempt() -> dict | None:
        target = peer() if callable(peer) else peer
        resp = target.put(f"/jobs/{name}", spec, timeout=10)
        if resp.status in (200, 201):
            return resp.json()
        if resp.status >= 500:
            return None  # no leader yet, or a proposal whose fate is unknown: again
        raise AssertionError(f"PUT /jobs/{name}: {resp}")
    return wait_until(attempt, timeout, f"PUT /jobs/{name} to succeed")


def post(peer: Peer, path: str, timeout: float = 30.0) -> dict:
    """POST with retries while there is no leader."""
    def attempt() -> dict | None:
        resp = peer.post(path, timeout=10)
        if resp.status in (200, 201, 202):
            return resp.json() or {}
        if resp.status >= 500:
            return None
        raise AssertionError(f"POST {path}: {resp}")
    return wait_until(attempt, timeout, f"POST {path} to succeed")


def all_runs(peer: Peer, job: str | None = None, **filters: str) -> list[dict]:
    """Every run (all pages), oldest slot first, then attempt."""
    items: list[dict] = []
    cursor = None
    while True:
        query = "&".join(f"{k}={v}" for k, v in
                         {"job": job, "limit": "1000", "cursor": cursor, **filters}.items()
                         if v is not None)
        resp = peer.get(f"/runs?{query}", timeout=10)
        assert resp.status == 200, resp
        body = resp.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return sorted(items, key=lambda r: (r["slot"], r["attempt"], r["id"]))


def scheduled(runs: Iterable[dict]) -> list[dict]:
    """The records of scheduled slots (no manual runs, no retries)."""
    return [r for r in runs if not r.get("manual") and not r.get("retry_of")]


def wait_settled(peer: Peer, job: str, timeout: float = 60.0) -> list[dict]:
    """Wait until none of the job's runs is pending or running; return them all."""
    def settled() -> list[dict] | None:
        runs = all_runs(peer, job)
        return runs if runs and all(r["status"] not in ACTIVE for r in runs) else None
    return wait_until(settled, timeout, f"every run of {job} to end")


def pause(peer: Peer, job: str) -> None:
    post(peer, f"/jobs/{job}/pause")


def wait_wall_clock(t: float, timeout: float = 60.0) -> None:
    """Wait until the wall clock has passed `t` (epoch seconds): collecting slots is waiting
    for time to pass, so this polls the clock rather than sleeping a computed amount."""
    wait_until(lambda: time.time() > t, timeout, f"the wall clock to pass {t:.0f}",
               interval=0.1)


def live_api_peer(cluster: Cluster) -> Peer:
    """Some running peer (for reads and writes that any peer accepts)."""
    return cluster.running()[0]


def biased_cluster(make_cluster: Callable[..., Cluster], tmp_path: Path,
                   config_text: str = "") -> Cluster:
    """A started 3-peer cluster whose leader is peer 0, which carries no role (see above)."""
    slow = tmp_path / "slow.toml"
    raft = {**TEST_RAFT, **SLOW_ELECTIONS}
    slow.write_text(config_text + "\n[raft]\n" +
                    "".join(f"{k} = {v!r}\n" for k, v in raft.items()))
    worker = ["--config", str(slow), "--roles", WORKER_ROLE]  # the last --config wins
    cluster = make_cluster(config_text=config_text, peer_args={1: worker, 2: worker}).start()
    for _ in range(3):
        leader = cluster.wait_for_leader()
        if leader is cluster.peers[0]:
            return cluster
        # Peer 0 started late: restart the leader, and peer 0's quick timeout wins this time.
        leader.stop()
        leader.start()
    raise AssertionError(f"peer 0 should win an election, the leader is {leader}")


def pid_alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie (a reaped or zombie process is gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def kill_pids(paths: Iterable[Path], expect: str = "sleep 60") -> None:
    """Teardown: SIGKILL the processes whose pids the tests' commands wrote (orphans of a
    killed peer, or a tree that should already be gone) — only while such a pid still runs a
    command line containing `expect`, so a pid the system has since reused is left alone."""
    for path in paths:
        with contextlib.suppress(OSError, ValueError):
            for word in path.read_text().split():
                pid = int(word)
                with contextlib.suppress(OSError):
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                    if expect.encode() in cmdline:
                        os.kill(pid, signal.SIGKILL)
