"""Chaos runs: faults (tests/support/faults) against a local three-peer cluster whose peers
live in network namespaces, while every-second `catchup = "all"` jobs run and concurrent
writers PUT jobs; then the checks (tests/support/faults/checks.py). Not a test by itself
(tests/chaos runs short ones); bounded: it stops by itself, and cleans up (processes, the
tmpfs, namespaces, veth pairs, bridge) however it ends. Needs root (`ip netns`, `mount`).

    scripts/chaos --fault partition --duration 60   # one kind of fault, repeated
    scripts/chaos soak --minutes 20                 # random faults of every kind
    scripts/chaos --fault skew --duration 60        # the skewed-clock scenario
    options: --jobs 3 --writers 3 --seed N --timings fast|default --keep

One fault at a time, each followed by a calm of 1-4 s. Then every peer runs again, the slots
of the chaos window are given time to run, the jobs are paused and settle, the acknowledged
writes are read back, every peer applies the last entry and stops with SIGTERM, and the three
SQLite copies are compared row by row. Exit status 0 when every check passed, 1 when not (the
run's directory is then kept).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchcluster import (
    SECRET,
    TIMINGS,
    Cluster,
    GaveUp,
    Peer,
    list_runs,
    put_jobs,
    read_stamps,
    stamp_job,
    wait_all_executed,
    wait_until,
)

from tests.support.faults import FAULTS, GROUPS, WEIGHTS, Ctx, Event
from tests.support.faults.checks import (
    SlotReport,
    acked_writes,
    applied_index,
    copies_differ,
    judge_slots,
    lost_slots,
    read_copies,
)
from tests.support.faults.disk import Tmpfs
from tests.support.faults.setup import chaos_cluster
from tests.support.faults.skew import run_skew, skew_peer_options
from tests.support.faults.writers import Tally, Writers

CALM = (1.0, 4.0)       # seconds between faults
Log = Callable[[str], None]
#: Event kinds counted together in the summary.
FAMILIES = {"kill": ("kill_leader", "kill_follower"), "stop": ("stop_leader", "stop_follower"),
            "partition": ("partition_leader", "partition_follower"),
            "kill_all": ("kill_all",), "restart": ("restart_peer",), "disk_full": ("disk_full",)}


@dataclass
class Verdict:
    jobs: list[str]
    slots: SlotReport
    tally: Tally
    events: list[Event] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)   # everything that failed a check
    lost_writes: list[str] = field(default_factory=list)  # acknowledged writes not kept
    applied: dict[str, int | None] = field(default_factory=dict)
    exits: dict[str, int | None] = field(default_factory=dict)
    moved: int = 0  # runs fired ahead moved off a silent peer (every leader's log says so)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.lost_writes and not self.slots.problems

    def counts(self) -> dict[str, int]:
        kinds = Counter(e.kind for e in self.events)
        return {family: sum(kinds[k] for k in members) for family, members in FAMILIES.items()}

    def summary(self) -> str:
        s, t = self.slots, self.tally
        lines = [
            f"verdict: {'OK' if self.ok else 'FAILED'}",
            f"faults survived: {len(self.events)} "
            f"({', '.join(f'{k} {n}' for k, n in self.counts().items() if n)})",
            f"disk-full exits: {dict(Counter(e.status for e in self.events if e.status))}",
            f"writes: {t.ok} acknowledged, {t.failed} not, "
            f"{len(self.lost_writes)} acknowledged lost",
            f"slots {s.first}..{s.last} of {len(self.jobs)} jobs: expected {s.expected}, "
            f"ran {s.ran}, lost (marked) {len(s.lost_marked)}, doubled {len(s.doubled)}, "
            f"missed {len(s.missed)}, unrecorded {len(s.unrecorded)}",
            f"scheduled run records by status: {dict(sorted(s.statuses.items()))}; "
            f"runs moved off a silent peer: {self.moved}",
            f"applied index of the copies: {self.applied}; SIGTERM exits: {self.exits}",
        ]
        lines += [f"PROBLEM: {p}" for p in self.problems + self.lost_writes + s.problems]
        return "\n".join(lines)


def _settle_runs(leader: Peer, names: Sequence[str], timeout: float) -> None:
    """Pause every job, then wait until none of their runs is pending or running."""
    for name in names:
        def pause(name: str = name) -> bool:
            resp = leader.post(f"/jobs/{name}/pause", timeout=30)
            if resp.status >= 500:
                return False
            if resp.status != 200:
                raise GaveUp(f"pause {name}: {resp.status} {resp.body[:300]!r}")
            return True
        wait_until(pause, 60, f"pause {name}", interval=0.2)

    def idle() -> bool:
        return not any(r["job"] in names for status in ("pending", "running")
                       for r in list_runs(leader, f"status={status}"))
    wait_until(idle, timeout, "every run to end", interval=0.5)


def stop_and_compare(cluster: Cluster, verdict: Verdict) -> None:
    """Let every peer apply the last entry, SIGTERM them all, compare the copies."""
    leader = cluster.wait_for_leader(timeout=60)

    def quiet_and_applied() -> bool:
        commit = leader.status()["commit_index"]
        cluster.wait_for_applied(commit, timeout=30)
        return leader.status()["commit_index"] == commit
    wait_until(quiet_and_applied, 60, "the log to stop growing and every peer to apply it")
    verdict.exits = {p.id: p.kill(signal.SIGTERM, timeout=30) for p in cluster.peers}
    verdict.problems += [f"{peer} exited {code} on the final SIGTERM"
                         for peer, code in verdict.exits.items() if code != 0]
    copies = read_copies(cluster.peers)
    verdict.applied = {peer: applied_index(copy) for peer, copy in copies.items()}
    differing = copies_differ(copies)
    if differing:
        verdict.problems.append(f"copies differ in {', '.join(differing)}")


def run_chaos(cluster: Cluster, out: Path, *, seconds: float, jobs: int = 3, seed: int = 0,
              plan: Sequence[str] | None = None, log: Log | None = None,
              tmpfs: Tmpfs | None = None, writers: int = 3,
              hold: tuple[float, float] = (1.0, 5.0)) -> Verdict:
    """Start `cluster`, run `jobs` stamping every-second jobs and `writers` writers through
    `seconds` of faults (`plan` in order, cycled, or random ones by `WEIGHTS` drawn with
    `seed`; a plan runs in full at least once however short `seconds` is), settle, stop
    every peer and judge. The caller cleans up (kills what still runs)."""
    say = log or (lambda _msg: None)
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    names = [f"chaos-{i}" for i in range(jobs)]
    ctx = Ctx(cluster, rng, say, hold=hold, tmpfs=tmpfs)
    kinds = [k for k in WEIGHTS if tmpfs is not None or k != "disk_full"]
    cluster.start()
    leader = cluster.wait_for_leader(timeout=60)
    put_jobs(leader, {n: stamp_job(out, n, catchup="all", keep_runs=100_000) for n in names})
    wait_until(lambda: {s.job for s in read_stamps(out)} >= set(names), 60, "every job to run")
    pen = Writers(cluster, writers, seed=seed).start() if writers else None
    first = math.ceil(time.time()) + 1
    began = time.monotonic()
    events: list[Event] = []
    try:
        at_least = max(1, len(plan or ()))
        while len(events) < at_least or time.monotonic() - began < seconds:
            kind = (plan[len(events) % len(plan)] if plan
                    else rng.choices(kinds, [WEIGHTS[k] for k in kinds])[0])
            at = time.monotonic() - began
            event = FAULTS[kind](ctx)
            event.at = at
            events.append(event)
            say(f"[chaos {at:6.1f} s] {kind} {', '.join(event.peers)} for {event.held:.1f} s"
                + (f" ({event.note})" if event.note else ""))
            time.sleep(rng.uniform(*CALM))  # calm between faults, part of the plan
    finally:
        tally = pen.stop() if pen else Tally()
    last = math.floor(time.time()) - 1
    say(f"[chaos] done after {len(events)} faults; waiting for slots {first}..{last}")

    def lost() -> set[tuple[str, int]]:  # a crash's runs: waiting for them would be in vain
        try:
            peer = cluster.wait_for_leader(timeout=10)
            return lost_slots(list_runs(peer, "status=lost"), names)
        except (GaveUp, RuntimeError, OSError):  # no settled leader this moment: ask again
            return set()
    wait_all_executed(out, names, first, last, timeout=60, quiet=10, excused=lost)
    leader = cluster.wait_for_leader(timeout=60)
    _settle_runs(leader, names, timeout=60)
    runs = list_runs(leader)
    verdict = Verdict(jobs=names, slots=judge_slots(read_stamps(out), runs, names, first, last),
                      tally=tally, events=events, problems=list(ctx.problems))
    verdict.lost_writes = acked_writes(leader, tally)
    stop_and_compare(cluster, verdict)
    verdict.moved = moved_runs(cluster)
    return verdict


#: A leader's log line for the held runs its recovery pass moved (`scheduler.passes`).
MOVED = re.compile(r"moving (\d+) held runs off silent peers")


def moved_runs(cluster: Cluster) -> int:
    """How many runs the leaders moved off silent peers, from every peer's log."""
    total = 0
    for peer in cluster.peers:
        with contextlib.suppress(FileNotFoundError):
            total += sum(int(n) for n in MOVED.findall(peer.log_path.read_text(errors="replace")))
    return total


