"""raftcron next to Celery beat + RedBeat on the same fire-lag workload: not a test.

    scripts/bench compare [--jobs 10,100,1000] [--seconds 60]
                          [--only raftcron|celery|floor] [--write] [--keep] [--py-spy DIR]

For each N: N every-second jobs whose run is `bash -c 'echo "$EPOCHREALTIME ..." >> file'`
(bash's clock read inside the run's own process, no second fork), all beginning at the same
second; a window of `--seconds` whole seconds starts 2 s later. Both sides judged the same way
(`benchcluster.slot_verdict`):

- missed: slots of the window with no run started 5 s after the window ended;
- lag p50 / p99: from the slot to the first run's process reading the clock;
- CPU per run: the daemons' CPU time over the window (utime + stime of /proc/<pid>/stat, the
  runs' own bash processes excluded) divided by the runs started in the window.

raftcron: a fresh three-peer cluster per N (127.0.0.1, secret on, production raft timings),
the daemons being the three peers. Celery: Celery beat with RedBeat's scheduler and one
prefork worker (`--concurrency` = cores) on a redis-server of Debian's package (on PATH,
`apt-get install redis-server`) started on a loopback ephemeral port for each N and stopped
after; the daemons being beat, the worker's processes and redis-server. Celery and RedBeat
are pinned and hash-checked (`scripts/bench_celery/requirements.txt`) in `.bench-venv/`, which
the script creates on first use.
The floor (`bench_floor.py`): one plain process that starts the same runs at their slots
back to back with `subprocess.Popen` and reaps them, judged the same way: what the machine
takes to start that many processes a second, so each side's lag reads against it.
`--py-spy DIR` also records each raftcron peer over the window with py-spy (collapsed stacks,
`<DIR>/raftcron-<N>-peer<i>.txt`, for speedscope or flamegraph.pl; py-spy on PATH or next to
this Python).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_probe import ApiProbe
from benchcluster import (
    ROOT,
    SlotVerdict,
    iso,
    loadavg,
    ms,
    new_cluster,
    pct,
    put_jobs,
    read_stamps,
    sleep_until,
    slot_verdict,
    stamp_job,
)
from benchdoc import publish

BENCH_VENV = ROOT / ".bench-venv"
CELERY_APP = Path(__file__).resolve().parent / "bench_celery"
#: What `.bench-venv` holds, every package pinned and hash-checked (made by scripts/lock from
#: requirements.in next to it): the versions the published numbers were measured with.
CELERY_LOCK = CELERY_APP / "requirements.txt"


def _pinned(package: str) -> str:
    """The version of `package` in CELERY_LOCK."""
    for line in CELERY_LOCK.read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and name.strip() == package:
            return version.split()[0]
    raise SystemExit(f"{CELERY_LOCK}: {package} is not pinned")
#: Seconds after the window within which a slot must have started, else it is missed.
GRACE = 5
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Side:
    verdict: SlotVerdict
    cpu_s: float
    #: raftcron only: what `/status` looked like during the window (`bench_probe.py`).
    api: str = ""

    @property
    def cpu_per_run_ms(self) -> float:
        runs = self.verdict.executed
        return self.cpu_s / runs * 1000 if runs else math.nan


def cpu_seconds(pids: Iterable[int]) -> float:
    """utime + stime of `pids` (their own, not their reaped children's), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total / _TICK


def descendants(root: int, skip_comm: str = "bash") -> list[int]:
    """`root` and every process below it, except those named `skip_comm` (the runs)."""
    children: dict[int, list[int]] = {}
    comm: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        name, rest = text.split("(", 1)[1].rsplit(")", 1)
        pid, ppid = int(entry.name), int(rest.split()[1])
        children.setdefault(ppid, []).append(pid)
        comm[pid] = name
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if comm.get(pid) != skip_comm:
            out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def window(jobs: int) -> tuple[int, int]:
    """(first slot of the jobs, first slot of the window)."""
    begin = math.ceil(time.time()) + 5 + math.ceil(jobs * 0.02)
    return begin, begin + 2


# --- raftcron ------------------------------------------------------------------------------

def run_raftcron(root: Path, jobs: int, seconds: int, spy: Path | None) -> Side:
    cluster = new_cluster(root / f"raftcron-{jobs}", "default")
    out = root / f"raftcron-stamps-{jobs}"
    out.mkdir(parents=True)
    names = [f"fire-{i:04d}" for i in range(jobs)]
    try:
        cluster.start()
        leader = cluster.wait_for_leader(timeout=60)
        begin, first = window(jobs)
        put_jobs(leader, {n: stamp_job(out, n, start_at=iso(begin)) for n in names}, clients=4)
        last = first + seconds - 1
        sleep_until(first)
        pids = [p.pid for p in cluster.peers if p.pid]
        spies = _py_spy(spy, pids, seconds, f"raftcron-{jobs}") if spy else []
        before = cpu_seconds(pids)
        probe = ApiProbe(cluster.peers)
        sleep_until(last + 1)
        cpu = cpu_seconds(pids) - before
        probe.stop()
        sleep_until(last + 1 + GRACE)
        for proc in spies:
            proc.wait(timeout=60)
        return Side(slot_verdict(read_stamps(out), names, first, last), cpu, probe.summary())
    finally:
        cluster.close()


def _py_spy(where: Path, pids: list[int], seconds: int, tag: str) -> list[subprocess.Popen]:
    exe = (shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
           or "py-spy")
    where.mkdir(parents=True, exist_ok=True)
    return [subprocess.Popen([exe, "record", "-o", str(where / f"{tag}-peer{i}.txt"), "--format",
                              "raw", "--pid", str(pid), "--duration", str(seconds),
                              "--nonblocking", "--threads"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for i, pid in enumerate(pids)]


# --- Celery + RedBeat ------------------------------------------------------------------------

def celery_venv() -> Path:
    """The virtualenv with Celery and RedBeat pinned, created on first use."""
    python = BENCH_VENV / "bin" / "python"
    marker = BENCH_VENV / "requirements.txt"
    wanted = CELERY_LOCK.read_text()
    if not python.exists() or not marker.exists() or marker.read_text() != wanted:
        print(f"[compare] creating {BENCH_VENV} from {CELERY_LOCK.relative_to(ROOT)}",
              file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(BENCH_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--require-hashes",
                        "-r", str(CELERY_LOCK)], check=True)
        marker.write_text(wanted)
    return BENCH_VENV


def _stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)


def run_celery(root: Path, jobs: int, seconds: int) -> Side:
    venv = celery_venv()
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise SystemExit("redis-server is not on PATH: apt-get install redis-server")
    work = root / f"celery-{jobs}"
    out = root / f"celery-stamps-{jobs}"
    work.mkdir(parents=True)
    out.mkdir(parents=True)
    names = [f"fire-{i:04d}" for i in range(jobs)]
    port = free_port()
    begin, first = window(jobs)
    last = first + seconds - 1
    env = {**os.environ, "BENCH_REDIS": f"redis://127.0.0.1:{port}/0", "BENCH_OUT": str(out),
           "BENCH_JOBS": str(jobs), "BENCH_BEGIN": str(begin),
           "PYTHONPATH": str(CELERY_APP)}
    procs: list[subprocess.Popen] = []

    def start(argv: list[str], name: str) -> subprocess.Popen:
        log = open(work / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(argv, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        procs.append(proc)
        return proc

    celery = str(venv / "bin" / "celery")
    try:
        redis = start([redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                       "--appendonly", "no", "--dir", str(work)], "redis")
        _wait_port(port)
        worker = start([celery, "-A", "benchapp", "worker", "--pool", "prefork",
                        "--concurrency", str(os.cpu_count() or 1), "--loglevel", "WARNING",
                        "--without-gossip", "--without-mingle", "--without-heartbeat"],
                       "worker")
        beat = start([celery, "-A", "benchapp", "beat", "-S", "benchapp.SlotScheduler",
                      "--loglevel", "WARNING"], "beat")
        sleep_until(first)
        pids = [redis.pid, beat.pid, *descendants(worker.pid)]
        before = cpu_seconds(pids)
        sleep_until(last + 1)
        cpu = cpu_seconds(pids) - before
        sleep_until(last + 1 + GRACE)
        return Side(slot_verdict(read_stamps(out), names, first, last), cpu)
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"redis-server did not listen on 127.0.0.1:{port}")


# --- the floor -------------------------------------------------------------------------------

def run_floor(root: Path, jobs: int, seconds: int) -> Side:
    out = root / f"floor-stamps-{jobs}"
    out.mkdir(parents=True)
    names = [f"fire-{i:04d}" for i in range(jobs)]
    _, first = window(jobs)
    last = first + seconds - 1
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve().parent /
                                                 "bench_floor.py"),
                             str(out), str(jobs), str(first), str(last)],
                            start_new_session=True)
    try:
        sleep_until(first)
        before = cpu_seconds([proc.pid])
        sleep_until(last + 1)
        cpu = cpu_seconds([proc.pid]) - before
        sleep_until(last + 1 + GRACE)
        return Side(slot_verdict(read_stamps(out), names, first, last), cpu)
    finally:
        _stop(proc)


