"""Failover benchmark on a real three-peer cluster: not a test.

A few every-second jobs (`catchup = "all"`, concurrency `allow`, stamping their own start:
`benchcluster.stamp_job`) run while the leader is killed again and again: wait until every job
runs steadily, SIGKILL the leader at a random point of a second, wait for the new leader and a
few of its fires, restart the killed peer, repeat. Per kill:

- new leader: SIGKILL -> a survivor's `/status` says it leads;
- first fire: SIGKILL -> the first process start of a run the new leader fired (a run whose
  `fired_at` is more than `FIRE_AHEAD` after the kill; the dead leader cannot have chosen
  that time: the runs it committed ahead still start, on the followers holding them);
- longest gap: the longest time between two consecutive executions of one job, from the last
  execution before the kill to the next kill (1 s when nothing is felt).

Over the whole run: expected slots (every job, every second from the first full second to the
last), missed, duplicated, and the run records that ended `lost`, `missed` or `skipped`.
Each raft timing named in `--timings` gets a fresh cluster and `--kills` kills: "default" is
the production timings (1-2 s elections), "fast" the 0.3-0.9 s ones a small cluster may set.

    scripts/bench failover [--kills 10] [--jobs 3] [--timings default,fast] [--write] [--keep]
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchcluster import (
    TIMINGS,
    Cluster,
    Peer,
    SlotVerdict,
    Stamp,
    list_runs,
    loadavg,
    median,
    new_cluster,
    new_leader_since,
    put_jobs,
    read_stamps,
    sleep_until,
    slot_verdict,
    stamp_job,
    wait_all_executed,
    wait_until,
)
from benchdoc import publish

#: Run records with these statuses mean a slot did not run as planned.
BAD_STATUSES = ("lost", "missed", "skipped")


@dataclass
class Round:
    kill_at: float
    new_leader_s: float
    first_fire_s: float
    longest_gap_s: float = math.nan


@dataclass
class Result:
    timings: str
    rounds: list[Round]
    verdict: SlotVerdict
    statuses: Counter[str]
    elections: int
    load: list[float] = field(default_factory=list)


def steady(out: Path, names: list[str]) -> bool:
    """Every job has run a slot at most 2 s old."""
    recent = int(time.time()) - 2
    latest: dict[str, int] = {}
    for s in read_stamps(out):
        latest[s.job] = max(latest.get(s.job, 0), s.slot)
    return all(latest.get(n, 0) >= recent for n in names)


def claims_leadership(survivors: list[Peer]) -> bool:
    for peer in survivors:
        try:
            if peer.status()["role"] == "leader":
                return True
        except Exception:  # a peer may be busy or restarting: not yet
            continue
    return False


def one_kill(cluster: Cluster, out: Path, names: list[str], rng: random.Random) -> Round:
    leader = cluster.wait_for_leader(timeout=60)
    wait_until(lambda: steady(out, names), 60, "every job to run steadily")
    sleep_until(math.floor(time.time()) + 1 + rng.random())  # a random point of a second
    survivors = [p for p in cluster.running() if p is not leader]
    kill_at = time.time()
    leader.kill(signal.SIGKILL)
    wait_until(lambda: claims_leadership(survivors), 60, "a new leader", interval=0.01)
    new_leader_s = time.time() - kill_at
    new = cluster.wait_for_leader(exclude=[leader], timeout=60)

    def new_leaders_fires() -> list[float] | None:
        ids = {r["id"] for r in list_runs(new, f"since={new_leader_since(kill_at)}")}
        starts = [s.start for s in read_stamps(out) if s.run_id in ids]
        return starts if len(starts) >= 2 * len(names) else None

    starts = wait_until(new_leaders_fires, 60, "a few fires by the new leader", interval=0.05)
    leader.start()
    cluster.wait_for_leader(timeout=60)
    return Round(kill_at=kill_at, new_leader_s=new_leader_s, first_fire_s=min(starts) - kill_at)


def longest_gaps(rounds: list[Round], stamps: list[Stamp], names: list[str]) -> None:
    """Fill each round's longest gap between consecutive executions of one job."""
    starts = {n: sorted(s.start for s in stamps if s.job == n) for n in names}
    ends = [r.kill_at for r in rounds[1:]] + [math.inf]
    for r, end in zip(rounds, ends, strict=True):
        gap = 0.0
        for times in starts.values():
            before = [t for t in times if t <= r.kill_at]
            window = [t for t in times if (before and t >= before[-1]) and t < end]
            gap = max([gap] + [b - a for a, b in pairwise(window)])
        r.longest_gap_s = gap


def run(root: Path, timings: str, kills: int, jobs: int, seed: int) -> Result:
    cluster = new_cluster(root / f"cluster-{timings}", timings)
    out = root / f"stamps-{timings}"
    out.mkdir(parents=True)
    names = [f"failover-{i}" for i in range(jobs)]
    rng = random.Random(seed)
    try:
        cluster.start()
        leader = cluster.wait_for_leader(timeout=60)
        term0 = leader.status()["term"]
        put_jobs(leader, {n: stamp_job(out, n, catchup="all", keep_runs=100_000)
                          for n in names})
        wait_until(lambda: steady(out, names), 60, "every job to run")
        first = math.ceil(time.time()) + 1
        rounds, load = [], []
        for i in range(kills):
            rounds.append(one_kill(cluster, out, names, rng))
            load.append(loadavg()[0])
            r = rounds[-1]
            print(f"[failover {timings}] kill {i + 1}/{kills}: new leader "
                  f"{r.new_leader_s:.2f} s, first fire {r.first_fire_s:.2f} s", file=sys.stderr)
        wait_until(lambda: steady(out, names), 60, "every job to run steadily")
        last = math.floor(time.time()) - 1
        stamps = wait_all_executed(out, names, first, last, timeout=60, quiet=20)
        longest_gaps(rounds, stamps, names)
        leader = cluster.wait_for_leader(timeout=60)
        statuses = Counter(r["status"] for r in list_runs(leader)
                           if r["status"] in BAD_STATUSES and r["job"] in names)
        return Result(timings=timings, rounds=rounds, verdict=slot_verdict(stamps, names, first,
                                                                             last),
                      statuses=statuses, elections=leader.status()["term"] - term0, load=load)
    finally:
        cluster.close()


