"""A run recorded `lost` never starts (issue 12, item 1).

A peer cut off (or paused) past the lease replays the log when it is back: its fires, then the
leader's `run_lost` for them. The worker must not start what the state already gave up on:
it checks its copy before spawning, and a late run waits for catch-up and starts only once
the state accepted its `run_started`. Real StateMachine and SQLite copy, real processes; the
node is the harness's FakeNode, whose apply listeners can be held back like a backlog.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from raftcron.executor.local import LocalExecutor
from raftcron.worker.runner import Worker
from tests.support.wait import wait_until_async
from tests.support.worker import Env, executed, settle

LATE_AFTER = 5.0


def marker_job(env: Env, tmp_path: Path) -> Path:
    return env.marker_job()


def worker(env: Env) -> Worker:
    return env.worker({"local": LocalExecutor(env.data_dir / "output")}, late_after=LATE_AFTER)


def lose(env: Env, run_id: str, *, notify: bool) -> None:
    result = env.node.apply(
        "run_lost", {"run_id": run_id, "reason": "peer unreachable for 20s (lease 15s)",
                     "at": "2024-06-01T12:00:20Z"}, notify=notify)
    assert result["ok"], result


def late_record(env: Env, run_id: str) -> dict:
    """A record fired 20 s ago by this peer's clock: the backlog after a partition."""
    record = env.record(run_id)
    env.clock.advance(timedelta(seconds=20))
    return record


def ops(env: Env, op: str) -> list[dict]:
    return env.proposed(op)


async def idle(env: Env, w: Worker) -> None:
    await wait_until_async(lambda: not w.status()["running"], message="the worker to drop the run")
    await settle(w)


async def test_fire_lost_in_the_copy_before_the_worker_starts_it_never_runs(env: Env,
                                                                          tmp_path: Path):
    ran = marker_job(env, tmp_path)
    w = worker(env)
    await w.start()
    # A replayed backlog: the fire is applied and heard, the run_lost after it is applied
    # to the copy before the worker gets to the run (its notification is still queued).
    env.fire(env.record("r1"))
    lose(env, "r1", notify=False)
    await idle(env, w)
    assert executed(ran) == []
    assert env.run("r1")["status"] == "lost"
    assert ops(env, "run_started") == [] and ops(env, "run_finished") == []


async def test_late_fire_the_state_already_lost_is_refused_and_never_runs(env: Env,
                                                                         tmp_path: Path):
    ran = marker_job(env, tmp_path)
    w = worker(env)
    await w.start()
    # The copy still says pending, but the leader committed run_lost before this peer's
    # run_started reached the log: the state refuses it.
    answers: list[dict] = []
    propose: Callable[..., Any] = env.node.propose

    async def leader_lost_it_first(op: str, args: dict, **kw: Any) -> dict:
        if not answers:
            lose(env, "r1", notify=True)
        result = await propose(op, args, **kw)
        answers.append(result)
        return result

    env.node.propose = leader_lost_it_first  # type: ignore[method-assign]
    env.fire(late_record(env, "r1"))
    await idle(env, w)
    assert executed(ran) == []
    assert answers[0]["error"] == "not_active" and answers[0]["status"] == "lost"
    run = env.run("r1")
    assert (run["status"], run["started_at"]) == ("lost", None)
    assert ops(env, "run_finished") == []


async def test_late_fire_waits_for_catch_up_then_rechecks_the_copy(env: Env, tmp_path: Path):
    ran = marker_job(env, tmp_path)
    w = worker(env)
    await w.start()
    env.node.caught_up = False  # the leader said more is committed than this peer applied
    env.fire(late_record(env, "r1"))
    await wait_until_async(lambda: w.admission._caught_up is not None,
                           message="the run to wait for catch-up")
    assert executed(ran) == [] and ops(env, "run_started") == []
    lose(env, "r1", notify=False)  # ... further down the backlog
    env.node.caught_up = True
    await idle(env, w)
    assert executed(ran) == []
    # The copy check after catching up sufficed: not even a refused proposal.
    assert ops(env, "run_started") == [] and ops(env, "run_finished") == []
    assert env.run("r1")["status"] == "lost"


async def test_late_fires_still_pending_are_confirmed_together_then_run_once(env: Env,
                                                                            tmp_path: Path):
    ran = marker_job(env, tmp_path)
    w = worker(env)
    await w.start()
    ids = [f"r{i}" for i in range(5)]
    records = [env.record(rid) for rid in ids]
    env.clock.advance(timedelta(seconds=20))
    env.fire(*records)
    await wait_until_async(lambda: all(env.status_is(rid, "succeeded") for rid in ids),
                           message="every run")
    await settle(w)
    assert sorted(executed(ran)) == ids
    # One proposal confirmed the five; the runs' run_started were not reported again.
    assert w.admission.proposals == 1
    assert sorted(a["run_id"] for a in ops(env, "run_started")) == ids
    assert all(env.run(rid)["started_at"] is not None for rid in ids)


async def test_on_time_fire_starts_without_a_confirmation_round_trip(env: Env,
                                                                     tmp_path: Path):
    ran = marker_job(env, tmp_path)
    w = worker(env)
    await w.start()
    env.fire(env.record("r1"))
    await wait_until_async(lambda: env.status_is("r1", "succeeded"), message="r1 to run")
    assert executed(ran) == ["r1"]
    assert w.admission.asked == 0


async def test_stop_while_a_late_fire_waits_for_catch_up_starts_nothing(env: Env,
                                                                        tmp_path: Path):
    ran = marker_job(env, tmp_path)
    w = worker(env)
    await w.start()
    env.node.caught_up = False  # e.g. no leader: this peer cannot know what it missed
    env.fire(late_record(env, "r1"))
    await wait_until_async(lambda: w.admission._caught_up is not None,
                           message="the run to wait for catch-up")
    await w.stop()
    assert not w.status()["running"]
    assert executed(ran) == [] and ops(env, "run_started") == []
    assert env.run("r1")["status"] == "pending"  # the leader records it lost after the lease
