"""Scale benchmark on a real three-peer cluster: not a test.

For each size in `--sizes` (default 10,000 and 100,000; `--million` adds 1,000,000), on a
fresh cluster with the production raft timings, and on an empty cluster measured in the same
run (size 0, the reference):

- add time: the jobs (daily, spread over the day) through `POST /jobs:batch`, 1,000 per
  request, from `--batch-clients` clients; then `--single` more through single
  `PUT /jobs/{name}` from 16 clients. Both as jobs per second;
- RSS of each peer after the fill, and again after `--kills` leader kills;
- idle CPU of each peer (percent of one core over `--idle` seconds, nothing due);
- the state file size (`state.sqlite3` with its WAL) of the leader;
- leader SIGKILL -> the first start of a run the new leader fired, for an every-second job
  stamping its own start (`benchcluster.stamp_job`), `--kills` times (the killed peer is
  restarted between kills, and the next kill waits until it answers `/readyz`: that restart
  time is reported too).

    scripts/bench scale [--sizes 10000,100000] [--million] [--kills 3] [--idle 20]
                        [--single 2000] [--write] [--keep]

Takes long and loads the machine at the large sizes: run it on a quiet one. A smoke run is
`scripts/bench scale --sizes 1000 --kills 1 --idle 3 --single 200`.
"""

from __future__ import annotations

import argparse
import math
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchcluster import (
    Cluster,
    GaveUp,
    Peer,
    list_runs,
    loadavg,
    median,
    new_cluster,
    new_leader_since,
    put_jobs,
    read_stamps,
    stamp_job,
    wait_until,
)
from benchdoc import publish

BATCH = 1000
PROBE = "scale-probe"


@dataclass
class Result:
    size: int
    batch_rate: float = math.nan
    single_rate: float = math.nan
    rss_fill: list[float] = field(default_factory=list)
    rss_kills: list[float] = field(default_factory=list)
    idle_cpu: list[float] = field(default_factory=list)
    state_mb: float = math.nan
    first_fire: list[float] = field(default_factory=list)
    ready: list[float] = field(default_factory=list)


