"""Local three-peer clusters for the firing benchmarks and the chaos run, and what their jobs
record about themselves.

The peers are started by `tests.support.cluster.Cluster`, imported rather than copied, so the
benchmarks, the chaos run and the cluster tests start processes exactly the same way (real
`python -m raftcron` per peer, ephemeral ports, `RAFTCRON_SECRET` set, logs in
`<root>/peerN/peer.log`). This module adds what those three share:

- `new_cluster(root, timings)`: "default" is the production raft timings (`[raft]` untouched),
  "fast" the quick ones the cluster tests use (0.3-0.9 s elections, which
  docs/design/replication.md says a small cluster may set).
- `stamp_job(out_dir, ...)`: a job whose process appends one line per execution to
  `out_dir/<job name>`: `$EPOCHREALTIME $RAFTCRON_SCHEDULED_TS $RAFTCRON_RUN_ID
  $RAFTCRON_ATTEMPT $RAFTCRON_PEER`. bash's `$EPOCHREALTIME` reads the clock inside the job's
  own process without another fork (`date` would be a second process per run, which matters
  near 1,000 runs/s), so a lag is "slot -> the job's process runs its first command", bash's
  start-up (about a millisecond) included.
- `read_stamps` / `slot_verdict`: executions per (job, slot); expected, missed and duplicate
  slots, and the lag of each slot's first execution.
- `put_jobs`, `wait_all_executed`, `pct`, `median`, `loadavg`.
"""

from __future__ import annotations

import math
import os
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from raftcron.durations import format_time  # noqa: E402
from raftcron.planning.ahead import FIRE_AHEAD  # noqa: E402
from tests.support.cluster import TEST_RAFT, Cluster, HttpResponse, Peer  # noqa: E402
from tests.support.wait import GaveUp, wait_until  # noqa: E402

__all__ = [
    "TIMINGS",
    "Cluster",
    "GaveUp",
    "Peer",
    "SlotVerdict",
    "Stamp",
    "loadavg",
    "median",
    "new_cluster",
    "pct",
    "put_jobs",
    "read_stamps",
    "slot_verdict",
    "stamp_job",
    "wait_all_executed",
    "wait_until",
]

SECRET = "bench-secret"
#: Raft timings by name: production defaults, or the quick ones of the cluster tests.
TIMINGS: dict[str, dict[str, float]] = {"default": {}, "fast": dict(TEST_RAFT)}
EVERY_SECOND = "* * * * * *"
_STAMP = ('echo "$EPOCHREALTIME $RAFTCRON_SCHEDULED_TS $RAFTCRON_RUN_ID $RAFTCRON_ATTEMPT '
          '$RAFTCRON_PEER" >> {path}')


def new_cluster(root: Path, timings: str = "default", size: int = 3) -> Cluster:
    """A (not yet started) cluster of `size` peers under `root`, secret on, given timings."""
    if timings not in TIMINGS:
        raise ValueError(f"timings: expected one of {', '.join(TIMINGS)}, got {timings!r}")
    return Cluster(root, size, secret=SECRET, raft=TIMINGS[timings],
                   test_timings=False)


def stamp_job(out_dir: Path, name: str, *, schedule: str = EVERY_SECOND,
              **extra: Any) -> dict[str, Any]:
    """The body of a job named `name` whose every execution appends a stamp line to
    `out_dir/name` (see the module docstring). `extra` adds or overrides job fields."""
    script = _STAMP.format(path=shlex.quote(str(Path(out_dir) / name)))
    return {"schedule": schedule, "concurrency": "allow", "command": ["bash", "-c", script],
            **extra}


def put_jobs(peer: Peer, bodies: dict[str, dict[str, Any]], timeout: float = 60.0,
             clients: int = 1) -> int:
    """PUT every job through `peer` from `clients` threads, retrying each on 5xx (an election)
    until `timeout`; return the highest raft index the writes were applied at."""
    def put_one(name: str, body: dict[str, Any]) -> int:
        def put() -> HttpResponse | None:
            resp = peer.put(f"/jobs/{name}", body, timeout=30)
            if resp.status >= 500:
                return None
            if resp.status not in (200, 201):
                raise GaveUp(f"PUT /jobs/{name}: {resp.status} {resp.body[:300]!r}")
            return resp
        resp = wait_until(put, timeout, f"PUT /jobs/{name}", interval=0.2)
        return resp.index or 0

    with ThreadPoolExecutor(max_workers=max(1, clients)) as pool:
        return max(pool.map(lambda item: put_one(*item), bodies.items()), default=0)


@dataclass(frozen=True)
class Stamp:
    """One execution, as the job's own process recorded it."""

    job: str
    slot: int          # the scheduled time, epoch seconds
    start: float       # when the process ran, epoch seconds
    run_id: str
    attempt: int
    peer: str

    @property
    def lag(self) -> float:
        return self.start - self.slot


