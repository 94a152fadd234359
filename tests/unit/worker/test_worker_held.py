"""Held runs (fired ahead of their slot): confirmed before they start, so a run the leader
moved off this peer never starts here, and a run moved here starts once (`planning.moves`).
Real StateMachine and SQLite copy, real processes; the node is the harness's FakeNode."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from raftcron.durations import format_time
from raftcron.executor.local import LocalExecutor
from raftcron.worker.runner import Worker
from tests.support.wait import wait_until_async
from tests.support.worker import SELF, Env, executed, settle

OTHER = "127.0.0.1:7999"


def worker(env: Env) -> Worker:
    return env.worker({"local": LocalExecutor(env.data_dir / "output")})


def fire_held(env: Env, *records: dict, notify: bool = True) -> None:
    result = env.node.apply("fire", {"runs": list(records), "at": format_time(env.clock.now()),
                                     "held": [r["run_id"] for r in records]}, notify=notify)
    assert result["ok"] and len(result["accepted"]) == len(records), result


def move(env: Env, run_id: str, from_peer: str, peer: str, *, notify: bool = True) -> dict:
    return env.node.apply("move_run", {"run_id": run_id, "from_peer": from_peer, "peer": peer,
                                       "target": peer, "at": format_time(env.clock.now())},
                          notify=notify)


async def test_a_held_run_starts_only_once_its_start_is_committed(env: Env, tmp_path: Path):
    ran = env.marker_job()
    w = worker(env)
    await w.start()
    record = env.record("r1")
    fire_held(env, record)
    await wait_until_async(lambda: env.status_is("r1", "succeeded"), message="r1 to run")
    await settle(w)
    assert executed(ran) == ["r1"]
    assert w.admission.asked == 1
    # Confirmed before the spawn, stamped with its time; not reported again after it (the
    # final report carries the process's own start).
    assert [(a["run_id"], a["at"]) for a in env.proposed("run_started")] == [
        ("r1", record["fired_at"])]
    assert env.run("r1")["started_at"] is not None


async def test_a_held_run_moved_away_before_its_confirmation_never_starts_here(
        env: Env, tmp_path: Path):
    ran = env.marker_job()
    w = worker(env)
    await w.start()
    answers: list[dict] = []
    propose: Callable[..., Any] = env.node.propose

    async def leader_moved_it_first(op: str, args: dict, **kw: Any) -> dict:
        if not answers:  # the move reached the log first (this peer was thought silent)
            assert move(env, "r1", SELF, OTHER, notify=False)["ok"]
        result = await propose(op, args, **kw)
        answers.append(result)
        return result

    env.node.propose = leader_moved_it_first  # type: ignore[method-assign]
    fire_held(env, env.record("r1"))
    await wait_until_async(lambda: bool(answers), message="the confirmation")
    await wait_until_async(lambda: not w.status()["running"], message="the worker to drop it")
    await settle(w)
    assert executed(ran) == []
    assert answers[0]["error"] == "wrong_peer"
    run = env.run("r1")
    assert (run["status"], run["peer"], run["started_at"]) == ("pending", OTHER, None)


async def test_a_held_run_moved_here_runs_once(env: Env, tmp_path: Path):
    ran = env.marker_job()
    w = worker(env)
    await w.start()
    fire_held(env, env.record("r1", peer=OTHER))  # held by a peer that then went silent
    assert move(env, "r1", OTHER, SELF)["ok"]
    await wait_until_async(lambda: env.status_is("r1", "succeeded"), message="r1 to run here")
    await settle(w)
    assert executed(ran) == ["r1"]
    assert [a["peer"] for a in env.proposed("run_started")] == [SELF]


async def test_a_held_run_still_pending_after_a_restart_is_taken_again(env: Env, tmp_path: Path):
    """The crash came after started.log's fsync, before the confirmation committed: the copy
    (caught up) still lists the run pending and held here, so it never started: it runs now,
    once, instead of being reported lost. A plain pending run logged there stays lost (it may
    have been spawned before its report)."""
    ran = env.marker_job()
    fire_held(env, env.record("held-1"))
    env.fire(env.record("plain-1"))
    env.data_dir.mkdir(parents=True)
    (env.data_dir / "started.log").write_text("held-1\nplain-1\n")
    w = worker(env)
    await w.start()
    await wait_until_async(lambda: env.status_is("held-1", "succeeded"),
                           message="the held run to run")
    await wait_until_async(lambda: env.status_is("plain-1", "lost"),
                           message="the plain run to be lost")
    await settle(w)
    assert executed(ran) == ["held-1"]
    assert [a["run_id"] for a in env.proposed("run_started")] == ["held-1"]
