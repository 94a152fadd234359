"""Chaos soak: random SIGKILL, SIGSTOP and restarts of raftcron peers while every-second jobs
run, then a verdict on lost and duplicate slots and on the copies converging. Not a test by
itself (`tests/chaos/test_chaos_short.py` runs a short one); bounded: it stops by itself.

While `--minutes` last, one disturbance at a time, each followed by a calm of 1-4 s:

- `kill_leader` / `kill_follower`: SIGKILL, down 1-5 s, start again;
- `stop_leader` / `stop_follower`: SIGSTOP for 1-5 s, then SIGCONT (well under the 15 s run
  lease: a peer frozen past the lease has its runs declared lost, which only retries bring
  back, and these jobs have none);
- `restart_peer`: SIGTERM (must exit 0), start again;
- `kill_all`: SIGKILL every peer, down 1-3 s, start them all (no quorum: the slots of the gap
  are caught up afterwards, `catchup = "all"`).

Then every peer runs again, the slots of the chaos window (every job, every second from the
first full second after the jobs ran to the end of the chaos) are given time to run, the jobs
are paused, every run settles, every peer applies the last entry and stops with SIGTERM, and
the three SQLite copies are compared row by row. The verdict: lost slots (never ran),
duplicate slots (ran more than once), runs by status, copies identical, clean exits.

    scripts/chaos [--minutes 5] [--jobs 3] [--seed N] [--timings fast|default] [--keep]
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchcluster import (
    TIMINGS,
    Cluster,
    GaveUp,
    Peer,
    SlotVerdict,
    list_runs,
    new_cluster,
    put_jobs,
    read_stamps,
    slot_verdict,
    stamp_job,
    wait_all_executed,
    wait_until,
)

from raftcron.durations import parse_time
from raftcron.state.machine import StateMachine

#: Disturbances and how often the random plan picks each.
WEIGHTS = {"kill_leader": 3, "kill_follower": 2, "stop_leader": 2, "stop_follower": 2,
           "restart_peer": 1, "kill_all": 1}
HOLD = (1.0, 5.0)       # seconds a peer stays down or frozen
HOLD_ALL = (1.0, 3.0)   # seconds the whole cluster stays down
CALM = (1.0, 4.0)       # seconds between disturbances

Log = Callable[[str], None]


@dataclass
class Event:
    at: float       # seconds since the chaos began
    kind: str
    peers: list[str]
    held: float


@dataclass
class Verdict:
    jobs: list[str]
    slots: SlotVerdict
    statuses: Counter[str]
    copies_identical: bool
    differing: list[str]          # tables that differ between the copies
    applied: dict[str, int]       # peer -> applied index of its copy when stopped
    exits: dict[str, int | None]  # peer -> exit status on the final SIGTERM
    bad_exits: list[str] = field(default_factory=list)  # SIGTERMs during the chaos that were not 0
    events: list[Event] = field(default_factory=list)
    #: (job, slot) -> the statuses of its run records, for each lost slot: `lost` records
    #: mean a crash between "possibly started" and a report (at-least-once needs retries);
    #: no record at all means the slot was never fired.
    missed_records: dict[tuple[str, int], list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (not self.slots.missed and not self.slots.duplicates and self.copies_identical
                and all(code == 0 for code in self.exits.values()) and not self.bad_exits)

    def summary(self) -> str:
        s = self.slots
        kinds = Counter(e.kind for e in self.events)
        done = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
        lines = [
            f"verdict: {'OK' if self.ok else 'FAILED'}",
            f"events: {len(self.events)} ({done})",
            f"slots {s.first}..{s.last} of {len(self.jobs)} jobs: expected {s.expected}, "
            f"ran {s.executed}, lost {len(s.missed)}, duplicated {len(s.duplicates)}",
            f"runs by status: {dict(sorted(self.statuses.items()))}",
            f"copies identical: {self.copies_identical}"
            + (f" (differ in {', '.join(self.differing)}; applied {self.applied})"
               if not self.copies_identical else ""),
            f"exit status on SIGTERM: {self.exits}",
        ]
        if s.missed:
            detail = [(job, slot, self.missed_records.get((job, slot), []))
                      for job, slot in s.missed[:20]]
            lines.append(f"lost slots (first 20; job, slot, its run records): {detail}")
        if s.duplicates:
            lines.append(f"duplicate slots (first 20): {s.duplicates[:20]}")
        if self.bad_exits:
            lines.append(f"unclean SIGTERM exits during the chaos: {self.bad_exits}")
        return "\n".join(lines)


def _leader_or_any(cluster: Cluster, rng: random.Random) -> Peer:
    """The leader every running peer agrees on, or (none within 20 s) any running peer."""
    try:
        return cluster.wait_for_leader(timeout=20)
    except AssertionError:
        return rng.choice(cluster.running())


def _disturb(cluster: Cluster, kind: str, rng: random.Random, bad_exits: list[str]) -> Event:
    """Do one disturbance, hold it, undo it; return what was done."""
    if kind == "kill_all":
        held = rng.uniform(*HOLD_ALL)
        for peer in cluster.running():
            peer.kill(signal.SIGKILL)
        time.sleep(held)  # the outage itself is what is being measured, not a wait for a state
        for peer in cluster.peers:
            peer.start(wait=False)
        for peer in cluster.peers:
            peer.wait_up()
        return Event(0.0, kind, [p.id for p in cluster.peers], held)
    leader = _leader_or_any(cluster, rng)
    if kind.endswith("_leader"):
        victim = leader
    else:
        others = [p for p in cluster.running() if p is not leader]
        victim = rng.choice(others or cluster.running())
    held = rng.uniform(*HOLD)
    if kind.startswith("kill"):
        victim.kill(signal.SIGKILL)
        time.sleep(held)  # peer down for a while: the disturbance, not a wait for a state
        victim.start()
    elif kind.startswith("stop"):
        victim.kill(signal.SIGSTOP)
        try:
            time.sleep(held)  # peer frozen for a while
        finally:
            victim.kill(signal.SIGCONT)
    elif kind == "restart_peer":
        held = 0.0
        status = victim.kill(signal.SIGTERM, timeout=30)
        if status != 0:
            bad_exits.append(f"{victim.id}: {status}")
        victim.start()
    else:
        raise ValueError(f"unknown disturbance {kind!r}")
    return Event(0.0, kind, [victim.id], held)


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


def _stop_and_compare(cluster: Cluster) -> tuple[bool, list[str], dict[str, int],
                                                  dict[str, int | None]]:
    """Let every peer apply the last entry, SIGTERM them all, compare the copies."""
    leader = cluster.wait_for_leader(timeout=60)

    def quiet_and_applied() -> bool:
        commit = leader.status()["commit_index"]
        cluster.wait_for_applied(commit, timeout=30)
        return leader.status()["commit_index"] == commit
    wait_until(quiet_and_applied, 60, "the log to stop growing and every peer to apply it")
    exits = {p.id: p.kill(signal.SIGTERM, timeout=30) for p in cluster.peers}
    dumps, applied = {}, {}
    for peer in cluster.peers:
        state = StateMachine(Path(peer.data_dir) / "state.sqlite3")
        try:
            dumps[peer.id] = state.dump()
            applied[peer.id] = state.applied_index
        finally:
            state.close()
    first, *rest = dumps.values()
    differing = sorted({t for d in rest for t in set(first) | set(d)
                        if first.get(t) != d.get(t)})
    return not differing, differing, applied, exits


def run_chaos(cluster: Cluster, out: Path, *, seconds: float, jobs: int = 3, seed: int = 0,
              plan: Sequence[str] | None = None, log: Log | None = None) -> Verdict:
    """Start `cluster`, run `jobs` stamping every-second jobs (catchup "all") through
    `seconds` of disturbances (`plan` in order, cycled, or random ones drawn with `seed`),
    settle, stop every peer and judge. The caller closes the cluster (kills what still runs)."""
    say = log or (lambda _msg: None)
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    names = [f"chaos-{i}" for i in range(jobs)]
    cluster.start()
    leader = cluster.wait_for_leader(timeout=60)
    put_jobs(leader, {n: stamp_job(out, n, catchup="all", keep_runs=100_000) for n in names})
    wait_until(lambda: {s.job for s in read_stamps(out)} >= set(names), 60, "every job to run")
    first = math.ceil(time.time()) + 1
    began = time.monotonic()
    events: list[Event] = []
    bad_exits: list[str] = []
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    while time.monotonic() - began < seconds:
        kind = (plan[len(events) % len(plan)] if plan
                else rng.choices(kinds, weights)[0])
        at = time.monotonic() - began
        event = _disturb(cluster, kind, rng, bad_exits)
        event.at = at
        events.append(event)
        say(f"[chaos {at:5.1f} s] {kind} {', '.join(event.peers)} for {event.held:.1f} s")
        time.sleep(rng.uniform(*CALM))  # calm between disturbances, part of the plan
    last = math.floor(time.time()) - 1
    say(f"[chaos] done after {len(events)} disturbances; waiting for slots {first}..{last}")
    stamps = wait_all_executed(out, names, first, last, timeout=60, quiet=20)
    leader = cluster.wait_for_leader(timeout=60)
    _settle_runs(leader, names, timeout=60)
    runs = [r for r in list_runs(leader) if r["job"] in names]
    statuses = Counter(r["status"] for r in runs)
    verdict_slots = slot_verdict(read_stamps(out) or stamps, names, first, last)
    records: dict[tuple[str, int], list[str]] = {}
    for r in runs:
        records.setdefault((r["job"], round(parse_time(r["slot"]).timestamp())),
                           []).append(r["status"])
    identical, differing, applied, exits = _stop_and_compare(cluster)
    return Verdict(jobs=names, slots=verdict_slots, statuses=statuses,
                   copies_identical=identical, differing=differing, applied=applied,
                   exits=exits, bad_exits=bad_exits, events=events,
                   missed_records={k: records.get(k, []) for k in verdict_slots.missed})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="length of the chaos")
    parser.add_argument("--jobs", type=int, default=3, help="every-second jobs")
    parser.add_argument("--seed", type=int, default=None, help="seed (default: random)")
    parser.add_argument("--timings", default="fast", choices=sorted(TIMINGS),
                        help="raft timings (default: fast, the cluster tests' ones)")
    parser.add_argument("--keep", action="store_true", help="keep the cluster dirs and stamps")
    args = parser.parse_args()
    if args.minutes <= 0 or args.jobs < 1:
        parser.error("--minutes must be positive and --jobs at least 1")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    root = Path(tempfile.mkdtemp(prefix="raftcron-chaos-"))
    print(f"[chaos] seed {seed}, {args.minutes:g} min, {args.jobs} jobs, {args.timings} "
          f"timings, in {root}", file=sys.stderr)
    cluster = new_cluster(root / "cluster", args.timings)
    try:
        verdict = run_chaos(cluster, root / "stamps", seconds=args.minutes * 60,
                            jobs=args.jobs, seed=seed,
                            log=lambda msg: print(msg, file=sys.stderr))
    finally:
        cluster.close()
    print(verdict.summary())
    if args.keep or not verdict.ok:
        print(f"[chaos] kept {root} (peer logs in peer*/peer.log)", file=sys.stderr)
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
