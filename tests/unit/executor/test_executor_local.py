"""LocalExecutor: the shared executor contract, plus what only a local subprocess does."""

from __future__ import annotations

import asyncio
import os
import pwd
import signal
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from raftcron.executor import local
from raftcron.executor.base import LATE_START
from raftcron.executor.local import LocalExecutor
from raftcron.executor.process_group import pid_alive
from raftcron.model import RunStatus
from tests.support.executor_contract import WAIT, ContractHarness, ExecutorContract, read_pid
from tests.support.wait import wait_until_async


class TestLocalExecutorContract(ExecutorContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> ContractHarness:
        out = tmp_path / "output"
        return ContractHarness(
            executor=LocalExecutor(out, scratch_dir=tmp_path / "scratch"), output_dir=out
        )


@pytest.fixture
def harness(tmp_path: Path) -> ContractHarness:
    out = tmp_path / "output"
    base_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/home/daemon-home",
        "INHERITED_VAR": "from-daemon",
        "RAFTCRON_SECRET": "cluster-secret",
        "RAFTCRON_TOKEN": "api-token",
        "RAFTCRON_ADMIN_TOKEN": "admin-token",
        "RAFTCRON_DATA_DIR": "/var/lib/raftcron",
    }
    return ContractHarness(executor=LocalExecutor(out, base_env=base_env), output_dir=out)


async def test_local_large_output_on_both_streams_does_not_deadlock(harness: ContractHarness):
    ten_mib = 10 * 1024 * 1024
    # Both streams at once, far beyond any pipe buffer: reading one only would block the other.
    command = f"head -c {ten_mib} /dev/zero >&2 & head -c {ten_mib} /dev/zero; wait"
    spec = harness.spec(command=command, output_tail=4096)
    out = await harness.run(spec)
    assert out.status == RunStatus.SUCCEEDED, out.reason
    assert out.output_bytes == 2 * ten_mib
    assert out.stdout_tail == "\0" * 4096
    assert out.stderr_tail == "\0" * 4096
    assert (harness.output_dir / f"{spec.run_id}.stdout").stat().st_size == ten_mib
    assert (harness.output_dir / f"{spec.run_id}.stderr").stat().st_size == ten_mib


async def test_local_secrets_and_daemon_settings_not_inherited(harness: ContractHarness):
    out = await harness.run(harness.spec(command=["env"]))
    assert out.status == RunStatus.SUCCEEDED, out.reason
    env = dict(line.split("=", 1) for line in out.stdout_tail.splitlines() if "=" in line)
    assert env["INHERITED_VAR"] == "from-daemon"
    for name in ("RAFTCRON_SECRET", "RAFTCRON_TOKEN", "RAFTCRON_ADMIN_TOKEN", "RAFTCRON_DATA_DIR"):
        assert name not in env
    assert "cluster-secret" not in out.stdout_tail
    assert env["RAFTCRON_JOB"] == "contract-job"


async def test_local_job_env_overrides_inherited_but_not_raftcron_vars(harness: ContractHarness):
    spec = harness.spec(
        command=["env"], env={"INHERITED_VAR": "from-job", "RAFTCRON_JOB": "forged"}
    )
    out = await harness.run(spec)
    env = dict(line.split("=", 1) for line in out.stdout_tail.splitlines() if "=" in line)
    assert env["INHERITED_VAR"] == "from-job"
    assert env["RAFTCRON_JOB"] == "contract-job"


async def test_local_argv_runs_without_shell(harness: ContractHarness):
    out = await harness.run(harness.spec(command=["echo", "$HOME", "a;b", "*"]))
    assert out.status == RunStatus.SUCCEEDED, out.reason
    assert out.stdout_tail == "$HOME a;b *\n"


async def test_local_string_runs_through_sh(harness: ContractHarness):
    out = await harness.run(harness.spec(command='echo "$HOME" | tr a-z A-Z; false || echo ok'))
    assert out.status == RunStatus.SUCCEEDED, out.reason
    assert out.stdout_tail == "/HOME/DAEMON-HOME\nok\n"


async def test_local_cwd_is_used(harness: ContractHarness, tmp_path: Path):
    out = await harness.run(harness.spec(command=["pwd"], cwd=str(tmp_path)))
    assert out.stdout_tail == f"{tmp_path}\n"


async def test_local_bad_cwd_is_failed_with_reason(harness: ContractHarness, tmp_path: Path):
    missing = str(tmp_path / "nope")
    out = await harness.run(harness.spec(command=["true"], cwd=missing))
    assert out.status == RunStatus.FAILED
    assert out.started_at is None
    assert out.reason and "working directory" in out.reason and missing in out.reason
    assert harness.started == []


