"""Worker: runs what the log assigns to this peer, reports it, and survives restarts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from raftcron.durations import format_time
from raftcron.executor.local import LocalExecutor
from raftcron.worker.execution import STOP_REASON
from raftcron.worker.job_edits import PAUSED_BEFORE_SLOT
from raftcron.worker.runner import RESTART_REASON
from tests.support.fake_node import OTHER
from tests.support.wait import wait_until_async
from tests.support.worker import SELF, Env, FakeExecutor, settle


def local(env: Env) -> dict:
    return {"local": LocalExecutor(env.data_dir / "output")}


async def test_worker_runs_assigned_fire_and_reports_tails(env: Env):
    env.put_job(command=["sh", "-c", "echo out; echo err >&2; exit 0"])
    worker = env.worker(local(env))
    await worker.start()
    env.fire(env.record("r1"))
    await wait_until_async(lambda: env.status_is("r1", "succeeded", "failed"),
                           message="r1 to finish")
    run = env.run("r1")
    assert run["status"] == "succeeded", run
    assert (run["stdout_tail"], run["stderr_tail"], run["exit_code"]) == ("out\n", "err\n", 0)
    assert run["started_at"] is not None and run["output_bytes"] == 8
    assert (env.data_dir / "output" / "r1.stdout").read_text() == "out\n"
    assert "r1" in (env.data_dir / "started.log").read_text().split()
    keys = {key for _, _, key in env.worker_proposals()}
    assert "finished:r1" in keys or any(k and k.startswith("reports:") for k in keys)


async def test_worker_failing_run_reports_failed(env: Env):
    env.put_job(command="echo bad >&2; exit 7")
    worker = env.worker(local(env))
    await worker.start()
    env.fire(env.record("r1"))
    await wait_until_async(lambda: env.status_is("r1", "failed"), message="r1 to fail")
    run = env.run("r1")
    assert (run["exit_code"], run["stderr_tail"], run["reason"]) == (7, "bad\n", "exit status 7")


async def test_worker_ignores_runs_of_other_peers(env: Env):
    env.put_job()
    executor = FakeExecutor(env.clock)
    worker = env.worker({"local": executor})
    await worker.start()
    executor.release()
    env.fire(env.record("theirs", peer=OTHER), env.record("mine"))
    await wait_until_async(lambda: env.status_is("mine", "succeeded"), message="mine to finish")
    await settle(worker)
    assert [s.run_id for s in executor.specs] == ["mine"]
    assert env.run("theirs")["status"] == "pending"


async def test_worker_ignores_fires_before_start_then_scan_runs_them_once(env: Env):
    env.put_job()
    executor = FakeExecutor(env.clock)
    executor.release()
    worker = env.worker({"local": executor})
    env.fire(env.record("r1"))  # applied during catch-up: on_applied must not run it
    assert executor.specs == [] and not worker.status()["running"]
    await worker.start()
    await wait_until_async(lambda: env.status_is("r1", "succeeded"),
                           message="r1 to run after start")
    await settle(worker)
    assert [s.run_id for s in executor.specs] == ["r1"]


async def test_worker_restart_reports_started_run_lost_and_never_reruns(env: Env):
    env.put_job()
    first = FakeExecutor(env.clock)
    worker = env.worker({"local": first})
    await worker.start()
    env.fire(env.record("r1"))
    await wait_until_async(lambda: env.status_is("r1", "running"), message="r1 to be running")
    # Crash: the process vanishes; no report, no cleanup beyond what the OS does.
    env.detach(worker)
    for task in list(worker._tasks.values()):
        task.cancel()
    await worker.reporter.close()
    env.workers.remove(worker)

    second = FakeExecutor(env.clock)
    restarted = env.worker({"local": second})
    await restarted.start()
    await wait_until_async(lambda: env.status_is("r1", "lost"), message="r1 to be reported lost")
    assert env.run("r1")["reason"] == RESTART_REASON
    await settle(restarted)
    assert second.specs == []


async def test_worker_restart_pending_run_in_started_log_is_lost(env: Env):
    # The crash came after the fsync of started.log but before run_started was committed.
    env.put_job()
    env.fire(env.record("r1"))
    env.data_dir.mkdir(parents=True)
    (env.data_dir / "started.log").write_text("r1\nold-finished-run\npartial-li")
    executor = FakeExecutor(env.clock)
    worker = env.worker({"local": executor})
    await worker.start()
    await wait_until_async(lambda: env.status_is("r1", "lost"), message="r1 to be lost")
    await settle(worker)
    assert executor.specs == []
    # Trimmed to what is still active (r1 until its loss was committed), torn line dropped.
    assert (env.data_dir / "started.log").read_text().split() in ([], ["r1"])


async def test_worker_restart_starts_pending_never_started_run(env: Env):
    env.put_job(command=["sh", "-c", "echo resumed"])
    env.fire(env.record("r1"))
    env.data_dir.mkdir(parents=True)
    (env.data_dir / "started.log").write_text("some-other-run\n")
    worker = env.worker(local(env))
    await worker.start()
    await wait_until_async(lambda: env.status_is("r1", "succeeded"), message="r1 to run")
    assert env.run("r1")["stdout_tail"] == "resumed\n"


async def test_worker_cancel_run_command_stops_process(env: Env, tmp_path: Path):
    pidfile = tmp_path / "pid"
    env.put_job(command=f"echo $$ > {pidfile}; exec sleep 300")
    worker = env.worker(local(env))
    await worker.start()
    env.fire(env.record("r1"))
    await wait_until_async(lambda: env.status_is("r1", "running") and pidfile.exists(),
                           message="r1 to run")
    env.node.apply("cancel_run", {"run_id": "r1", "at": "2024-06-01T12:00:01Z"})
    await wait_until_async(lambda: env.status_is("r1", "cancelled"), message="r1 to be cancelled")
    assert "cancel" in env.run("r1")["reason"]


async def test_worker_cancel_method_and_unknown_run(env: Env):
    env.put_job()
    executor = FakeExecutor(env.clock)
    worker = env.worker({"local": executor})
    await worker.start()
    env.fire(env.record("r1"))
    await wait_until_async(lambda: executor.specs, message="r1 to reach the executor")
    assert await worker.cancel("nope") is False
    assert await worker.cancel("r1") is True
    await wait_until_async(lambda: env.status_is("r1", "cancelled"), message="r1 to be cancelled")
    assert executor.cancelled == ["r1"]


async def test_worker_cancel_requested_before_restart_is_reported_cancelled(env: Env):
    env.put_job()
    env.fire(env.record("r1"))
    env.node.apply("cancel_run", {"run_id": "r1", "at": "2024-06-01T12:00:01Z"})
    executor = FakeExecutor(env.clock)
    worker = env.worker({"local": executor})
    await worker.start()
    await wait_until_async(lambda: env.status_is("r1", "cancelled"), message="r1 to be cancelled")
    assert executor.specs == []


async def test_worker_run_lost_by_cluster_is_stopped_without_report(env: Env):
    env.put_job()
    executor = FakeExecutor(env.clock)
    worker = env.worker({"local": executor})
    await worker.start()
    env.fire(env.record("r1"))
    await wait_until_async(lambda: env.status_is("r1", "running"), message="r1 to run")
    env.node.apply(
        "run_lost", {"run_id": "r1", "reason": "lease expired", "at": "2024-06-01T12:01:00Z"}
    )
    await wait_until_async(lambda: executor.cancelled == ["r1"],
                           message="the local process to be stopped")
    await wait_until_async(lambda: not worker.status()["running"],
                           message="the run to leave the worker")
    await settle(worker)
    assert env.run("r1")["status"] == "lost"
    assert env.run("r1")["reason"] == "lease expired"
    assert not any(op == "run_finished" for op, _, _ in env.worker_proposals())


async def test_worker_batches_events_of_runs_ending_together(env: Env):
    env.put_job()
    executor = FakeExecutor(env.clock)
    worker = env.worker({"local": executor})
    await worker.start()
    n = 30
    env.fire(*(env.record(f"r{i:02d}") for i in range(n)))
    await wait_until_async(lambda: all(env.status_is(f"r{i:02d}", "running") for i in range(n)),
                           message="all running")
    before = len(env.worker_proposals())
    executor.release()
    await wait_until_async(lambda: all(env.status_is(f"r{i:02d}", "succeeded") for i in range(n)),
                           message="all done")
    finishing = len(env.worker_proposals()) - before
    assert before + finishing < 2 * n, "fewer log entries than run events"
    assert finishing < n
    assert any(op == "batch" for op, _, _ in env.worker_proposals())
    assert worker.reporter.events == 2 * n


async def test_worker_retries_report_until_applied(env: Env):
    env.put_job()
    executor = FakeExecutor(env.clock)
    executor.release()
    worker = env.worker({"local": executor})
    worker.reporter.backoff = 0.01
    await worker.start()
    env.node.fail_next = 3
    env.fire(env.record("r1"))
    await wait_until_async(lambda: env.status_is("r1", "succeeded"),
                           message="r1 to be reported despite failures")
    assert worker.reporter.retries >= 3


async def test_worker_ssh_and_local_node_targets_pick_executor(env: Env):
    env.put_job()
    for node in (
        {"name": "db1", "connection_type": "ssh", "ssh_host": "127.0.0.1", "ssh_user": "x"},
        {"name": "box", "connection_type": "local"},
    ):
        result = env.node.apply("put_node", {"node": node, "at": "2024-06-01T12:00:00Z"})
        assert result["ok"], result
    local_exec, ssh_exec = FakeExecutor(env.clock), FakeExecutor(env.clock)
    local_exec.release()
    ssh_exec.release()
    worker = env.worker({"local": local_exec, "ssh": ssh_exec})
    await worker.start()
    env.fire(
        env.record("r-ssh", target="db1"),
        env.record("r-box", target="box"),
        env.record("r-self", target=SELF),
    )
    done = ("succeeded",)
    await wait_until_async(
        lambda: all(env.status_is(r, *done) for r in ("r-ssh", "r-box", "r-self")), message="runs")
    [ssh_spec] = ssh_exec.specs
    assert ssh_spec.target is not None and ssh_spec.target.ssh_host == "127.0.0.1"
    assert ssh_spec.target_name == "db1"
    by_id = {s.run_id: s for s in local_exec.specs}
    assert set(by_id) == {"r-box", "r-self"}
    assert by_id["r-box"].target_name == "box" and by_id["r-self"].target is None


async def test_worker_unknown_target_or_missing_executor_fails_run(env: Env):
    env.put_job()
    result = env.node.apply(
        "put_node",
        {
            "node": {"name": "db1", "connection_type": "ssh", "ssh_host": "h", "ssh_user": "u"},
            "at": "2024-06-01T12:00:00Z",
        },
    )
    assert result["ok"]
    worker = env.worker({"local": FakeExecutor(env.clock)})
    await worker.start()
    env.fire(env.record("r1", target="nowhere"), env.record("r2", target="db1"))
    await wait_until_async(lambda: env.status_is("r1", "failed") and env.status_is("r2", "failed"),
                           message="fail")
    assert "nowhere" in env.run("r1")["reason"]
    assert "ssh executor" in env.run("r2")["reason"]


async def test_worker_stop_reports_runs_in_flight_lost(env: Env):
    env.put_job()
    executor = FakeExecutor(env.clock)
    worker = env.worker({"local": executor})
    await worker.start()
    env.fire(env.record("r1"))
    await wait_until_async(lambda: env.status_is("r1", "running"), message="r1 to run")
    assert worker.status() == {"running": 1, "capacity": 4}
    await worker.stop()
    assert executor.cancelled == ["r1"]
    assert env.run("r1")["status"] == "lost"
    assert env.run("r1")["reason"] == STOP_REASON


async def test_worker_snapshot_rescan_starts_new_runs(env: Env):
    env.put_job()
    executor = FakeExecutor(env.clock)
    executor.release()
    worker = env.worker({"local": executor})
    await worker.start()
    env.fire(env.record("r1"), notify=False)  # brought by a snapshot: no on_applied
    assert executor.specs == []
    worker.on_snapshot(env.node.index)
    await wait_until_async(lambda: env.status_is("r1", "succeeded"),
                           message="r1 to run after the rescan")


def _started_logged(env: Env, run_id: str) -> bool:
    path = env.data_dir / "started.log"
    return path.exists() and run_id in path.read_text().split()


async def _fire_ahead(env: Env, executor: FakeExecutor, seconds: float = 10) -> None:
    """Fire r1 stamped `seconds` ahead of the clock, as the leader does for a slot it
    commits ahead (planning/ahead.py), and wait until the worker holds it."""
    worker = env.worker({"local": executor})
    await worker.start()
    record = env.record("r1")
    record["fired_at"] = format_time(env.clock.now() + timedelta(seconds=seconds))
    env.fire(record)
    await wait_until_async(lambda: _started_logged(env, "r1"),
                           message="r1 to be recorded in started.log")


async def test_worker_holds_a_run_fired_ahead_until_its_time(env: Env):
    # The worker prepares and records the run, and starts it only at its time.
    env.put_job()
    executor = FakeExecutor(env.clock)
    executor.release()
    await _fire_ahead(env, executor)
    assert executor.specs == [] and env.run("r1")["status"] == "pending"
    env.clock.advance(9.9)  # still before it
    assert executor.specs == []
    env.clock.advance(0.1)
    await wait_until_async(lambda: env.status_is("r1", "succeeded"), message="r1 at its time")
    assert [s.run_id for s in executor.specs] == ["r1"]


async def test_worker_run_fired_ahead_of_a_job_paused_meanwhile_never_starts(env: Env):
    env.put_job()
    executor = FakeExecutor(env.clock)
    executor.release()
    await _fire_ahead(env, executor)
    env.node.apply("set_paused", {"name": "job", "paused": True,
                                  "at": format_time(env.clock.now())})
    env.clock.advance(10)
    await wait_until_async(lambda: env.status_is("r1", "cancelled"), message="r1 cancelled")
    assert env.run("r1")["reason"] == PAUSED_BEFORE_SLOT
    assert executor.specs == []


async def test_worker_run_fired_ahead_starts_with_the_job_as_edited_meanwhile(env: Env):
    env.put_job(command=["echo", "old"])
    executor = FakeExecutor(env.clock)
    executor.release()
    await _fire_ahead(env, executor)
    env.put_job(command=["echo", "new"])
    env.clock.advance(10)
    await wait_until_async(lambda: env.status_is("r1", "succeeded"), message="r1 at its time")
    assert [s.command for s in executor.specs] == [["echo", "new"]]


async def test_worker_run_fired_ahead_of_a_job_deleted_meanwhile_never_starts(env: Env):
    env.put_job()
    executor = FakeExecutor(env.clock)
    executor.release()
    worker_count = len(env.workers)
    await _fire_ahead(env, executor)
    env.node.apply("delete_job", {"name": "job", "at": format_time(env.clock.now())})
    env.clock.advance(10)
    await wait_until_async(lambda: not env.workers[worker_count]._tasks,
                           message="the worker to drop r1")
    assert executor.specs == []


async def test_a_started_log_that_cannot_be_written_stops_the_peer(env: Env):
    """The id cannot be made durable (here started.log is a directory; in the field, a full
    disk): nothing may start here, and the slot is not thrown away as `failed` for a fault
    of this peer's disk: the peer stops (exit 70 in the daemon) and the run stays pending for
    the leader to move or mark lost."""
    env.put_job()
    executor = FakeExecutor(env.clock)
    stops: list[str] = []
    worker = env.worker({"local": executor}, fatal=stops.append)
    await worker.start()
    (env.data_dir / "started.log").unlink(missing_ok=True)
    (env.data_dir / "started.log").mkdir(parents=True)
    env.fire(env.record("r1"))
    await wait_until_async(lambda: stops, message="the worker to stop the peer")
    await settle(worker)
    assert "started.log" in stops[0] and "exiting with status 70" in stops[0]
    assert executor.specs == []
    assert env.run("r1")["status"] == "pending"
    assert env.proposed("run_finished") == []