def _plan(fault: str | None) -> list[str] | None:
    if fault is None:
        return None
    return GROUPS[fault.replace("-", "_")]


def _cleanup_on_signals() -> None:
    """SIGTERM/SIGHUP end the run like Ctrl-C: through the `finally`s that clean up."""
    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)


def _run(args: argparse.Namespace, root: Path, seconds: float, seed: int, say: Log) -> bool:
    """One run as the command line asked; prints its verdict and returns whether it passed."""
    kwargs = {"secret": SECRET, "raft": TIMINGS[args.timings], "test_timings": False}
    if args.fault == "skew":
        with chaos_cluster(root / "cluster", disk_peer=None, **kwargs,
                           **skew_peer_options(root, "+30s")) as (cluster, _):
            problems = run_skew(cluster, root / "stamps", seconds=seconds, put_jobs=put_jobs,
                                stamp_job=stamp_job, read_stamps=read_stamps, list_runs=list_runs,
                                jobs=args.jobs, log=say)
        ok = not problems
        print("verdict: OK" if ok else "verdict: FAILED\n" + "\n".join(
            f"PROBLEM: {p}" for p in problems))
    else:
        with chaos_cluster(root / "cluster", **kwargs) as (cluster, tmpfs):
            verdict = run_chaos(cluster, root / "stamps", seconds=seconds, jobs=args.jobs,
                                seed=seed, plan=_plan(args.fault), log=say, tmpfs=tmpfs,
                                writers=args.writers)
        ok = verdict.ok
        print(verdict.summary())
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["soak"], help="random faults of every kind")
    parser.add_argument("--fault", choices=sorted({*GROUPS, "skew"} | {
        g.replace("_", "-") for g in GROUPS}), help="one kind of fault, repeated")
    parser.add_argument("--duration", type=float, help="seconds of faults")
    parser.add_argument("--minutes", type=float, help="minutes of faults (default 5)")
    parser.add_argument("--jobs", type=int, default=3, help="every-second jobs")
    parser.add_argument("--writers", type=int, default=3, help="concurrent writers")
    parser.add_argument("--seed", type=int, default=None, help="seed (default: random)")
    parser.add_argument("--timings", default="fast", choices=sorted(TIMINGS),
                        help="raft timings (default: fast, the cluster tests' ones)")
    parser.add_argument("--keep", action="store_true", help="keep the cluster dirs and stamps")
    args = parser.parse_args(argv)
    if args.mode and args.fault:
        parser.error("soak draws every kind of fault; give either soak or --fault")
    seconds = (args.duration if args.duration is not None
               else 60 * (args.minutes if args.minutes is not None else 5.0))
    if seconds <= 0 or args.jobs < 1 or args.writers < 0:
        parser.error("the duration must be positive, --jobs at least 1, --writers at least 0")
    if os.geteuid() != 0:
        parser.error("needs root (network namespaces, a tmpfs mount)")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    root = Path(tempfile.mkdtemp(prefix="raftcron-chaos-"))
    what = args.fault or "soak"
    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    say(f"[chaos] {what}, seed {seed}, {seconds:g} s, {args.jobs} jobs, {args.writers} "
        f"writers, {args.timings} timings, load {os.getloadavg()}, in {root}")
    _cleanup_on_signals()
    try:
        ok = _run(args, root, seconds, seed, say)
    except BaseException:
        say(f"[chaos] stopped by an error; kept {root} (peer logs in cluster/peer*/peer.log)")
        raise
    print(f"load average at the end: {os.getloadavg()}")
    if args.keep or not ok:
        say(f"[chaos] kept {root} (peer logs in cluster/peer*/peer.log)")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
