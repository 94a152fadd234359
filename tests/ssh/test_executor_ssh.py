"""SshExecutor running commands on a real OpenSSH sshd on 127.0.0.1 (tests/support/sshd.py).

The shared executor suite runs in test_executor_ssh_contract.py; connecting, host keys,
client keys, connection reuse and health in test_executor_ssh_connect.py. This file covers
what a run does over SSH: quoting, exit status, killing the remote tree, uploads, env, tails.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from raftcron.executor.base import RunOutcome
from raftcron.executor.process_group import pid_alive
from raftcron.executor.ssh import SshExecutor
from raftcron.model import RunStatus
from tests.support.executor_contract import read_pid
from tests.support.sshd import Sshd, make_node, make_spec, run_spec
from tests.support.wait import wait_until_async


async def test_ssh_executor_success_captures_output(sshd: Sshd, executor: SshExecutor):
    started: list[datetime] = []
    spec = make_spec(make_node(sshd), command=["sh", "-c", "echo 'hello world'; echo oops >&2"])
    out = await run_spec(executor, spec, started)
    assert out.status == RunStatus.SUCCEEDED, out.reason
    assert (out.exit_code, out.stdout_tail, out.stderr_tail) == (0, "hello world\n", "oops\n")
    assert started == [out.started_at]
    # The process-group marker line never reaches the run's output.
    stderr_file = executor.output_dir / f"{spec.run_id}.stderr"
    assert stderr_file.read_text() == "oops\n"
    assert executor.health("web1") == (True, None)


async def test_ssh_executor_argv_is_quoted_not_reinterpreted(sshd: Sshd, executor: SshExecutor):
    awkward = ["it's", "a b", "$HOME", "`id`", "*", "semi;colon", ""]
    spec = make_spec(make_node(sshd), command=["printf", "[%s]\\n", *awkward])
    out = await run_spec(executor, spec)
    assert out.status == RunStatus.SUCCEEDED, out.reason
    assert out.stdout_tail == "".join(f"[{a}]\n" for a in awkward)


async def test_ssh_executor_failing_exit_status(sshd: Sshd, executor: SshExecutor):
    out = await run_spec(executor, make_spec(make_node(sshd), command="echo partial; exit 7"))
    assert out.status == RunStatus.FAILED
    assert out.exit_code == 7
    assert out.stdout_tail == "partial\n"
    assert out.reason == "exit status 7"


async def test_ssh_executor_timeout_kills_remote_tree(
    sshd: Sshd, executor: SshExecutor, tmp_path: Path
):
    pids = tmp_path / "pids"
    # A grandchild that ignores SIGTERM: only the SIGKILL after the grace can end it, and
    # closing the SSH channel would not end it at all.
    command = (
        f"(trap '' TERM; exec sleep 300) & echo $! > {pids}.child; "
        f"sleep 300 & echo $! > {pids}.sleeper; echo $$ > {pids}.main; wait"
    )
    spec = make_spec(
        make_node(sshd),
        command=command,
        timeout=timedelta(milliseconds=500),
        kill_grace=timedelta(milliseconds=300),
    )
    out = await run_spec(executor, spec)
    assert out.status == RunStatus.TIMED_OUT
    assert out.reason and out.reason.startswith("timed out after")
    assert "may survive" not in out.reason
    for which in ("child", "sleeper", "main"):
        pid = await read_pid(Path(f"{pids}.{which}"))
        await wait_until_async(lambda pid=pid: not pid_alive(pid),
                               message=f"remote {which} process {pid} to die")


async def test_ssh_executor_cancel_kills_remote_process(
    sshd: Sshd, executor: SshExecutor, tmp_path: Path
):
    pidfile = tmp_path / "cancel.pid"
    spec = make_spec(make_node(sshd), command=f"echo $$ > {pidfile}; exec sleep 300")
    task = asyncio.create_task(run_spec(executor, spec))
    pid = await read_pid(pidfile)
    assert await executor.cancel(spec.run_id) is True
    out = await task
    assert out.status == RunStatus.CANCELLED
    await wait_until_async(lambda: not pid_alive(pid),
                           message=f"cancelled remote process {pid} to die")
    assert await executor.cancel(spec.run_id) is False


async def test_ssh_executor_script_uploaded_and_removed(sshd: Sshd, executor: SshExecutor):
    script = b'echo "args=$#"\necho "path=$0"\nls -ld "$(dirname "$0")" "$0" | cut -c1-10\n'
    spec = make_spec(make_node(sshd), script=script, interpreter=["/bin/sh"])
    out = await run_spec(executor, spec)
    assert out.status == RunStatus.SUCCEEDED, out.reason
    lines = out.stdout_tail.splitlines()
    assert lines[0] == "args=0"
    path = Path(lines[1].removeprefix("path="))
    assert lines[2:] == ["drwx------", "-rwx------"]  # private dir and file
    assert not path.exists() and not path.parent.exists()


async def test_ssh_executor_binary_timeout_removes_upload(
    sshd: Sshd, executor: SshExecutor, tmp_path: Path
):
    marker = tmp_path / "binary.path"
    binary = f'#!/bin/sh\necho "$0" > {marker}\nexec sleep 300\n'.encode()
    spec = make_spec(
        make_node(sshd),
        script=binary,
        interpreter=None,
        timeout=timedelta(milliseconds=500),
        kill_grace=timedelta(milliseconds=200),
    )
    out = await run_spec(executor, spec)
    assert out.status == RunStatus.TIMED_OUT
    uploaded = Path(marker.read_text().strip())
    assert not uploaded.exists() and not uploaded.parent.exists()


async def test_ssh_executor_env_awkward_values_arrive(sshd: Sshd, executor: SshExecutor):
    env = {
        "QUOTES": 'it\'s "quoted"',
        "SPACES": "  a  b  ",
        "DOLLAR": "$HOME ${PATH} $(id) `id`",
        "NEWLINES": "line1\nline2\n",
        "BACKSLASH": "a\\nb\\",
        "UNICODE": "héllo ☃",
        "EMPTY": "",
    }
    spec = make_spec(make_node(sshd), command=["env", "-0"], env=env, output_tail=65536)
    out = await run_spec(executor, spec)
    assert out.status == RunStatus.SUCCEEDED, out.reason
    seen = dict(item.split("=", 1) for item in out.stdout_tail.split("\0") if "=" in item)
    assert {k: seen.get(k) for k in env} == env
    assert seen["RAFTCRON_TARGET"] == "web1"
    assert seen["RAFTCRON_RUN_ID"] == spec.run_id


async def test_ssh_executor_bad_env_name_fails_clearly(sshd: Sshd, executor: SshExecutor):
    spec = make_spec(make_node(sshd), command=["true"], env={"BAD-NAME": "x"})
    out = await run_spec(executor, spec)
    assert out.status == RunStatus.FAILED
    assert out.reason and out.reason.startswith("env:") and "BAD-NAME" in out.reason


async def test_ssh_executor_output_tail_capped(sshd: Sshd, executor: SshExecutor):
    command = "head -c 50000 /dev/zero | tr '\\0' x; printf END; printf E >&2"
    spec = make_spec(make_node(sshd), command=command, output_tail=64)
    out = await run_spec(executor, spec)
    assert out.status == RunStatus.SUCCEEDED, out.reason
    assert out.stdout_tail == "x" * 61 + "END"
    assert out.stderr_tail == "E"
    assert out.output_bytes == 50004
    assert (executor.output_dir / f"{spec.run_id}.stdout").stat().st_size == 50003


async def test_ssh_executor_cwd(sshd: Sshd, executor: SshExecutor, tmp_path: Path):
    out = await run_spec(executor, make_spec(make_node(sshd), command=["pwd"], cwd=str(tmp_path)))
    assert out.stdout_tail == f"{tmp_path}\n"
    out = await run_spec(executor, make_spec(make_node(sshd), command=["pwd"], cwd="/no/such/dir"))
    assert out.status == RunStatus.FAILED and out.exit_code == 1


async def test_ssh_executor_local_target_refused(executor: SshExecutor):
    spec = make_spec(None, command=["true"])  # type: ignore[arg-type]
    out: RunOutcome = await run_spec(executor, spec)
    assert out.status == RunStatus.FAILED and out.reason and "SSH" in out.reason


async def test_ssh_executor_abandoned_run_kills_remote(
    sshd: Sshd, executor: SshExecutor, tmp_path: Path
):
    pidfile = tmp_path / "abandon.pid"
    spec = make_spec(make_node(sshd), command=f"echo $$ > {pidfile}; exec sleep 300")
    task = asyncio.create_task(executor.run(spec))
    pid = await read_pid(pidfile)
    task.cancel()  # the worker shutting down: the remote tree must not be left behind
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until_async(lambda: not pid_alive(pid),
                           message=f"abandoned remote process {pid} to die")
    assert executor.running == 0
