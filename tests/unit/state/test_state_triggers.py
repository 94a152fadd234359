"""Command version 4 in the state (`state.triggers`): a dependency or backfill decision
applies once whoever proposes it, a pause keeps its reason until resumed, `slow` is a flag."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from raftcron.model.commands import version_of
from raftcron.planning.trigger_proposals import pause_proposal, trigger_proposal
from tests.support.records import job_body, put_job_args, run_record
from tests.support.state import open_state

T0 = "2024-05-01T10:00:00Z"
NOW = datetime(2024, 5, 1, 10, 5, tzinfo=UTC)


@pytest.fixture
def env(tmp_path: Path):
    with open_state(tmp_path) as (log, read, _sm):
        for name in ("a", "b"):
            assert log("put_job", put_job_args(job_body(name), T0))["ok"]
        yield log, read


def _triggered(run_id: str, parent: str = "pa-1"):
    rec = run_record(run_id, "b", T0, manual=True, reason="after a")
    return trigger_proposal("b", "after", [rec], now=NOW, triggered_by=parent)


def test_state_trigger_marks_the_run_and_refuses_a_second_for_one_parent(env) -> None:
    log, read = env
    first = _triggered("b-1")
    assert version_of(first.op, first.args) == 4
    assert log(first.op, first.args)["ok"]
    run = read.get_run("b-1")
    assert run["triggered_by"] == "pa-1" and run["manual"] is False and run["backfill"] is False
    # Another leader decides the same thing with other run ids: nothing is applied.
    again = _triggered("b-2")
    result = log(again.op, again.args)
    assert result["ok"] is False and result["duplicate"] is True
    assert read.get_run("b-2") is None
    # A new parent starts a new run.
    third = _triggered("b-3", "pa-2")
    assert log(third.op, third.args)["ok"]
    assert read.triggered_runs("b", "pa-2") == 1


def test_state_backfill_fires_only_its_next_slot(env) -> None:
    log, read = env
    slots = ["2024-05-01T07:00:00Z", "2024-05-01T08:00:00Z"]
    assert log("backfill", {"id": "bf", "job": "a", "slots": slots, "at": T0})["ok"]
    assert log("backfill", {"id": "bf", "job": "a", "slots": slots, "at": T0})["error"] == "exists"

    def slot(i: int, run_id: str) -> dict:
        rec = run_record(run_id, "a", slots[i], manual=True)
        p = trigger_proposal("a", "backfill", [rec], now=NOW, backfill="bf", index=i)
        return log(p.op, p.args)

    assert slot(1, "x")["ok"] is False  # not the next slot
    assert slot(0, "s0")["ok"]
    assert slot(0, "s0b")["ok"] is False  # the same slot again (a deposed leader)
    assert read.get_run("s0b") is None and read.get_run("s0")["backfill"] is True
    assert slot(1, "s1")["ok"]
    assert slot(1, "s2")["ok"] is False  # done
    (bf,) = read.backfills(job="a")
    assert (bf["done"], bf["total"]) == (2, 2)
    assert read.backfills(open_only=True) == []


def test_state_backfill_needs_slots_in_order_and_a_job(env) -> None:
    log, _ = env
    result = log("backfill", {"id": "x", "job": "a", "at": T0,
                              "slots": ["2024-05-01T08:00:00Z", "2024-05-01T07:00:00Z"]})
    assert result["ok"] is False and result["field"] == "slots"
    assert log("backfill", {"id": "y", "job": "zz", "slots": [T0], "at": T0})["error"] == \
        "not_found"


def test_state_pause_reason_is_kept_until_resume(env) -> None:
    log, read = env
    p = pause_proposal("a", "paused after 3 consecutive failures; last run r", "r", now=NOW)
    assert log(p.op, p.args)["ok"]
    job = read.get_job("a")
    assert job["status"] == "paused"
    assert job["pause_reason"] == "paused after 3 consecutive failures; last run r"
    assert log("set_paused", {"name": "a", "paused": False, "at": T0})["ok"]
    assert read.get_job("a")["pause_reason"] is None
    # A reason alone, on a job that is not paused, is refused.
    assert log("pause_reason", {"name": "a", "reason": "x", "at": T0})["ok"] is False


def test_state_run_slow_is_a_flag(env) -> None:
    log, read = env
    assert log("fire", {"runs": [run_record("r1", "a", T0)], "at": T0})["ok"]
    assert log("run_slow", {"run_id": "r1", "at": T0}) == {"ok": True, "job": "a",
                                                           "already": False}
    assert log("run_slow", {"run_id": "r1", "at": T0})["already"] is True
    assert read.get_run("r1")["slow"] is True
    assert log("run_slow", {"run_id": "nope", "at": T0})["error"] == "not_found"


def test_state_deleting_a_job_drops_its_backfills(env) -> None:
    log, read = env
    assert log("backfill", {"id": "bf", "job": "a", "slots": [T0], "at": T0})["ok"]
    assert log("delete_job", {"name": "a", "at": T0})["ok"]
    assert read.backfills() == []
