"""Read-path benchmark: a follower's `GET /jobs/{name}` next to a bare aiohttp handler doing
the same SQLite primary-key lookup, in one run (not a test).

A three-peer cluster (127.0.0.1, secret on, production raft timings) is given `--jobs` jobs
through `POST /jobs:batch`; once a follower has applied them, its state file is copied (the
SQLite backup API) and a bare aiohttp app serves `GET /jobs/{name}` from the copy: one
`SELECT * FROM jobs WHERE name = ?` on a read-only connection, on the event loop, the row
answered as JSON. wrk then loads both with the same connections, threads, duration and names
(a Lua script cycling through `--names` job names), alternating bare and raftcron for
`--rounds` rounds; each cell is the median over the rounds. The raftcron rows for `GET /jobs`,
`GET /runs` and `GET /status` (same wrk settings) show the other reads.

    scripts/bench read [--jobs 1000] [--connections 32] [--seconds 10] [--rounds 3] [--write]

Needs wrk (Debian: `apt-get install wrk`). `--write` stores the table in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

#: A job that never fires during the benchmark (no runs compete with the reads).
JOB = {"schedule": "0 3 1 1 *", "command": ["true"], "description": "read benchmark",
       "labels": {"team": "bench"}, "env": {"API_KEY": "not-a-real-secret"}}
_LUA = """
names = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "%s" .. names[(counter %% #names) + 1])
end
"""


def bare_app(port: int, db_path: str, loop: str) -> None:
    """The baseline: aiohttp with one handler, the primary-key lookup on the loop."""
    from aiohttp import web

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
    conn.row_factory = sqlite3.Row

    async def get_job(request: web.Request) -> web.Response:
        row = conn.execute("SELECT * FROM jobs WHERE name = ?",
                           (request.match_info["name"],)).fetchone()
        if row is None:
            return web.json_response({"error": "no such job"}, status=404)
        return web.json_response(dict(row))

    app = web.Application()
    app.router.add_get("/jobs/{name}", get_job)
    kwargs = {}
    if loop == "uvloop":
        import uvloop

        kwargs["loop"] = uvloop.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, **kwargs)


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    load: float
    #: CPU time the server process spent per request (microseconds): steadier than req/s
    #: on a busy machine.
    cpu_us: float = float("nan")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, script: Path | None, args: argparse.Namespace, pid: int) -> Result:
    """One wrk run against `url` (with the Lua `script` choosing paths, when given), served
    by process `pid`."""
    load = os.getloadavg()[0]
    cpu = cpu_seconds(pid)
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds:g}s",
           "--timeout", "10s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - cpu
    total = int(re.search(r"([0-9]+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+([0-9]+)", out)
    errors = re.search(r"Socket errors:.*", out)
    count = int(bad.group(1)) if bad else 0
    if errors:
        count += sum(int(n) for n in re.findall(r"[0-9]+", errors.group(0)))
    return Result(rps, p50, p99, count, load, cpu / max(total, 1) * 1e6)


def median_result(results: list[Result]) -> Result:
    return Result(statistics.median(r.rps for r in results),
                  statistics.median(r.p50_ms for r in results),
                  statistics.median(r.p99_ms for r in results),
                  sum(r.errors for r in results), statistics.median(r.load for r in results),
                  statistics.median(r.cpu_us for r in results))


def fill(peer, count: int) -> int:
    """Create `count` jobs through `peer`, 500 per batch; the highest index applied."""
    index = 0
    for start in range(0, count, 500):
        jobs = [{**JOB, "name": f"job-{i:06d}"} for i in range(start, min(count, start + 500))]
        resp = peer.post("/jobs:batch", {"jobs": jobs}, timeout=60)
        if resp.status != 200:
            raise RuntimeError(f"POST /jobs:batch: {resp.status} {resp.body[:300]!r}")
        index = max(index, resp.index or 0)
    return index


def copy_state(src: Path, dst: Path) -> None:
    """A consistent copy of a live peer's state file (SQLite's online backup)."""
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def wait_http(url: str, timeout: float = 30.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def fmt(r: Result) -> str:
    return f"{r.rps:,.0f} | {r.p50_ms:.1f} ms | {r.p99_ms:.1f} ms | {r.cpu_us:.0f} µs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs in the state")
    parser.add_argument("--names", type=int, default=100, help="distinct names wrk reads")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="bare/raftcron alternations")
    parser.add_argument("--no-others", action="store_true",
                        help="skip the GET /jobs, /runs, /status rows")
    parser.add_argument("--write", action="store_true", help="store in docs/benchmarks.md")
    parser.add_argument("--bare-app", nargs=3, metavar=("PORT", "DB", "LOOP"),
                        help=argparse.SUPPRESS)  # internal: run the baseline app
    args = parser.parse_args()
    if args.bare_app:
        bare_app(int(args.bare_app[0]), args.bare_app[1], args.bare_app[2])
        return 0
    if shutil.which("wrk") is None:
        print("scripts/bench read needs wrk, which is not installed: "
              "apt-get install wrk (Debian/Ubuntu) or see https://github.com/wg/wrk",
              file=sys.stderr)
        return 2

    from benchcluster import new_cluster
    from benchdoc import publish

    from raftcron.daemon.loops import ENV, loop_name
    from tests.support.ports import free_port

    root = Path(tempfile.mkdtemp(prefix="raftcron-bench-read-"))
    cluster = new_cluster(root)
    bare = None
    load_before = os.getloadavg()
    try:
        cluster.start()
        leader = cluster.wait_for_leader(timeout=60)
        follower = cluster.followers(leader)[0]
        index = fill(leader, args.jobs)
        cluster.wait_for_applied(index, [follower], timeout=120)
        copy = root / "bare.sqlite3"
        copy_state(follower.data_dir / "state.sqlite3", copy)
        port = free_port()
        loop = loop_name(os.environ.get(ENV) or "auto")
        bare = subprocess.Popen([sys.executable, __file__, "--bare-app", str(port), str(copy),
                                 loop], stdin=subprocess.DEVNULL)
        bare_url = f"http://127.0.0.1:{port}"
        wait_http(f"{bare_url}/jobs/job-000000")
        names = ", ".join(f'"job-{i * max(1, args.jobs // args.names):06d}"'
                          for i in range(min(args.names, args.jobs)))
        lua = root / "names.lua"
        lua.write_text(_LUA % (names, "/jobs/"))
        follower_url = f"http://127.0.0.1:{follower.api_port}"
        # Warm both (the first reads open connections and fill caches), then alternate.
        quick = argparse.Namespace(**{**vars(args), "seconds": 2.0})
        wrk(bare_url, lua, quick, bare.pid)
        wrk(follower_url, lua, quick, follower.pid)
        bares, ours = [], []
        for _ in range(args.rounds):
            bares.append(wrk(bare_url, lua, args, bare.pid))
            ours.append(wrk(follower_url, lua, args, follower.pid))
        b, r = median_result(bares), median_result(ours)
        others = []
        if not args.no_others:
            for path in ("/jobs?limit=100", "/runs?limit=100", "/status"):
                others.append((path, wrk(follower_url + path, None, args, follower.pid)))
    finally:
        if bare is not None:
            bare.terminate()
            bare.wait(10)
        cluster.close()
    shutil.rmtree(root, ignore_errors=True)

    cmd = "scripts/bench read " + " ".join(a for a in sys.argv[1:] if a != "--write")
    wrk_cmd = (f"wrk -t{args.threads} -c{args.connections} -d{args.seconds:g}s --timeout 10s "
               "--latency -s names.lua")
    rows = [
        f"| bare aiohttp, `SELECT * FROM jobs WHERE name = ?` on the loop | `GET /jobs/{{name}}` "
        f"| {fmt(b)} | 100 % | 1.0x | {b.load:.1f} | `{wrk_cmd} {'{bare}'}` |",
        f"| raftcron follower | `GET /jobs/{{name}}` | {fmt(r)} | {100 * r.rps / b.rps:.0f} % "
        f"| {r.p99_ms / b.p99_ms:.1f}x | {r.load:.1f} | `{wrk_cmd} {'{follower}'}` |",
    ]
    for path, o in others:
        rows.append(f"| raftcron follower | `GET {path}` | {fmt(o)} | | | {o.load:.1f} "
                    f"| `wrk -t{args.threads} -c{args.connections} -d{args.seconds:g}s "
                    f"--timeout 10s --latency {{follower}}{path}` |")
    errors = b.errors + r.errors + sum(o.errors for _, o in others)
    met = r.rps >= 0.5 * b.rps and r.p99_ms <= 2 * b.p99_ms
    body = "\n".join([
        "## API reads (`scripts/bench_read.py`)", "",
        f"`{cmd.strip()}` — three peers on 127.0.0.1 (secret on, production raft timings) "
        f"holding {args.jobs:,} jobs; wrk with {args.connections} connections and "
        f"{args.threads} threads against one follower and against a bare aiohttp app "
        "answering the same primary-key lookup from a copy of that follower's state file "
        f"(both on the {loop} event loop), {args.names} names cycled by a wrk Lua script; "
        f"bare and raftcron alternate for {args.rounds} rounds of {args.seconds:g} s and each "
        "cell is the median. Ratio: raftcron's req/s over the bare handler's; p99 ratio: "
        "raftcron's p99 over the bare handler's. CPU per request: the server process's CPU "
        "time (all threads; for raftcron also its share of Raft heartbeats) over the requests "
        "served. `{bare}` and `{follower}` stand for the two base URLs.", "",
        "| server | request | req/s | p50 | p99 | CPU per request | ratio | p99 ratio "
        "| load avg | command |",
        "|---|---|---|---|---|---|---|---|---|---|", *rows, "",
        f"- >= 50 % of the bare handler's req/s with p99 <= 2x its p99: "
        f"**{'met' if met else 'not met'}** ({100 * r.rps / b.rps:.0f} %, "
        f"p99 {r.p99_ms / b.p99_ms:.1f}x).",
        f"- CPU per `GET /jobs/{{name}}`: raftcron {r.cpu_us:.0f} µs, the bare handler "
        f"{b.cpu_us:.0f} µs ({r.cpu_us / b.cpu_us:.1f}x).",
        f"- Non-2xx answers and socket errors over every run: {errors}.",
        f"- Load average (1 min) before the cluster started: {load_before[0]:.1f}; the load "
        "column is the 1-minute load as each run began. wrk shares the machine's cores with "
        "the server it loads.",
    ])
    publish("read", body)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