def job(i: int) -> dict:
    minute, hour = i % 60, (i // 60) % 24
    return {"name": f"scale-{i:07d}", "schedule": f"{minute} {hour} * * *",
            "command": ["true"]}


def rss_mb(peer: Peer) -> float:
    for line in Path(f"/proc/{peer.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def cpu_seconds(peer: Peer) -> float:
    fields = Path(f"/proc/{peer.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


def post_batch(peer: Peer, jobs: list[dict]) -> None:
    def once() -> bool | None:
        resp = peer.post("/jobs:batch", {"jobs": jobs}, timeout=120)
        if resp.status >= 500:
            return None
        if resp.status != 200:
            raise GaveUp(f"POST /jobs:batch: {resp.status} {resp.body[:300]!r}")
        return True
    wait_until(once, 300, "POST /jobs:batch", interval=0.5)


def fill(cluster: Cluster, r: Result, clients: int, single: int) -> None:
    leader = cluster.wait_for_leader(timeout=60)
    if r.size:
        def post_chunk(start: int) -> None:
            # Each request's jobs are built when it is sent: at 1,000,000 jobs the bodies
            # would take this process hundreds of MB built all up front.
            post_batch(leader, [job(i) for i in range(start, min(start + BATCH, r.size))])

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(post_chunk, range(0, r.size, BATCH)))
        r.batch_rate = r.size / (time.monotonic() - started)
    if single:
        bodies = {j["name"]: {k: v for k, v in j.items() if k != "name"}
                  for j in (job(r.size + i) for i in range(single))}
        started = time.monotonic()
        put_jobs(leader, bodies, timeout=300, clients=16)
        r.single_rate = single / (time.monotonic() - started)


def idle_cpu(cluster: Cluster, seconds: float) -> list[float]:
    peers = cluster.running()
    before = [cpu_seconds(p) for p in peers]
    time.sleep(seconds)  # a measurement window, not a wait for a condition
    return [100 * (cpu_seconds(p) - b) / seconds for p, b in zip(peers, before, strict=True)]


def one_kill(cluster: Cluster, out: Path) -> tuple[float, float]:
    """Leader SIGKILL -> the new leader's first fire, and restart -> /readyz of the killed
    peer, in seconds."""
    leader = cluster.wait_for_leader(timeout=120)
    wait_until(lambda: any(s.start > time.time() - 2 for s in read_stamps(out)), 120,
               "the probe job to run steadily")
    kill_at = time.time()
    leader.kill(signal.SIGKILL)
    new = cluster.wait_for_leader(exclude=[leader], timeout=120)

    def first() -> float | None:
        try:
            since = new_leader_since(kill_at)
            ids = {r["id"] for r in list_runs(new, f"job={PROBE}&since={since}")}
        except Exception:  # the new leader may still be busy: not yet
            return None
        starts = [s.start for s in read_stamps(out) if s.run_id in ids]
        return min(starts) if starts else None

    start = wait_until(first, 120, "the new leader's first fire", interval=0.05)
    # The killed peer comes back; the next kill waits until it is ready (caught up), as an
    # operator would, or the cluster would have no majority until it is.
    restart_at = time.time()
    leader.start()
    status_waits: list[float] = []  # /status must answer while the peer catches up

    def ready_yet() -> bool:
        asked = time.time()
        answered = leader.get("/status", timeout=5.0).status == 200
        status_waits.append(time.time() - asked if answered else math.inf)
        return leader.get("/readyz", timeout=5.0).status == 200
    wait_until(ready_yet, 300, "the restarted peer to be ready", interval=0.05)
    ready = time.time() - restart_at
    print(f"[scale] while catching up: {len(status_waits)} /status asked, slowest answer "
          f"{max(status_waits):.3f} s", file=sys.stderr)
    cluster.wait_for_leader(timeout=120)
    return start - kill_at, ready


def run(root: Path, size: int, args: argparse.Namespace) -> Result:
    r = Result(size=size)
    cluster = new_cluster(root / f"cluster-{size}", "default")
    out = root / f"stamps-{size}"
    out.mkdir(parents=True)
    try:
        cluster.start()
        fill(cluster, r, args.batch_clients, args.single if size else 0)
        r.rss_fill = [rss_mb(p) for p in cluster.peers]
        r.idle_cpu = idle_cpu(cluster, args.idle)
        leader = cluster.wait_for_leader(timeout=60)
        r.state_mb = sum(f.stat().st_size for f in leader.data_dir.glob("state.sqlite3*")
                         ) / 2**20
        put_jobs(leader, {PROBE: stamp_job(out, PROBE, keep_runs=1000)})
        for i in range(args.kills):
            fire, ready = one_kill(cluster, out)
            r.first_fire.append(fire)
            r.ready.append(ready)
            print(f"[scale {size:,}] kill {i + 1}/{args.kills}: first fire {fire:.2f} s, "
                  f"restart -> ready {ready:.2f} s", file=sys.stderr)
        r.rss_kills = [rss_mb(p) for p in cluster.peers]
        return r
    finally:
        cluster.close()


def _mb(values: list[float]) -> str:
    return " / ".join(f"{v:.0f}" for v in values) or "n/a"


def _rate(v: float) -> str:
    return "-" if math.isnan(v) else f"{v:,.0f}/s"


def row(r: Result) -> str:
    fires = r.first_fire
    fire = f"{median(fires):.2f} s / {max(fires):.2f} s" if fires else "n/a"
    ready = f"{median(r.ready):.1f} s / {max(r.ready):.1f} s" if r.ready else "n/a"
    return (f"| {r.size:,} | {_rate(r.batch_rate)} | {_rate(r.single_rate)} | "
            f"{_mb(r.rss_fill)} | {_mb(r.rss_kills)} | "
            f"{' / '.join(f'{c:.1f} %' for c in r.idle_cpu)} | {r.state_mb:.1f} MB | {fire} "
            f"| {ready} |")


def markdown(results: list[Result], argv: list[str], before: tuple[float, ...]) -> str:
    cmd = " ".join(["scripts/bench scale", *(a for a in argv if a not in ("--write", "--keep"))])
    return "\n".join([
        "## Scale (`scripts/bench_scale.py`)", "",
        f"`{cmd}` — three peers on 127.0.0.1, production raft timings, one fresh cluster "
        "per size; size 0 is the empty cluster measured in the same run. Jobs are daily, "
        "spread over the day. *Batch*: `POST /jobs:batch`, 1,000 jobs per request. *Single*: "
        "`PUT /jobs/{name}` from 16 clients. RSS and idle CPU per peer (peer 0 / 1 / 2); "
        "idle CPU is percent of one core with nothing due. *First fire*: leader SIGKILL -> "
        "the first start of a run of an every-second job fired by the new leader (`fired_at` "
        "more than the 300 ms head start after the kill), median / max over the kills. "
        "*Ready*: the killed peer restarted -> its `/readyz` answers "
        "200 (caught up), median / max; the next kill waits for it.", "",
        "| jobs | add (batch) | add (single, 16 clients) | RSS after fill (MB) "
        "| RSS after kills (MB) | idle CPU | state file | leader kill -> first fire "
        "| restart -> ready |",
        "|---|---|---|---|---|---|---|---|---|",
        *(row(r) for r in results), "",
        f"Load average (1/5/15 min) before the first cluster started: {before[0]:.1f} / "
        f"{before[1]:.1f} / {before[2]:.1f}.",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated job counts")
    parser.add_argument("--million", action="store_true", help="add 1,000,000 jobs")
    parser.add_argument("--kills", type=int, default=3, help="leader kills per size")
    parser.add_argument("--idle", type=float, default=20.0, help="idle CPU window, seconds")
    parser.add_argument("--single", type=int, default=2000, help="jobs added by single PUTs")
    parser.add_argument("--batch-clients", type=int, default=1, help="batch clients")
    parser.add_argument("--write", action="store_true", help="store in docs/benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="keep the cluster dirs")
    args = parser.parse_args()
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes: expected comma-separated integers")
    if args.million:
        sizes.append(1_000_000)
    if args.kills < 1 or args.idle <= 0 or args.single < 0 or any(s < 1 for s in sizes):
        parser.error("--kills >= 1, --idle > 0, --single >= 0 and sizes >= 1")
    root = Path(tempfile.mkdtemp(prefix="raftcron-bench-scale-"))
    before = loadavg()
    results = []
    try:
        for size in [0, *sizes]:
            results.append(run(root, size, args))
            print(row(results[-1]), file=sys.stderr)
    finally:
        if args.keep:
            print(f"[scale] kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    publish("scale", markdown(results, sys.argv[1:], before))
    return 0


if __name__ == "__main__":
    sys.exit(main())
