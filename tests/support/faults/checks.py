"""The checks after a fault (one place, used by scripts/chaos and tests/chaos):

- `acked_writes`: every write a writer saw acknowledged is in the state (a name's stored
  `max_runs` is at least its highest acknowledged sequence number, at most its highest sent);
- `judge_slots`: under `catchup = "all"`, every slot of the window of every job has exactly
  one execution (the job's own stamp line) and one scheduled run record; a slot with no
  execution passes only if its record is marked `lost` (a crash between "possibly started"
  and a report: at-least-once needs retries); a slot with no record was never fired;
- `early_runs`: executions that started, by the test's (honest) clock, before their slot;
- `read_copies` / `copies_differ`: each peer's `state.sqlite3`, read only once the peers have
  stopped, every table row for row; the applied index is in the `meta` table, so copies that
  applied different prefixes of the log differ there too.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.cluster import Peer
from tests.support.faults.writers import Tally

#: Seconds an execution may start before its slot by the test's clock: none (the tolerance
#: covers only bash's microsecond $EPOCHREALTIME against a whole-second slot).
EARLY_TOLERANCE = 0.0005


@dataclass
class SlotReport:
    first: int
    last: int
    expected: int = 0
    ran: int = 0
    lost_marked: list[tuple[str, int]] = field(default_factory=list)
    missed: list[tuple[str, int, list[str]]] = field(default_factory=list)
    doubled: list[tuple[str, int, int, int]] = field(default_factory=list)  # execs, records
    unrecorded: list[tuple[str, int]] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)

    @property
    def problems(self) -> list[str]:
        out = []
        if self.missed:
            out.append(f"{len(self.missed)} slots missed (job, slot, records): "
                       f"{self.missed[:10]}")
        if self.doubled:
            out.append(f"{len(self.doubled)} slots doubled (job, slot, executions, records): "
                       f"{self.doubled[:10]}")
        if self.unrecorded:
            out.append(f"{len(self.unrecorded)} executions without a run record: "
                       f"{self.unrecorded[:10]}")
        return out


def _epoch(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def judge_slots(stamps: Iterable[Any], runs: Iterable[dict[str, Any]], jobs: Sequence[str],
                first: int, last: int) -> SlotReport:
    """`stamps`: `benchcluster.Stamp`s (job, slot, start, ...); `runs`: the API's run records."""
    execs: Counter[tuple[str, int]] = Counter((s.job, s.slot) for s in stamps)
    records: dict[tuple[str, int], list[str]] = {}
    report = SlotReport(first, last)
    for r in runs:
        if r["job"] in jobs and not r.get("manual") and not r.get("retry_of"):
            records.setdefault((r["job"], _epoch(r["slot"])), []).append(r["status"])
    for job in jobs:
        for slot in range(first, last + 1):
            report.expected += 1
            n, recs = execs[(job, slot)], records.get((job, slot), [])
            report.statuses.update(recs)
            if n > 1 or len(recs) > 1:
                report.doubled.append((job, slot, n, len(recs)))
            if n:
                report.ran += 1
                if not recs:
                    report.unrecorded.append((job, slot))
            elif recs == ["lost"]:
                report.lost_marked.append((job, slot))
            else:
                report.missed.append((job, slot, recs))
    return report


def lost_slots(runs: Iterable[dict[str, Any]], jobs: Sequence[str]) -> set[tuple[str, int]]:
    """(job, slot) of the scheduled runs of `jobs` recorded `lost` in `runs`: slots that will
    not run (without retries), as `judge_slots` excuses them."""
    return {(r["job"], _epoch(r["slot"])) for r in runs
            if r["job"] in jobs and r["status"] == "lost" and not r.get("manual")
            and not r.get("retry_of")}


def early_runs(stamps: Iterable[Any]) -> list[tuple[str, int, float]]:
    """(job, slot, seconds early) of every execution that began before its slot."""
    return [(s.job, s.slot, round(s.slot - s.start, 3)) for s in stamps
            if s.start < s.slot - EARLY_TOLERANCE]


def acked_writes(peer: Peer, tally: Tally) -> list[str]:
    """Problems with the acknowledged writes, read through `peer` (the settled leader)."""
    problems = []
    for name, acked in sorted(tally.acked.items()):
        resp = peer.get(f"/jobs/{name}", timeout=10)
        if resp.status != 200:
            problems.append(f"acknowledged job {name} (seq {acked}) is gone: {resp.status}")
            continue
        stored = resp.json().get("max_runs") or 0
        if not acked <= stored <= tally.sent.get(name, acked):
            problems.append(f"job {name}: stored seq {stored}, acknowledged {acked}, "
                            f"sent at most {tally.sent.get(name)}")
    return problems


def read_copy(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a stopped peer's copy, in primary-key order, read only."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [n for (n,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {n: conn.execute(f'SELECT * FROM "{n}" ORDER BY 1').fetchall() for n in names}
    finally:
        conn.close()


def read_copies(peers: Iterable[Peer]) -> dict[str, dict[str, list[tuple[Any, ...]]]]:
    return {p.id: read_copy(Path(p.data_dir) / "state.sqlite3") for p in peers}


def applied_index(copy: dict[str, list[tuple[Any, ...]]]) -> int | None:
    for row in copy.get("meta", []):
        if row[0] == "applied_index":
            return int(row[1])
    return None


def copies_differ(copies: dict[str, dict[str, list[tuple[Any, ...]]]]) -> list[str]:
    """The tables in which some copy differs from the first (none: identical row for row)."""
    first, *rest = copies.values()
    return sorted({t for c in rest for t in set(first) | set(c) if first.get(t) != c.get(t)})
