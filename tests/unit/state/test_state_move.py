"""Held runs (v5): `fire` marks the runs fired ahead, `move_run` gives a pending one to
another peer, and the log's order decides between a move and the old peer's confirmation."""

from __future__ import annotations

from pathlib import Path

import pytest

from raftcron.model.commands import decode, encode, version_of
from tests.support.records import run_record
from tests.support.state import open_state

T = [f"2024-05-01T1{h}:00:00Z" for h in range(10)]


@pytest.fixture
def env(tmp_path: Path):
    with open_state(tmp_path) as (log, read, sm):
        log("put_job", {"job": {"name": "backup"}, "at": T[0]})
        records = [run_record(f"r{i}", "backup", T[i]) for i in (1, 2, 3)]
        log("fire", {"runs": records, "at": T[1], "held": ["r1", "r2"]})
        yield log, read, sm


def held(read, run_id: str) -> bool:
    """The worker's view of a run (`runs_for_peer` carries `held`)."""
    return next(r["held"] for r in read.runs_for_peer("p1", ["pending"]) if r["id"] == run_id)


def move(run_id: str, from_peer: str = "p1", peer: str = "p2") -> dict:
    return {"run_id": run_id, "from_peer": from_peer, "peer": peer, "target": peer, "at": T[5]}


def test_fire_marks_only_the_runs_it_names_as_held(env) -> None:
    _, read, _ = env
    assert [held(read, r) for r in ("r1", "r2", "r3")] == [True, True, False]
    assert "held" not in read.get_run("r1")  # not part of the run resource


def test_a_pending_held_run_moves_with_its_target(env) -> None:
    log, read, _ = env
    assert log("move_run", move("r1")) == {"ok": True, "job": "backup", "status": "pending",
                                          "peer": "p2"}
    run = read.get_run("r1")
    assert (run["peer"], run["target"], run["status"]) == ("p2", "p2", "pending")


@pytest.mark.parametrize("before, from_peer, words", [
    (None, "p9", "on p1"),                                   # not on the peer it leaves
    ("run_started", "p1", "running on p1"),                  # confirmed first: may have run
    ("run_lost", "p1", "lost on p1"),                        # ended
])
def test_a_move_is_refused_unless_the_run_is_pending_and_held_on_that_peer(
        env, before: str | None, from_peer: str, words: str) -> None:
    log, read, _ = env
    if before == "run_started":
        assert log("run_started", {"run_id": "r1", "peer": "p1", "at": T[4]})["ok"]
    elif before == "run_lost":
        assert log("run_lost", {"run_id": "r1", "at": T[4]})["ok"]
    result = log("move_run", move("r1", from_peer))
    assert result["error"] == "not_movable" and words in result["message"]
    assert read.get_run("r1")["peer"] == "p1"


def test_a_run_not_held_never_moves(env) -> None:
    log, read, _ = env
    result = log("move_run", move("r3"))
    assert result["error"] == "not_movable" and "not held" in result["message"]
    assert read.get_run("r3")["peer"] == "p1"
    assert log("move_run", move("nope"))["error"] == "not_found"


def test_after_a_move_the_old_peer_cannot_start_the_run_and_the_new_one_can(env) -> None:
    log, read, _ = env
    log("move_run", move("r1"))
    refused = log("run_started", {"run_id": "r1", "peer": "p1", "at": T[6]})
    assert refused["error"] == "wrong_peer"
    assert log("run_started", {"run_id": "r1", "peer": "p2", "at": T[6]})["ok"]
    assert read.get_run("r1")["status"] == "running"


def test_held_and_move_run_are_version_5_and_a_fire_without_held_keeps_its_version() -> None:
    rec = run_record("r1", "backup", T[1])
    assert version_of("fire", {"runs": [rec], "at": T[1]}) == 1
    assert version_of("fire", {"runs": [rec], "at": T[1], "held": ["r1"]}) == 5
    assert version_of("move_run", move("r1")) == 5
    assert decode(encode("move_run", move("r1"))).v == 5


def test_a_held_run_keeps_its_process_start_not_its_confirmation_time(env) -> None:
    log, read, _ = env
    log("run_started", {"run_id": "r1", "peer": "p1", "at": T[1]})   # confirmed: its time
    log("run_started", {"run_id": "r3", "peer": "p1", "at": T[3]})   # not held: reported
    for run_id in ("r1", "r3"):
        assert log("run_finished", {"run_id": run_id, "status": "succeeded", "at": T[7],
                                    "started_at": T[6]})["ok"]
    assert read.get_run("r1")["started_at"] == T[6]
    assert read.get_run("r3")["started_at"] == T[3]
