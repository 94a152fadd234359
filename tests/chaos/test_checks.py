"""The chaos checks themselves (tests/support/faults/checks.py): each invariant, broken on
purpose, is reported; kept, it is not. No processes: stamps and run records built here."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from tests.support.faults.checks import copies_differ, early_runs, judge_slots, read_copy

JOB, FIRST, LAST = "j", 1_800_000_000, 1_800_000_002


def stamp(slot: int, start: float | None = None) -> SimpleNamespace:
    return SimpleNamespace(job=JOB, slot=slot, start=slot + 0.01 if start is None else start)


def record(slot: int, status: str = "succeeded", **extra: object) -> dict:
    at = datetime.fromtimestamp(slot, UTC).isoformat().replace("+00:00", "Z")
    return {"job": JOB, "slot": at, "status": status, **extra}


def test_every_slot_once_passes_and_lost_marked_slots_are_counted() -> None:
    report = judge_slots([stamp(FIRST), stamp(FIRST + 2)],
                         [record(FIRST), record(FIRST + 1, "lost"), record(FIRST + 2),
                          record(FIRST, manual=True)], [JOB], FIRST, LAST)
    assert report.problems == []
    assert (report.expected, report.ran, report.lost_marked) == (3, 2, [(JOB, FIRST + 1)])


def test_doubled_missed_and_unrecorded_slots_are_problems() -> None:
    report = judge_slots([stamp(FIRST), stamp(FIRST), stamp(FIRST + 2)],
                         [record(FIRST)], [JOB], FIRST, LAST)
    assert report.doubled == [(JOB, FIRST, 2, 1)]
    assert report.missed == [(JOB, FIRST + 1, [])]
    assert report.unrecorded == [(JOB, FIRST + 2)]
    assert len(report.problems) == 3


def test_an_execution_before_its_slot_is_early() -> None:
    assert early_runs([stamp(FIRST), stamp(FIRST + 1, start=FIRST + 0.7)]) == [
        (JOB, FIRST + 1, 0.3)]


def test_copies_that_differ_in_a_row_are_named(tmp_path: Path) -> None:
    paths = []
    for i, value in enumerate(["a", "a", "b"]):
        paths.append(tmp_path / f"{i}.sqlite3")
        with sqlite3.connect(paths[-1]) as conn:
            conn.execute("CREATE TABLE jobs (name TEXT PRIMARY KEY, v TEXT)")
            conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            conn.execute("INSERT INTO jobs VALUES ('x', ?)", (value,))
        conn.close()
    copies = {str(p): read_copy(p) for p in paths}
    assert copies_differ(dict(list(copies.items())[:2])) == []
    assert copies_differ(copies) == ["jobs"]
