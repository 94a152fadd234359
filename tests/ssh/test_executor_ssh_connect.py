"""SshExecutor reaching nodes: host keys, client keys, passphrases, unreachable nodes and
health, connection reuse and replacement, the session cap. Against a real OpenSSH sshd on
127.0.0.1 (tests/support/sshd.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from raftcron.executor.ssh import SshExecutor
from raftcron.model import RunStatus
from tests.support.sshd import Sshd, make_node, make_spec, run_spec
from tests.support.wait import wait_until_async


async def test_ssh_executor_unknown_host_key_refused(sshd: Sshd, executor: SshExecutor):
    node = make_node(sshd, name="stranger", known_hosts=str(sshd.empty_known_hosts))
    started: list[datetime] = []
    out = await run_spec(executor, make_spec(node, command=["true"]), started)
    assert out.status == RunStatus.FAILED
    assert out.started_at is None and started == []
    assert out.reason and "host key" in out.reason and "'stranger'" in out.reason
    healthy, reason = executor.health("stranger")
    assert not healthy and reason and "host key" in reason


async def test_ssh_executor_missing_known_hosts_refused(
    sshd: Sshd, executor: SshExecutor, tmp_path: Path
):
    node = make_node(sshd, known_hosts=str(tmp_path / "nope"))
    out = await run_spec(executor, make_spec(node, command=["true"]))
    assert out.status == RunStatus.FAILED
    assert out.reason and "host key" in out.reason and "known_hosts" in out.reason


async def test_ssh_executor_wrong_client_key_refused(sshd: Sshd, executor: SshExecutor):
    node = make_node(sshd, name="badkey", ssh_private_key_file=str(sshd.wrong_key))
    out = await run_spec(executor, make_spec(node, command=["true"]))
    assert out.status == RunStatus.FAILED
    assert out.reason and "authentication failed" in out.reason and "'badkey'" in out.reason
    assert executor.health("badkey")[0] is False


async def test_ssh_executor_unreachable_node_then_healthy_again(
    sshd: Sshd, executor: SshExecutor, tmp_path: Path
):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    down = make_node(sshd, name="flaky", ssh_port=dead_port)
    out = await run_spec(executor, make_spec(down, command=["true"]))
    assert out.status == RunStatus.FAILED
    assert out.reason and "'flaky'" in out.reason and "refused" in out.reason
    assert executor.health("flaky") == (False, out.reason)
    assert executor.status()["nodes"]["flaky"]["healthy"] is False
    # The node answers again (here: its definition now points at the live sshd).
    up = make_node(sshd, name="flaky")
    assert await executor.probe(up) == (True, None)
    out = await run_spec(executor, make_spec(up, command=["true"]))
    assert out.status == RunStatus.SUCCEEDED


async def test_ssh_executor_connection_reused(sshd: Sshd, executor: SshExecutor):
    node = make_node(sshd)
    before = sshd.accepted_logins()
    for _ in range(3):
        out = await run_spec(executor, make_spec(node, command=["true"]))
        assert out.status == RunStatus.SUCCEEDED, out.reason
    assert executor.connects == 1
    assert sshd.accepted_logins() - before == 1


async def test_ssh_executor_fan_out_two_nodes_share_connection(sshd: Sshd, executor: SshExecutor):
    before = sshd.accepted_logins()
    nodes = [make_node(sshd, name="alpha"), make_node(sshd, name="beta")]
    specs = [make_spec(n, command='echo "$RAFTCRON_TARGET"') for n in nodes]
    outs = await asyncio.gather(*(run_spec(executor, s) for s in specs))
    assert [o.status for o in outs] == [RunStatus.SUCCEEDED] * 2
    assert [o.stdout_tail for o in outs] == ["alpha\n", "beta\n"]
    assert executor.connects == 1
    assert sshd.accepted_logins() - before == 1
    assert set(executor.status()["nodes"]) == {"alpha", "beta"}


async def test_ssh_executor_dead_connection_replaced(sshd: Sshd, executor: SshExecutor):
    node = make_node(sshd)
    first = await run_spec(executor, make_spec(node, command=["true"]))
    assert first.status == RunStatus.SUCCEEDED
    # Kill the sshd processes serving the pooled connection: the connection dies under us.
    assert sshd.process is not None
    for pid in _children(sshd.process.pid):
        os.kill(pid, signal.SIGKILL)
    await wait_until_async(lambda: executor.status()["connections"] == 0,
                           message="the pooled connection to die")
    out = await run_spec(executor, make_spec(node, command=["echo", "again"]))
    assert out.status == RunStatus.SUCCEEDED, out.reason
    assert out.stdout_tail == "again\n"
    assert executor.connects == 2


def _children(ppid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rfind(")") + 2 :].split()[1]) == ppid:
                found.append(int(entry.name))
    return found


async def test_ssh_executor_max_sessions_caps_concurrent_runs(
    sshd: Sshd, executor: SshExecutor, tmp_path: Path
):
    node = make_node(sshd, max_sessions=1)
    release = tmp_path / "release"
    first = make_spec(node, command=f"while [ ! -e {release} ]; do sleep 0.05; done")
    second = make_spec(node, command=["true"])
    started: list[datetime] = []
    task1 = asyncio.create_task(run_spec(executor, first, started))
    await wait_until_async(lambda: started, message="the first run to start")
    task2 = asyncio.create_task(run_spec(executor, second))
    await wait_until_async(lambda: executor.status()["running"] == 2,
                           message="both runs to be accepted")
    release.touch()
    out1, out2 = await asyncio.gather(task1, task2)
    assert out1.status == out2.status == RunStatus.SUCCEEDED
    assert out2.started_at is not None and out1.finished_at is not None
    assert out2.started_at >= out1.finished_at  # the second waited for the only session


async def test_ssh_executor_insecure_warns_and_reports(
    sshd: Sshd, executor: SshExecutor, caplog: pytest.LogCaptureFixture
):
    node = make_node(
        sshd, name="lax", known_hosts=str(sshd.empty_known_hosts), insecure_no_host_key_check=True
    )
    with caplog.at_level(logging.WARNING, logger="raftcron.executor.ssh"):
        out = await run_spec(executor, make_spec(node, command=["true"]))
    assert out.status == RunStatus.SUCCEEDED, out.reason
    assert any("host key NOT verified" in r.getMessage() for r in caplog.records)
    status = executor.status()
    assert status["insecure_nodes"] == ["lax"]
    assert status["nodes"]["lax"]["insecure_no_host_key_check"] is True


async def test_ssh_executor_encrypted_key_passphrase_from_env(
    sshd: Sshd, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    key = tmp_path / "id_enc"
    secret = "s3cret pass"
    # PKCS#8 (PBES2) encryption: asyncssh decrypts it with `cryptography` alone. OpenSSH's own
    # encrypted format would need the optional `bcrypt` package (docs/design/ssh.md).
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ecdsa", "-m", "PKCS8", "-N", secret, "-f", str(key)],
        check=True,
    )
    assert "ENCRYPTED" in key.read_text()
    with (sshd.directory / "authorized_keys").open("a") as f:
        f.write((tmp_path / "id_enc.pub").read_text())
    node = make_node(sshd, name="vault-1", ssh_private_key_file=str(key))

    caplog.set_level(logging.DEBUG)
    without = SshExecutor(tmp_path / "out1", environ={})
    out = await run_spec(without, make_spec(node, command=["true"]))
    assert out.status == RunStatus.FAILED
    assert out.reason and "RAFTCRON_SSH_PASSPHRASE_VAULT_1" in out.reason

    with_env = SshExecutor(tmp_path / "out2", environ={"RAFTCRON_SSH_PASSPHRASE_VAULT_1": secret})
    try:
        out = await run_spec(with_env, make_spec(node, command=["true"]))
        assert out.status == RunStatus.SUCCEEDED, out.reason
    finally:
        await with_env.close()
    assert secret not in caplog.text


async def test_ssh_executor_silent_server_times_out_connect(sshd: Sshd, executor: SshExecutor):
    with socket.socket() as silent:  # accepts TCP (backlog) but never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        node = make_node(
            sshd,
            name="mute",
            ssh_port=silent.getsockname()[1],
            connect_timeout=timedelta(milliseconds=300),
        )
        out = await run_spec(executor, make_spec(node, command=["true"]))
    assert out.status == RunStatus.FAILED
    assert out.reason and "'mute'" in out.reason and "no answer within" in out.reason
    assert executor.health("mute")[0] is False


async def test_ssh_executor_cancel_while_queued_for_a_session(
    sshd: Sshd, executor: SshExecutor, tmp_path: Path
):
    node = make_node(sshd, max_sessions=1)
    release = tmp_path / "release"
    holder = make_spec(node, command=f"while [ ! -e {release} ]; do sleep 0.05; done")
    queued = make_spec(node, command=["true"])
    started: list[datetime] = []
    task1 = asyncio.create_task(run_spec(executor, holder, started))
    await wait_until_async(lambda: started, message="the first run to start")
    task2 = asyncio.create_task(run_spec(executor, queued))
    await wait_until_async(lambda: executor.running == 2, message="the second run to queue")
    assert await executor.cancel(queued.run_id) is True
    out2 = await task2  # returns while the only session is still held
    assert not task1.done()
    assert out2.status == RunStatus.CANCELLED and out2.started_at is None
    release.touch()
    assert (await task1).status == RunStatus.SUCCEEDED