# --- report ----------------------------------------------------------------------------------

def cell(side: Side | None) -> str:
    if side is None:
        return "not run"
    v = side.verdict
    missed = len(v.missed) / v.expected * 100 if v.expected else math.nan
    return (f"{missed:.1f} % / {ms(pct(v.lags, 50))} / {ms(pct(v.lags, 99))} / "
            f"{side.cpu_per_run_ms:.2f} ms")


Row = tuple[int, Side | None, Side | None, Side | None]


def markdown(rows: list[Row], argv: list[str], seconds: int,
             before: tuple[float, ...]) -> str:
    cmd = " ".join(["scripts/bench compare", *(a for a in argv if a not in ("--write",
                                                                              "--keep"))])
    return "\n".join([
        "## raftcron next to Celery beat + RedBeat (`scripts/bench_compare.py`)", "",
        f"`{cmd}` — N every-second jobs, each run `bash -c 'echo \"$EPOCHREALTIME ...\" >> "
        f"file'`, all beginning at the same second; a {seconds} s window starting 2 s later. "
        "raftcron: three peers on 127.0.0.1 (secret on, production raft timings). Celery "
        f"{_pinned('celery')} + RedBeat {_pinned('celery-redbeat')}: beat with RedBeat's "
        "scheduler "
        "(`rrule SECONDLY`), one prefork worker with one process per core, redis-server on "
        "loopback; each task spawns the same bash command. Missed = slots with no run started "
        f"{GRACE} s after the window (Celery never runs a slot beat slept through); lag = "
        "the run's clock read minus its slot; CPU per run = the daemons' CPU time over the "
        "window (raftcron: the three peers; Celery: beat, the worker's processes and redis) "
        "divided by the runs started, the runs' own processes excluded. Floor: one plain "
        "Python process starting the same runs at their slot back to back "
        "(`subprocess.Popen`, output to pipes) and reaping them, nothing else "
        "(`scripts/bench_floor.py`): what this machine takes to start that many processes "
        "a second.", "",
        "| every-second jobs | raftcron missed / p50 / p99 / CPU per run "
        "| Celery + RedBeat missed / p50 / p99 / CPU per run "
        "| floor missed / p50 / p99 / CPU per run |",
        "|---|---|---|---|",
        *(f"| {n:,} | {cell(a)} | {cell(b)} | {cell(f)} |" for n, a, b, f in rows), "",
        *(f"raftcron at {n:,} jobs, {a.api}." for n, a, _, _ in rows
          if a is not None and a.api),
        "",
        f"Load average (1/5/15 min) before the first case: {before[0]:.1f} / {before[1]:.1f} "
        f"/ {before[2]:.1f}.",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="10,100,1000", help="comma-separated job counts")
    parser.add_argument("--seconds", type=int, default=60, help="window per case")
    parser.add_argument("--only", choices=("raftcron", "celery", "floor"),
                        help="run one side only")
    parser.add_argument("--write", action="store_true", help="store in docs/benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--py-spy", type=Path, help="py-spy profiles of the raftcron peers here")
    args = parser.parse_args()
    counts = [int(x) for x in args.jobs.split(",") if x.strip()]
    root = Path(tempfile.mkdtemp(prefix="raftcron-compare-"))
    before = loadavg()
    rows: list[Row] = []
    try:
        for n in counts:
            ours = theirs = floor = None
            if args.only in (None, "raftcron"):
                print(f"[compare] raftcron, {n} jobs", file=sys.stderr)
                ours = run_raftcron(root, n, args.seconds, args.py_spy)
                print(f"[compare]   {cell(ours)}; {ours.api}", file=sys.stderr)
            if args.only in (None, "celery"):
                print(f"[compare] Celery + RedBeat, {n} jobs", file=sys.stderr)
                theirs = run_celery(root, n, args.seconds)
                print(f"[compare]   {cell(theirs)}", file=sys.stderr)
            if args.only in (None, "floor"):
                print(f"[compare] floor, {n} jobs", file=sys.stderr)
                floor = run_floor(root, n, args.seconds)
                print(f"[compare]   {cell(floor)}", file=sys.stderr)
            rows.append((n, ours, theirs, floor))
    finally:
        if args.keep:
            print(f"[compare] kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    publish("compare", markdown(rows, sys.argv[1:], args.seconds, before))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