def read_stamps(out_dir: Path) -> list[Stamp]:
    """Every stamp line under `out_dir`, in no particular order. A line still being written
    (no newline yet, or short) is left for the next read."""
    stamps = []
    for path in Path(out_dir).iterdir():
        text = path.read_text(errors="replace")
        for line in text.splitlines(keepends=True):
            parts = line.split()
            if not line.endswith("\n") or len(parts) != 5:
                continue
            try:
                stamps.append(Stamp(job=path.name, slot=round(float(parts[1])),
                                    start=float(parts[0]), run_id=parts[2],
                                    attempt=int(parts[3]), peer=parts[4]))
            except ValueError:
                continue
    return stamps


def by_slot(stamps: Iterable[Stamp]) -> dict[tuple[str, int], list[Stamp]]:
    """(job, slot) -> its executions, earliest first."""
    out: dict[tuple[str, int], list[Stamp]] = {}
    for s in stamps:
        out.setdefault((s.job, s.slot), []).append(s)
    for runs in out.values():
        runs.sort(key=lambda s: s.start)
    return out


@dataclass
class SlotVerdict:
    """Slots `first..last` (inclusive, epoch seconds) of `jobs`, judged by their executions.

    `missed`: expected slots that never ran; `duplicates`: (job, slot, executions) for slots
    that ran more than once; `lags`: seconds from slot to the first execution, per slot run.
    """

    first: int
    last: int
    expected: int
    executed: int
    missed: list[tuple[str, int]] = field(default_factory=list)
    duplicates: list[tuple[str, int, int]] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)

    @property
    def duplicate_count(self) -> int:
        """Executions beyond one per slot."""
        return sum(n - 1 for _, _, n in self.duplicates)


def slot_verdict(stamps: Iterable[Stamp], jobs: Sequence[str], first: int,
                 last: int) -> SlotVerdict:
    """Judge slots first..last of `jobs` (every-second jobs: one slot per second each)."""
    slots = by_slot(stamps)
    verdict = SlotVerdict(first=first, last=last, expected=len(jobs) * (last - first + 1),
                          executed=0)
    for job in jobs:
        for slot in range(first, last + 1):
            runs = slots.get((job, slot), [])
            if not runs:
                verdict.missed.append((job, slot))
                continue
            verdict.executed += 1
            verdict.lags.append(runs[0].lag)
            if len(runs) > 1:
                verdict.duplicates.append((job, slot, len(runs)))
    return verdict


def wait_all_executed(out_dir: Path, jobs: Sequence[str], first: int, last: int, *,
                      timeout: float, quiet: float = 10.0,
                      excused: Callable[[], set[tuple[str, int]]] | None = None
                      ) -> list[Stamp]:
    """Poll until every slot first..last of `jobs` has run (or is among `excused()`, the
    (job, slot)s that will never run, such as runs recorded `lost`), or nothing new has been
    stamped for `quiet` seconds, or `timeout`; return the stamps read last (judge them
    after). `excused` is asked only while some slot has not run."""
    deadline = time.monotonic() + timeout
    seen, changed = -1, time.monotonic()
    while True:
        stamps = read_stamps(out_dir)
        verdict = slot_verdict(stamps, jobs, first, last)
        now = time.monotonic()
        if not verdict.missed or now >= deadline:
            return stamps
        if excused is not None and set(verdict.missed) <= excused():
            return stamps
        if len(stamps) != seen:
            seen, changed = len(stamps), now
        elif now - changed >= quiet:
            return stamps
        time.sleep(0.5)


def iso(wall: float) -> str:
    """Epoch seconds -> ISO 8601 UTC with a `Z` (the API's time format)."""
    return format_time(datetime.fromtimestamp(wall, UTC))


def new_leader_since(kill_at: float) -> str:
    """The `since` (runs by `fired_at`) that lists only runs fired by a leader elected after a
    kill at `kill_at`: the dead leader committed runs up to `FIRE_AHEAD` before their time,
    stamped with that time, and those still run on the followers that hold them."""
    return iso(kill_at + FIRE_AHEAD.total_seconds())


def list_runs(peer: Peer, query: str = "", cap: int = 100_000) -> list[dict[str, Any]]:
    """Every run `GET /runs?<query>` lists on `peer` (all pages, at most `cap`)."""
    items: list[dict[str, Any]] = []
    cursor = None
    while len(items) < cap:
        path = f"/runs?limit=1000&{query}" + (f"&cursor={quote(cursor)}" if cursor else "")
        resp = peer.get(path, timeout=30)
        if resp.status != 200:
            raise RuntimeError(f"GET {path} on {peer}: {resp.status} {resp.body[:300]!r}")
        body = resp.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            break
    return items


def sleep_until(wall: float) -> None:
    """Sleep until the wall clock reads `wall` (windows and kills are set in wall seconds)."""
    while (left := wall - time.time()) > 0:
        time.sleep(min(left, 1.0))


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`; NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def loadavg() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages of this machine."""
    return os.getloadavg()


def ms(seconds: float) -> str:
    """A duration in seconds as milliseconds for a table cell ("n/a" for NaN)."""
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms"
