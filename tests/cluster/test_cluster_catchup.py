"""Catch-up after the whole cluster was down (issue 4), on three real raftcron processes.

One scenario, run once for the module: four jobs firing every two seconds, all three peers
stopped with SIGTERM, the wall clock let pass several slots, all three restarted. Each test
then checks one job. A slot is *certainly missed* when it came due after the peers were all
stopped and more than the grace (5 s) before the restart: nobody could fire it on time.

- `all` (allow): every missed slot runs, once, fired oldest first;
- `latest`: the missed slots are recorded `missed` (superseded), only the newest due runs;
- `none`: the missed slots are recorded `missed`, none runs;
- `all` under the default `forbid`: every missed slot runs, one after another.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

from tests.support.cluster import Cluster
from tests.support.cluster_jobs import (
    epoch,
    file_slots,
    pause,
    put_job,
    scheduled,
    slot_line,
    wait_settled,
    wait_wall_clock,
)
from tests.support.wait import wait_until

GRACE = 5.0  # planner.DEFAULT_GRACE: later than this, a slot is late
PERIOD = 2
JOBS = {
    "all": {"catchup": "all", "concurrency": "allow"},
    "latest": {"catchup": "latest", "concurrency": "allow"},
    "none": {"catchup": "none", "concurrency": "allow"},
    "forbid-all": {"catchup": "all"},  # concurrency: the default, forbid
}
#: How long the cluster stays down (in wall time, before restarting).
DOWN = 12.0


@dataclass
class Outcome:
    down: float  # every peer was stopped from here (epoch seconds)
    restart: float  # the peers were started again
    runs: dict[str, list[dict]]
    files: dict[str, list[tuple[int, str]]]

    def missed(self) -> list[int]:
        """The certainly-missed slots (the same for every job: they share the schedule)."""
        first = int(self.down) + 1
        first += (-first) % PERIOD
        return [s for s in range(first, int(self.restart - GRACE), PERIOD)]

    def record(self, job: str, slot: int) -> dict:
        found = [r for r in self.runs[job] if round(epoch(r["slot"])) == slot]
        assert len(found) == 1, (job, slot, found)
        return found[0]


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Outcome, Cluster]]:
    root = tmp_path_factory.mktemp("catchup")
    cluster = Cluster(root, 3)
    try:
        yield _scenario(cluster, root), cluster
    finally:
        cluster.close()


def _scenario(cluster: Cluster, root: Path) -> Outcome:
    cluster.start()
    leader = cluster.wait_for_leader()
    files = {name: root / f"{name}.slots" for name in JOBS}
    for name, policy in JOBS.items():
        run = f"sleep 0.5; {slot_line(files[name])}" if name == "forbid-all" \
            else slot_line(files[name])
        put_job(leader, name, {"schedule": f"*/{PERIOD} * * * * *", "command": run, **policy})
    wait_until(lambda: all(len(file_slots(f)) >= 2 for f in files.values()), 60,
               "every job to have run twice")
    for peer in [*cluster.followers(leader), leader]:
        peer.stop()
    # Every process is gone: no slot after this can have been proposed, not even into a log
    # entry that a later term commits.
    down = time.time()
    wait_wall_clock(down + DOWN)
    restart = time.time()
    cluster.start()
    leader = cluster.wait_for_leader()
    # Enough on-time slots after the restart that the catch-up is over.
    wait_until(lambda: all(max((s for s, _ in file_slots(f)), default=0) >= restart + 8
                           for f in files.values()), 90, "on-time runs after the restart")
    for name in JOBS:
        pause(leader, name)
    runs = {name: scheduled(wait_settled(leader, name)) for name in JOBS}
    return Outcome(down, restart, runs, {n: file_slots(f) for n, f in files.items()})


@pytest.fixture
def caught_up(outcome: tuple[Outcome, Cluster], request: pytest.FixtureRequest) -> Outcome:
    request.node._raftcron_clusters = [outcome[1]]  # peer logs on failure (conftest)
    return outcome[0]


def assert_no_slot_twice(out: Outcome, job: str) -> None:
    assert [s for s, n in Counter(s for s, _ in out.files[job]).items() if n > 1] == []
    slots = Counter(r["slot"] for r in out.runs[job])
    assert [s for s, n in slots.items() if n > 1] == []


def test_cluster_catchup_all_runs_every_missed_slot_oldest_first(caught_up: Outcome) -> None:
    missed = caught_up.missed()
    assert len(missed) >= 3, missed
    assert_no_slot_twice(caught_up, "all")
    ran = {s for s, _ in caught_up.files["all"]}
    assert [s for s in missed if s not in ran] == []
    records = [caught_up.record("all", s) for s in missed]
    assert {r["status"] for r in records} == {"succeeded"}, records
    # Fired oldest first: run ids are time-ordered, so slot order is id order.
    assert [r["id"] for r in records] == sorted(r["id"] for r in records)
    # From the first missed slot on, nothing is missing at all.
    after = sorted(s for s in ran if s >= missed[0])
    assert after == list(range(missed[0], after[-1] + 1, PERIOD))


@pytest.mark.parametrize("policy", ["latest", "none"])
def test_cluster_catchup_latest_and_none_record_missed_slots(caught_up: Outcome,
                                                             policy: str) -> None:
    missed = caught_up.missed()
    assert len(missed) >= 3, missed
    assert_no_slot_twice(caught_up, policy)
    records = [caught_up.record(policy, s) for s in missed]
    assert {r["status"] for r in records} == {"missed"}, records
    assert all(f"catchup={policy}" in r["reason"] for r in records), records
    ran = {s for s, _ in caught_up.files[policy]}
    assert ran.isdisjoint(missed)
    # The slots after the missed ones run: `latest` the newest due when scheduling resumed
    # (named by the records it superseded), `none` only those on time.
    newer = sorted(s for s in ran if s > missed[-1])
    assert newer, "nothing ran after the restart"
    if policy == "latest":
        named = {r["reason"].split("superseded by slot ")[1].split(" ")[0] for r in records}
        assert len(named) == 1, named
        newest = named.pop()
        winner = [r for r in caught_up.runs[policy] if r["slot"] == newest]
        assert len(winner) == 1 and winner[0]["status"] == "succeeded", winner


def test_cluster_catchup_all_under_forbid_runs_missed_slots_one_after_another(
        caught_up: Outcome) -> None:
    missed = caught_up.missed()
    assert len(missed) >= 3, missed
    assert_no_slot_twice(caught_up, "forbid-all")
    ran = {s for s, _ in caught_up.files["forbid-all"]}
    assert [s for s in missed if s not in ran] == []
    records = [caught_up.record("forbid-all", s) for s in missed]
    assert {r["status"] for r in records} == {"succeeded"}, records
    # One at a time, oldest first: each fired once the one before had finished.
    for before, after in pairwise(records):
        assert epoch(after["fired_at"]) >= epoch(before["finished_at"]), (before, after)
    # What came due while the line ran found a run going (forbid); later slots run again.
    later = [r for r in caught_up.runs["forbid-all"] if epoch(r["slot"]) > missed[-1]]
    assert {r["status"] for r in later} <= {"succeeded", "skipped"}, later
    assert all("still running" in r["reason"] for r in later if r["status"] == "skipped")
    assert later and later[-1]["status"] == "succeeded"
