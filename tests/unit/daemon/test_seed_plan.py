"""`seed_plan.decide_jobs`: what seeding from `--jobs-dir` does to each job (pure, table)."""

from __future__ import annotations

from typing import Any

import pytest

from raftcron.daemon.seed_plan import decide_jobs, file_marker

A, B = file_marker("backup.toml"), file_marker("renamed.toml")


def job(paused: bool = False, **extra: Any) -> dict[str, Any]:
    return {"name": "backup", "schedule": "@hourly", "command": "true", "paused": paused, **extra}


def state(managed_by: str | None, version: int = 3, **fields: Any) -> dict[str, Any]:
    # As the state serves it: the spec plus read-only fields.
    return {**job(**fields), "status": "scheduled", "version": version, "managed_by": managed_by}


CASES = [
    # (why, files, state, expected (action, managed_by, paused put, warn))
    ("absent: created from the file", [(A, job())], {}, [("create", A, False, False)]),
    ("absent, file says paused: created paused", [(A, job(paused=True))], {},
     [("create", A, True, False)]),
    ("same file, same definition: nothing written", [(A, job())], {"backup": state(A)},
     [("unchanged", A, None, False)]),
    ("same file, edited: the file's version", [(A, job(retries=2))], {"backup": state(A)},
     [("update", A, False, False)]),
    ("paused through the API, file unchanged: not reverted", [(A, job())],
     {"backup": state(A, paused=True)}, [("unchanged", A, None, False)]),
    ("paused through the API, file edited: still paused", [(A, job(retries=2))],
     {"backup": state(A, paused=True)}, [("update", A, True, False)]),
    ("resumed through the API, file says paused: stays resumed", [(A, job(paused=True))],
     {"backup": state(A, paused=False)}, [("unchanged", A, None, False)]),
    ("made through the API: the file takes it over", [(A, job())],
     {"backup": state(None, retries=5)}, [("take_over", A, False, True)]),
    ("made through the API and paused: taken over, still paused", [(A, job())],
     {"backup": state(None, paused=True)}, [("take_over", A, True, True)]),
    ("defined by another file (renamed): moved", [(B, job())], {"backup": state(A)},
     [("update", B, False, True)]),
    ("file gone: released, not deleted", [], {"backup": state(A)},
     [("release", A, None, True)]),
    ("API job and no file: left alone", [], {"backup": state(None)}, []),
]


@pytest.mark.parametrize(("why", "files", "current", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_seed_plan_decide_jobs(why, files, current, expected) -> None:
    decisions = decide_jobs(files, current)
    got = [(d.action, d.managed_by, None if d.job is None else d.job["paused"], d.warn)
           for d in decisions]
    assert got == expected, why
    for d in decisions:
        assert d.name == "backup"
        if d.job is not None:  # what put_job carries is the file's definition
            file_job = dict(files[0][1])
            assert {k: v for k, v in d.job.items() if k != "paused"} == {
                k: v for k, v in file_job.items() if k != "paused"}


def test_seed_plan_notes_say_why_for_the_log() -> None:
    [take] = decide_jobs([(A, job())], {"backup": state(None)})
    assert "made through the API" in take.notes[0] and "backup.toml" in take.notes[0]
    [release] = decide_jobs([], {"backup": state(A)})
    assert "backup.toml" in release.notes[0] and "raftcron jobs rm backup" in release.notes[0]
    [kept] = decide_jobs([(A, job(paused=True))], {"backup": state(A)})
    assert kept.action == "unchanged" and "paused" in kept.notes[0]


def test_seed_plan_files_first_then_releases_by_name() -> None:
    other = {**job(), "name": "other"}
    current = {"zeta": {"managed_by": file_marker("z.toml")},
               "alpha": {"managed_by": file_marker("a.toml")},
               "api": {"managed_by": None}}
    got = [(d.action, d.name) for d in decide_jobs([(A, job()), (B, other)], current)]
    assert got == [("create", "backup"), ("create", "other"), ("release", "alpha"),
                   ("release", "zeta")]