async def test_local_missing_executable_reason_names_it(harness: ContractHarness):
    out = await harness.run(harness.spec(command=["/nonexistent/raftcron-x", "arg"]))
    assert out.status == RunStatus.FAILED
    assert out.exit_code is None
    assert out.reason and "/nonexistent/raftcron-x" in out.reason
    assert "no such file" in out.reason


async def test_local_non_executable_script_is_failed(harness: ContractHarness, tmp_path: Path):
    plain = tmp_path / "plain.sh"
    plain.write_text("echo hi\n")
    plain.chmod(0o644)
    out = await harness.run(harness.spec(command=[str(plain)]))
    assert out.status == RunStatus.FAILED
    assert out.reason and "permission denied" in out.reason


async def test_local_empty_command_is_failed(harness: ContractHarness):
    for command in ([], "  ", None):
        out = await harness.run(harness.spec(command=command))
        assert out.status == RunStatus.FAILED
        assert out.reason


async def test_local_killed_by_signal_is_failed(harness: ContractHarness):
    out = await harness.run(harness.spec(command="kill -SEGV $$"))
    assert out.status == RunStatus.FAILED
    assert out.exit_code is None
    assert out.reason == "killed by signal SIGSEGV"


async def test_local_script_interpreter_as_string(harness: ContractHarness):
    spec = harness.spec(script=b"print('py', 6 * 7)\n", interpreter="python3 -I")
    out = await harness.run(spec)
    assert out.status == RunStatus.SUCCEEDED, out.reason
    assert out.stdout_tail == "py 42\n"


async def test_local_leftover_background_process_is_stopped(
    harness: ContractHarness, tmp_path: Path
):
    pidfile = tmp_path / "bg.pid"
    # The main shell exits at once; its background child keeps stdout open.
    spec = harness.spec(command=f"sleep 300 & echo $! > {pidfile}; echo done")
    out = await harness.run(spec)
    assert out.status == RunStatus.SUCCEEDED, out.reason
    assert out.stdout_tail == "done\n"
    child = await read_pid(pidfile)
    await wait_until_async(lambda: not pid_alive(child),
                           message=f"left-over child {child} to be stopped")


async def test_local_timeout_without_grace_need_is_plain_sigterm(harness: ContractHarness):
    spec = harness.spec(command=["sleep", "300"], timeout=timedelta(milliseconds=200))
    out = await harness.run(spec)
    assert out.status == RunStatus.TIMED_OUT
    assert out.reason == "timed out after 200ms: process group sent SIGTERM"


async def test_local_on_started_error_does_not_break_run(harness: ContractHarness):
    def broken(_started):
        raise RuntimeError("reporting bug")

    out = await harness.executor.run(harness.spec(command=["true"]), on_started=broken)
    assert out.status == RunStatus.SUCCEEDED


async def test_local_cancel_as_run_begins_is_cancelled(harness: ContractHarness):
    executor = harness.executor
    assert isinstance(executor, LocalExecutor)
    spec = harness.spec(command=["sleep", "300"])
    task = asyncio.create_task(executor.run(spec))
    # The run registers itself before its first await, so it can be cancelled at once.
    await asyncio.sleep(0)
    assert await executor.cancel(spec.run_id) is True
    out = await task
    assert out.status == RunStatus.CANCELLED
    assert executor.running == 0


async def test_local_unknown_user_is_failed(harness: ContractHarness):
    out = await harness.run(harness.spec(command=["true"], user="no-such-user-raftcron"))
    assert out.status == RunStatus.FAILED
    assert out.reason and "no-such-user-raftcron" in out.reason


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs a root daemon")
async def test_local_user_drops_privileges(harness: ContractHarness, tmp_path: Path):
    nobody = pwd.getpwnam("nobody")
    # Scripts go to the system temp dir: pytest's tmp_path is private to root.
    executor = LocalExecutor(harness.output_dir, base_env={"PATH": "/bin:/usr/bin"})
    script = b'id -u; id -g; echo "$HOME $USER"\n'
    spec = harness.spec(script=script, interpreter=["/bin/sh"], user="nobody")
    out = await executor.run(spec)
    assert out.status == RunStatus.SUCCEEDED, out.reason
    assert out.stdout_tail.splitlines() == [
        str(nobody.pw_uid),
        str(nobody.pw_gid),
        f"{nobody.pw_dir} nobody",
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="a root daemon may switch users")
async def test_local_user_switch_without_root_is_failed(harness: ContractHarness):
    out = await harness.run(harness.spec(command=["true"], user="root"))
    assert out.status == RunStatus.FAILED
    assert out.reason and "not running as root" in out.reason


async def test_local_cancelled_task_leaves_no_process(harness: ContractHarness, tmp_path: Path):
    pidfile = tmp_path / "child.pid"
    spec = harness.spec(command=f"sleep 300 & echo $! > {pidfile}; wait")
    task = asyncio.create_task(harness.executor.run(spec))
    child = await read_pid(pidfile)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until_async(lambda: not pid_alive(child),
                           message=f"child {child} of a cancelled task to die")