def _s(values: list[float]) -> str:
    return f"{median(values):.2f} s / {max(values):.2f} s" if values else "n/a"


def row(r: Result) -> str:
    v = r.verdict
    bad = ", ".join(f"{n} {s}" for s, n in sorted(r.statuses.items())) or "none"
    return (f"| {r.timings} | {len(r.rounds)} | {_s([x.new_leader_s for x in r.rounds])} | "
            f"{_s([x.first_fire_s for x in r.rounds])} | "
            f"{_s([x.longest_gap_s for x in r.rounds])} | {v.expected:,} | {len(v.missed)} | "
            f"{v.duplicate_count} | {bad} | {r.elections} | {median(r.load):.1f} |")


def aims(r: Result) -> str:
    fires = [x.first_fire_s for x in r.rounds]
    within = sum(1 for x in fires if x <= 1.0)
    v = r.verdict
    gap = "met" if fires and median(fires) <= 1.0 else "not met"
    slots = "met" if not v.missed and not v.duplicates else "not met"
    return (f"- {r.timings} timings: failover gap <= 1 s **{gap}** (median "
            f"{median(fires):.2f} s; {within} of {len(fires)} kills within 1 s); "
            f"0 duplicates and 0 missed **{slots}** ({v.duplicate_count} duplicates, "
            f"{len(v.missed)} missed of {v.expected:,}).")


def markdown(results: list[Result], argv: list[str], jobs: int,
             before: tuple[float, ...]) -> str:
    cmd = " ".join(["scripts/bench failover",
                    *(a for a in argv if a not in ("--write", "--keep"))])
    return "\n".join([
        "## Failover (`scripts/bench_failover.py`)", "",
        f"`{cmd}` — {jobs} every-second jobs (`catchup = \"all\"`, concurrency `allow`) on a "
        "three-peer cluster (127.0.0.1, secret on); each job's process stamps its own start. "
        "Repeatedly: wait until every job runs steadily, SIGKILL the leader at a random point "
        "of a second, wait for the new leader and a few of its fires, restart the killed "
        "peer. *New leader*: kill -> a survivor says it leads. *First fire*: kill -> the first "
        "process start of a run the new leader fired (`fired_at` more than the 300 ms head "
        "start after the kill: the runs the dead leader fired ahead still start). *Longest "
        "gap*: the longest time between consecutive executions of one job from just before "
        "the kill to the next kill (1 s when nothing is felt). Slots are counted from the first "
        "full second after the jobs ran to the end, after a grace period for late runs. "
        "Cells with two values are median / max.", "",
        "| raft timings | kills | new leader | first fire by new leader | longest gap "
        "| expected slots | missed | duplicates | lost/missed/skipped runs | elections "
        "| load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *(row(r) for r in results), "",
        *(aims(r) for r in results), "",
        "\"default\" is the production raft timings (heartbeat 200 ms, elections after 1-2 s "
        "of silence); "
        "\"fast\" is heartbeat 50 ms, elections after 0.3-0.9 s (what the cluster tests run "
        "and docs/design/replication.md allows for small clusters on quiet machines).", "",
        f"Load average (1/5/15 min) before the first cluster started: {before[0]:.1f} / "
        f"{before[1]:.1f} / {before[2]:.1f}; the column is the median of the 1-minute load "
        "after each kill.",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10, help="leader kills per timing")
    parser.add_argument("--jobs", type=int, default=3, help="every-second jobs")
    parser.add_argument("--timings", default="default,fast",
                        help="comma-separated raft timings: default, fast")
    parser.add_argument("--seed", type=int, default=1, help="seeds the kill times")
    parser.add_argument("--write", action="store_true", help="store in docs/benchmarks.md")
    parser.add_argument("--keep", action="store_true", help="keep the cluster dirs and stamps")
    args = parser.parse_args()
    if args.kills < 1 or args.jobs < 1:
        parser.error("--kills and --jobs must be at least 1")
    timings = [t.strip() for t in args.timings.split(",") if t.strip()]
    for name in timings:
        if name not in TIMINGS:
            parser.error(f"--timings: {name!r} is not one of {', '.join(TIMINGS)}")
    root = Path(tempfile.mkdtemp(prefix="raftcron-bench-failover-"))
    before = loadavg()
    results = []
    try:
        for name in timings:
            results.append(run(root, name, args.kills, args.jobs, args.seed))
            print(row(results[-1]), file=sys.stderr)
    finally:
        if args.keep:
            print(f"[failover] kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    publish("failover", markdown(results, sys.argv[1:], args.jobs, before))
    return 0


if __name__ == "__main__":
    sys.exit(main())
