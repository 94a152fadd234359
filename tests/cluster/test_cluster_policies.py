"""Concurrency policies on three real raftcron processes (issue 4): `forbid` skips the slots
that come due while a run goes, `replace` cancels the old run for the new one, `queue` keeps
one slot waiting and skips the rest ("queue full"). One shared cluster; each job writes
`start SLOT` and `end SLOT` lines, so overlaps and kills show in its file as well as in the
API.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest

from tests.support.cluster import Cluster
from tests.support.cluster_jobs import epoch, pause, put_job, scheduled, wait_settled
from tests.support.wait import wait_until


@pytest.fixture
def policies(shared_cluster: Cluster) -> Cluster:
    return shared_cluster


def bracketed(path: Path, seconds: float) -> str:
    """A command writing `start SLOT`, sleeping, then writing `end SLOT`."""
    return (f'echo "start $RAFTCRON_SCHEDULED_TS" >> {path}; sleep {seconds}; '
            f'echo "end $RAFTCRON_SCHEDULED_TS" >> {path}')


def events(path: Path) -> list[tuple[str, int]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        kind, _, ts = line.partition(" ")
        if kind in ("start", "end") and ts:
            out.append((kind, round(float(ts))))
    return out


def ends(path: Path) -> int:
    return sum(1 for kind, _ in events(path) if kind == "end")


def run_policy(cluster: Cluster, name: str, spec: dict, enough: Callable[[], bool]) -> list[dict]:
    """Put the job, wait for `enough()`, pause it, and return its settled records by slot."""
    leader = cluster.wait_for_leader()
    put_job(leader, name, spec)
    wait_until(enough, 90, f"{name} to have run enough")
    pause(leader, name)
    return scheduled(wait_settled(leader, name))


def one_record_per_slot(runs: list[dict], period: int) -> None:
    slots = Counter(round(epoch(r["slot"])) for r in runs)
    first, last = min(slots), max(slots)
    assert {s: n for s, n in slots.items() if n != 1} == {}, "a slot recorded twice"
    assert sorted(slots) == list(range(first, last + 1, period)), "a slot has no record"


def assert_one_at_a_time(path: Path, runs: list[dict]) -> None:
    """The side-effect file alternates start/end of the same slot; the API's runs too."""
    seen = events(path)
    assert seen and len(seen) % 2 == 0, seen
    for i in range(0, len(seen), 2):
        assert seen[i][0] == "start" and seen[i + 1] == ("end", seen[i][1]), seen
    ran = sorted((r for r in runs if r["status"] == "succeeded"), key=lambda r: r["started_at"])
    for before, after in pairwise(ran):
        assert epoch(after["fired_at"]) >= epoch(before["finished_at"]), (before, after)


def test_cluster_forbid_skips_slots_while_a_run_goes(policies: Cluster, tmp_path: Path) -> None:
    out = tmp_path / "forbid"
    runs = run_policy(policies, "forbid", {"schedule": "* * * * * *", "concurrency": "forbid",
                                           "command": bracketed(out, 2.5)},
                      lambda: ends(out) >= 3)
    one_record_per_slot(runs, 1)
    assert_one_at_a_time(out, runs)
    ran = {r["id"]: r for r in runs if r["status"] == "succeeded"}
    skipped = [r for r in runs if r["status"] == "skipped"]
    assert len(ran) >= 3 and len(skipped) >= 2, runs
    assert {r["status"] for r in runs} == {"succeeded", "skipped"}
    by_slot = {r["slot"]: r for r in ran.values()}
    for r in skipped:
        # The reason names the run that was going (by id, or by slot when both came due in
        # one plan), fired before the skip was decided; the slot came due while it went
        # (give or take the time its end takes to reach the leader).
        what = r["reason"].removeprefix("previous run ").removesuffix(" still running")
        blocker = by_slot[what.removeprefix("for slot ")] if what.startswith("for slot ") \
            else ran[what]
        assert epoch(blocker["fired_at"]) <= epoch(r["fired_at"]), (blocker, r)
        assert epoch(r["slot"]) <= epoch(blocker["finished_at"]) + 3.0, (blocker, r)
    assert {s for k, s in events(out)} == {round(epoch(r["slot"])) for r in ran.values()}


def test_cluster_replace_cancels_the_old_run_for_the_new(policies: Cluster,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "replace"

    def starts() -> int:
        return sum(1 for k, _ in events(out) if k == "start")
    runs = run_policy(policies, "replace", {"schedule": "*/2 * * * * *", "concurrency": "replace",
                                            "command": bracketed(out, 6)},
                      lambda: starts() >= 4)
    one_record_per_slot(runs, 2)
    *replaced, last = runs
    # Every run but the last was stopped by its successor; the last, not replaced, finished.
    # (A leader that woke late fires two slots in one plan: the older is `skipped`, replaced
    # before it ran.)
    cancelled = [r for r in replaced if r["status"] == "cancelled"]
    assert len(cancelled) >= 2, replaced
    assert all(r["status"] == "cancelled" or (r["status"] == "skipped" and
                                              "replaced by slot" in r["reason"])
               for r in replaced), replaced
    assert last["status"] == "succeeded", last
    # Killed runs never reached their `end` line; every slot started in order, once.
    assert [s for k, s in events(out) if k == "end"] == [round(epoch(last["slot"]))]
    started = [s for k, s in events(out) if k == "start"]
    assert started == sorted(set(started))
    for r in cancelled:
        successor = next(n for n in runs if n["slot"] > r["slot"] and n["status"] != "skipped")
        assert epoch(r["finished_at"]) >= epoch(successor["slot"]) - 0.5  # ran until replaced


def test_cluster_queue_keeps_one_slot_waiting(policies: Cluster, tmp_path: Path) -> None:
    out = tmp_path / "queue"
    runs = run_policy(policies, "queue", {"schedule": "* * * * * *", "concurrency": "queue",
                                          "command": bracketed(out, 2.5)},
                      lambda: ends(out) >= 3)
    one_record_per_slot(runs, 1)
    assert_one_at_a_time(out, runs)
    ran = [r for r in runs if r["status"] == "succeeded"]
    skipped = [r for r in runs if r["status"] == "skipped"]
    assert {r["status"] for r in runs} == {"succeeded", "skipped"}
    assert len(ran) >= 3 and len(skipped) >= 2, runs
    assert all("queue full" in r["reason"] for r in skipped), skipped
    for before, after in pairwise(ran):
        # The next run's slot came due while the one before still ran: it waited for it,
        # and started once it had ended.
        assert epoch(after["slot"]) <= epoch(before["finished_at"]) + 0.5, (before, after)
        assert epoch(after["fired_at"]) >= epoch(before["finished_at"])