def _alive_with_argv(argv: list[str]) -> list[int]:
    """Pids (not zombies) whose command line is exactly `argv`."""
    wanted = "\0".join(argv).encode() + b"\0"
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if cmdline == wanted and pid_alive(int(entry)):
            found.append(int(entry))
    return found


async def _cancelled(task: asyncio.Task) -> None:
    """`task` must end by raising CancelledError, within the hang guard."""
    done, _ = await asyncio.wait({task}, timeout=WAIT)
    assert done, "a cancelled run() did not return"
    with pytest.raises(asyncio.CancelledError):
        task.result()


async def test_local_cancelled_at_any_point_returns_and_leaves_nothing(harness: ContractHarness):
    executor = harness.executor
    assert isinstance(executor, LocalExecutor)
    # Cancel after 0, 1, 2, ... loop iterations: before, during and after the start. A
    # descendant holds the pipes open, so a wait on them after the kill would never end.
    for turns in range(12):
        marker = ["sleep", f"300.{uuid.uuid4().int % 10**9}"]
        spec = harness.spec(command=f"{' '.join(marker)} & wait")
        task = asyncio.create_task(executor.run(spec))
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()
        await _cancelled(task)
        await wait_until_async(lambda m=marker: not _alive_with_argv(m),
                               message=f"{marker} to die (turns={turns})")
        assert executor.running == 0


async def test_local_task_cancelled_during_group_kill_stops_tree(
    harness: ContractHarness, tmp_path: Path
):
    pidfile = tmp_path / "child.pid"
    # The child ignores SIGTERM: the executor sits in the (long) grace period when the task
    # is cancelled, and must not wait it out.
    command = f"(trap '' TERM; exec sleep 300) & echo $! > {pidfile}; wait"
    spec = harness.spec(command=command, kill_grace=timedelta(seconds=300))
    task = asyncio.create_task(harness.executor.run(spec))
    child = await read_pid(pidfile)
    assert await harness.executor.cancel(spec.run_id) is True
    # Wait until the group got its SIGTERM (the shell, which does not ignore it, is gone).
    await wait_until_async(lambda: not _alive_with_argv(["/bin/sh", "-c", command]),
                           message="the shell to exit")
    assert pid_alive(child)
    task.cancel()
    await _cancelled(task)
    await wait_until_async(lambda: not pid_alive(child),
                           message=f"SIGTERM-ignoring child {child} to die")


async def test_local_detached_descendant_holding_output_does_not_hang_run(
    harness: ContractHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(local, "DRAIN_TIMEOUT", 0.2)
    pidfile = tmp_path / "detached.pid"
    # setsid leaves the run's group on purpose: it survives the run, holding stdout open.
    command = f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 300' & echo main-done"
    try:
        out = await harness.run(harness.spec(command=command))
        assert out.status == RunStatus.SUCCEEDED, out.reason
        assert out.stdout_tail == "main-done\n"
    finally:
        detached = await read_pid(pidfile)
        os.kill(detached, signal.SIGKILL)


async def test_local_main_process_is_reaped(harness: ContractHarness, tmp_path: Path):
    pidfile = tmp_path / "main.pid"
    out = await harness.run(harness.spec(command=f"echo $$ > {pidfile}; exit 7"))
    assert out.exit_code == 7
    main = await read_pid(pidfile)
    # Reaped, not merely dead: no zombie of ours is left behind.
    await wait_until_async(lambda: not Path(f"/proc/{main}").exists(),
                           message=f"main process {main} reaped")


async def test_local_run_past_its_start_before_is_not_started(harness: ContractHarness,
                                                               tmp_path: Path):
    marker = tmp_path / "ran"
    spec = harness.spec(command=f"touch {marker}", start_before=time.monotonic() - 1)
    out = await harness.run(spec)
    assert (out.status, out.reason, out.started_at) == (RunStatus.FAILED, LATE_START, None)
    assert not marker.exists()


async def test_local_run_cancelled_while_its_start_is_queued_leaves_nothing_running(
        harness: ContractHarness, tmp_path: Path):
    pidfile = tmp_path / "pid"
    spec = harness.spec(command=f"echo $$ > {pidfile}; exec sleep 60")
    task = asyncio.ensure_future(harness.executor.run(spec))
    await asyncio.sleep(0)  # queued in (or handed to) the spawner thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Whatever the spawner started for it is killed and reaped.
    if pidfile.exists() and pidfile.read_text().strip():
        pid = int(pidfile.read_text())
        await wait_until_async(lambda: not pid_alive(pid), WAIT, "the abandoned run to be gone")
