"""API benchmark on a real three-peer cluster (127.0.0.1, secret on): not a test.

Measures, and prints as a markdown section (`--write` stores it in docs/benchmarks.md):
- sequential write latency (one client, `PUT /jobs/{name}`) through the leader and a follower;
- job writes/s with concurrent clients through the leader and through a follower;
- `GET /jobs/{name}` req/s and latency percentiles against one peer, from load-generator
  processes separate from the peers;
- failover: time from SIGKILL of the leader until a survivor leads;
- restart of a follower holding N jobs (default 100,000): time until its API answers and until
  it has caught up, after SIGTERM and after SIGKILL.

    scripts/bench api [--jobs 100000] [--clients 16] [--seconds 5] [--write]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdoc import publish

from tests.support.cluster import Cluster, Peer
from tests.support.wait import wait_until

JOB = {"schedule": "0 1 1 1 *", "command": ["true"]}  # never fires during the benchmark
SECRET = "bench-secret"


# --- load generation (runs in worker processes) -----------------------------------------------


#: A client's work: names `f"{prefix}-{i % modulo}"` for i in range(count) (modulo 0: no wrap).
Spec = tuple[str, int, int]


def _client_loop(port: int, method: str, spec: Spec, deadline: float, out: list[float]) -> None:
    prefix, count, modulo = spec
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps(JOB).encode()
    headers = {"Content-Type": "application/json"}
    for i in range(count):
        if time.monotonic() >= deadline:
            break
        name = f"{prefix}-{i % modulo if modulo else i}"
        started = time.perf_counter()
        try:
            if method == "PUT":
                conn.request("PUT", f"/jobs/{name}", body=body, headers=headers)
            else:
                conn.request("GET", f"/jobs/{name}")
            resp = conn.getresponse()
            resp.read()
            ok = resp.status < 300
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            ok = False
        if ok:
            out.append(time.perf_counter() - started)
    conn.close()


def _worker(args: tuple[int, str, list[Spec], float]) -> list[float]:
    """One load-generator process: a thread per client, each with a persistent connection."""
    port, method, specs, seconds = args
    deadline = time.monotonic() + seconds
    results: list[list[float]] = [[] for _ in specs]
    threads = [threading.Thread(target=_client_loop, args=(port, method, spec, deadline, res))
               for spec, res in zip(specs, results, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [x for res in results for x in res]


def load(pool: ProcessPoolExecutor, peer: Peer, method: str, specs: list[Spec],
         seconds: float, processes: int) -> tuple[float, list[float]]:
    """Run one client per spec, spread over `processes`; (requests/s, latencies)."""
    chunks = [specs[i::processes] for i in range(processes)]
    started = time.perf_counter()
    futures = [pool.submit(_worker, (peer.api_port, method, chunk, seconds))
               for chunk in chunks if chunk]
    latencies = [x for f in futures for x in f.result()]
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


# --- the measurements ---------------------------------------------------------------------------


def sequential_writes(peer: Peer, prefix: str, count: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", peer.api_port, timeout=30)
    body = json.dumps(JOB).encode()
    out = []
    for i in range(count):
        started = time.perf_counter()
        conn.request("PUT", f"/jobs/{prefix}-{i}", body=body,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status < 300, resp.status
        out.append(time.perf_counter() - started)
    conn.close()
    return out


def failover(cluster: Cluster, rounds: int) -> list[float]:
    gaps = []
    for _ in range(rounds):
        leader = cluster.wait_for_leader()
        survivors = cluster.followers(leader)
        leader.kill(signal.SIGKILL)
        killed = time.perf_counter()

        def new_leader(survivors: list[Peer] = survivors) -> bool:
            for p in survivors:
                try:
                    if p.status()["role"] == "leader":
                        return True
                except Exception:
                    continue
            return False

        wait_until(new_leader, 30, "a new leader", interval=0.005)
        gaps.append(time.perf_counter() - killed)
        leader.start()
        cluster.wait_for_leader()
        cluster.wait_for_applied(cluster.wait_for_leader().status()["commit_index"])
    return gaps


def restart(cluster: Cluster, peer: Peer, sig: int) -> tuple[float, float]:
    """(seconds until /healthz answers, seconds until caught up) after `sig` and a start."""
    target = cluster.wait_for_leader().status()["commit_index"]
    peer.kill(sig)
    started = time.perf_counter()
    peer.start(wait=False)
    peer.wait_up(timeout=300)
    up = time.perf_counter() - started
    wait_until(lambda: peer.status()["caught_up"] and peer.status()["applied_index"] >= target,
               300, "caught up", interval=0.01)
    return up, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs held for the restart")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--processes", type=int, default=2, help="load-generator processes")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each load run")
    parser.add_argument("--failovers", type=int, default=5, help="leader kills to time")
    parser.add_argument("--write", action="store_true", help="store in docs/benchmarks.md")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="raftcron-bench-api-"))
    cluster = Cluster(root, 3, secret=SECRET, test_timings=False)  # production timings
    rows: list[str] = []
    try:
        cluster.start()
        leader = cluster.wait_for_leader()
        follower = cluster.followers(leader)[0]
        seq_leader = sequential_writes(leader, "seq-l", 300)
        seq_follower = sequential_writes(follower, "seq-f", 300)
        rows.append("| sequential `PUT /jobs/{name}`, one client | "
                    f"leader: median {pct(seq_leader, 50):.1f} ms, p99 {pct(seq_leader, 99):.1f} ms"
                    f" | follower: median {pct(seq_follower, 50):.1f} ms, "
                    f"p99 {pct(seq_follower, 99):.1f} ms |")

        with ProcessPoolExecutor(max_workers=args.processes) as pool:
            big = 10**9
            specs = [(f"w{c}", big, 0) for c in range(args.clients)]
            rate_l, lat_l = load(pool, leader, "PUT", specs, args.seconds, args.processes)
            specs = [(f"v{c}", big, 0) for c in range(args.clients)]
            rate_f, lat_f = load(pool, follower, "PUT", specs, args.seconds, args.processes)
            rows.append(f"| job writes, {args.clients} concurrent clients | "
                        f"leader: {rate_l:.0f}/s (p99 {pct(lat_l, 99):.0f} ms) | "
                        f"follower: {rate_f:.0f}/s (p99 {pct(lat_f, 99):.0f} ms) |")
            # Every name read was written above (the first writes of each writer).
            reads = [(f"w{c}", big, 20) for c in range(args.clients)]
            rate_r, lat_r = load(pool, follower, "GET", reads, args.seconds, args.processes)
            rows.append(f"| `GET /jobs/{{name}}`, {args.clients} clients, one follower | "
                        f"{rate_r:.0f} req/s | p50 {pct(lat_r, 50):.1f} ms, "
                        f"p99 {pct(lat_r, 99):.1f} ms |")

            gaps = failover(cluster, args.failovers)
            rows.append(f"| new leader after SIGKILL of the leader ({len(gaps)} runs) | "
                        f"median {statistics.median(gaps):.2f} s | "
                        f"max {max(gaps):.2f} s |")

            leader = cluster.wait_for_leader()
            term_before_fill = leader.status()["term"]
            have = len(seq_leader) + len(seq_follower) + len(lat_l) + len(lat_f)
            per_client = -(-max(args.jobs - have, 0) // args.clients)
            fill_started = time.perf_counter()
            specs = [(f"fill{c}", per_client, 0) for c in range(args.clients)]
            rate_fill, filled = load(pool, leader, "PUT", specs, 3600, args.processes)
            fill = time.perf_counter() - fill_started
        total = have + len(filled)
        leader = cluster.wait_for_leader(timeout=120)
        elections = leader.status()["term"] - term_before_fill
        follower = cluster.followers(leader)[0]
        db = Path(follower.data_dir) / "state.sqlite3"
        up_t, ready_t = restart(cluster, follower, signal.SIGTERM)
        up_k, ready_k = restart(cluster, follower, signal.SIGKILL)
        rows.append(f"| restart of a follower holding {total:,} jobs "
                    f"(state {db.stat().st_size / 1e6:.0f} MB; filled at {rate_fill:.0f}/s in "
                    f"{fill:.0f} s, {elections} elections meanwhile) | after SIGTERM: "
                    f"API up {up_t:.2f} s, caught up "
                    f"{ready_t:.2f} s | after SIGKILL: API up {up_k:.2f} s, caught up "
                    f"{ready_k:.2f} s |")
    finally:
        cluster.close()
    shutil.rmtree(root, ignore_errors=True)  # kept (with the peers' logs) only on failure

    cmd = "scripts/bench api " + " ".join(a for a in sys.argv[1:] if a != "--write")
    body = "\n".join([
        "## API (`scripts/bench_api.py`)", "",
        f"`{cmd.strip()}` — three peers on 127.0.0.1 with a secret (encrypted raft traffic) "
        "and the default raft timings; "
        f"load generators in {args.processes} separate processes with persistent connections.",
        "", "| what | result | |", "|---|---|---|", *rows,
    ])
    publish("api", body)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
