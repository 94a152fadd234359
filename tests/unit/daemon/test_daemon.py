"""The daemon's command line: flags, finding itself, refusals (exit 2, one line, no
traceback). Its lifecycle over a running peer (clean shutdown on SIGTERM/SIGINT, JSON logs,
seeding from job files) is tests/cluster/test_daemon_lifecycle.py."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from raftcron.config.daemon import find_self, resolve_settings
from raftcron.errors import ConfigError
from tests.support.ports import free_port, free_port_pair

NOT_LOCAL = "192.0.2.10"  # TEST-NET-1: never an address of this machine


def raftcron(*args: str, env: dict[str, str] | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RAFTCRON_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "raftcron", *args], capture_output=True,
                          text=True, timeout=60, env=full_env, cwd=cwd)


def assert_refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_daemon_refuses_a_malformed_peer_address() -> None:
    assert_refused(raftcron("--peers", "127.0.0.1:7101,nonsense"), "--peers", "nonsense")


def test_daemon_refuses_a_bad_role_name() -> None:
    assert_refused(raftcron("--peers", f"127.0.0.1:{free_port()}", "--roles", "db,bad role"),
                   "--roles", "bad role")


def test_daemon_refuses_self_not_among_peers() -> None:
    p = free_port()
    assert_refused(raftcron("--peers", f"127.0.0.1:{p}", "--self", f"127.0.0.1:{p + 1}"),
                   "--self", "not one of --peers")


def test_daemon_refuses_a_raft_port_in_use() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = raftcron("--peers", f"127.0.0.1:{port}")
    assert_refused(result, "--self", "in use")


def test_daemon_refuses_an_api_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        api = busy.getsockname()[1]
        raft = free_port()
        result = raftcron("--peers", f"127.0.0.1:{raft}", "--api", f"127.0.0.1:{api}",
                          "--data-dir", str(tmp_path))
    assert_refused(result, "--api", "in use")


def test_daemon_needs_self_when_several_peers_are_local() -> None:
    peers = ",".join(f"127.0.0.1:{free_port()}" for _ in range(3))
    assert_refused(raftcron("--peers", peers), "more than one", "--self")


def test_daemon_refuses_when_no_peer_is_local() -> None:
    assert_refused(raftcron("--peers", f"{NOT_LOCAL}:7101,{NOT_LOCAL}:7102"),
                   "none of --peers", "--self")


def test_daemon_refuses_a_bad_config_file(tmp_path: Path) -> None:
    config = tmp_path / "cluster.toml"
    config.write_text("[raft]\nelection_timeout_min = 0.01\n")
    assert_refused(raftcron("--peers", f"127.0.0.1:{free_port()}", "--config", str(config)),
                   "election_timeout_min")


def test_daemon_refuses_a_bad_job_file(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    (jobs / "broken.toml").write_text('schedule = "61 * * * *"\ncommand = ["true"]\n')
    result = raftcron("--peers", f"127.0.0.1:{free_port_pair(set())}", "--jobs-dir", str(jobs),
                      "--data-dir", str(tmp_path / "data"))
    assert_refused(result, "broken.toml")
    assert not (tmp_path / "data").exists()


def test_daemon_finds_itself_as_the_one_local_free_peer() -> None:
    mine = f"127.0.0.1:{free_port()}"
    assert find_self([f"{NOT_LOCAL}:7101", mine, f"{NOT_LOCAL}:7103"]) == mine
    with pytest.raises(ConfigError, match="more than one"):
        find_self([mine, f"127.0.0.1:{free_port()}"])


def test_daemon_settings_defaults_and_precedence(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    port = free_port_pair(set())
    config = tmp_path / "cluster.toml"
    config.write_text('roles = ["db"]\ncapacity = 7\nsecret = "from-file-secret"\n'
                      "[raft]\nelection_timeout_max = 3.0\n")
    s = resolve_settings(peers=f"127.0.0.1:{port}", config=str(config), capacity=3,
                         environ={"RAFTCRON_TOKEN": "tok-from-env"})
    assert s.self_id == f"127.0.0.1:{port}"
    assert (s.api_host, s.api_port) == ("127.0.0.1", port + 1000)
    assert s.data_dir == (tmp_path / "raftcron-data" / f"127.0.0.1_{port}").resolve()
    assert s.roles == ["db"] and s.capacity == 3  # the flag wins over the file
    assert s.secret == "from-file-secret" and s.token == "tok-from-env"
    assert s.tuning.election_timeout_max == 3.0
    assert s.tuning.connection_timeout >= 6.0  # follows the election timeout up
    assert "from-file-secret" not in repr(s) and "tok-from-env" not in repr(s)
    env_wins = resolve_settings(peers=f"127.0.0.1:{port}", config=str(config),
                                environ={"RAFTCRON_SECRET": "from-env-secret"})
    assert env_wins.secret == "from-env-secret"


def test_daemon_refuses_non_loopback_without_secret_unless_insecure() -> None:
    peers = f"{NOT_LOCAL}:7101,{NOT_LOCAL}:7102,{NOT_LOCAL}:7103"
    with pytest.raises(ConfigError, match="RAFTCRON_SECRET") as err:
        resolve_settings(peers=peers, self_id=f"{NOT_LOCAL}:7101", environ={})
    assert err.value.field == "--self"
    settings = resolve_settings(peers=peers, self_id=f"{NOT_LOCAL}:7101", insecure=True,
                                environ={}, check_ports=False)
    assert settings.insecure and settings.secret is None
    with_secret = resolve_settings(peers=peers, self_id=f"{NOT_LOCAL}:7101", check_ports=False,
                                   environ={"RAFTCRON_SECRET": "s3cret-value"})
    assert with_secret.secret == "s3cret-value"
