"""`scripts/dev-cluster` (scripts/dev_cluster.py) with real peers (issue 13, item 8): it prints
how to use `raftcron` and how to watch a failover, keeps the other peers running when one
exits, starts the stopped one again on SIGUSR1, and names ports already taken."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import API_OFFSET, free_port_pair
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "dev_cluster.py"


class Script:
    """The script running with a config of free ports; its stdout collected line by line."""

    def __init__(self, tmp_path: Path) -> None:
        taken: set[int] = set()
        self.ports = []
        for _ in range(3):
            port = free_port_pair(taken)
            taken |= {port, port + API_OFFSET}
            self.ports.append(port)
        config = tmp_path / "cluster.toml"
        peers = ", ".join(f'"127.0.0.1:{p}"' for p in self.ports)
        config.write_text(f"peers = [{peers}]\n[raft]\nheartbeat = 0.05\n"
                          "election_timeout_min = 0.3\nelection_timeout_max = 0.9\n")
        jobs = tmp_path / "jobs.d"
        jobs.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAFTCRON_")}
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--config", str(config), "--jobs-dir", str(jobs),
             "--data", str(tmp_path / "data")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            start_new_session=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@pytest.fixture
def script(tmp_path: Path) -> Iterator[Script]:
    running = Script(tmp_path)
    yield running
    running.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by the script) counts as gone.
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_dev_cluster_tells_how_to_use_it_and_survives_a_stopped_peer(script: Script) -> None:
    wait_until(lambda: "Ctrl-C stops every peer" in script.text, 90, "the banner")
    text = script.text
    bindir = Path(sys.executable).parent
    assert f'export PATH="{bindir}:$PATH"' in text
    urls = ",".join(f"http://127.0.0.1:{p + API_OFFSET}" for p in script.ports)
    assert f"export RAFTCRON_API={urls}" in text
    assert f"{bindir / 'raftcron'} --api {urls} jobs list" in text
    assert f"kill -USR1 {script.proc.pid}" in text
    pids = {m.group(1): int(m.group(2))
            for m in re.finditer(r"peer (\S+)\s+pid (\d+)", text)}
    assert len(pids) == 3

    victim, pid = next(iter(pids.items()))
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: f"peer {victim} exited (signal 9)" in script.text, 30, "the report")
    assert "the other peers keep running" in script.text
    assert script.proc.poll() is None
    assert all(_alive(p) for name, p in pids.items() if name != victim)

    os.kill(script.proc.pid, signal.SIGUSR1)
    wait_until(lambda: f"peer {victim} started again" in script.text, 30, "the restart")


def test_dev_cluster_names_ports_already_taken(tmp_path: Path) -> None:
    taken: set[int] = set()
    ports = [free_port_pair(taken) for _ in range(3)]
    config = tmp_path / "cluster.toml"
    config.write_text("peers = [" + ", ".join(f'"127.0.0.1:{p}"' for p in ports) + "]\n")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports[1] + API_OFFSET))
        holder.listen(1)
        done = subprocess.run(
            [sys.executable, str(SCRIPT), "--config", str(config), "--data",
             str(tmp_path / "data")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "already in use" in done.stderr
    assert f"127.0.0.1:{ports[1] + API_OFFSET}  (API port of peer 127.0.0.1:{ports[1]})" in (
        done.stderr)
    assert "earlier run" in done.stderr and "ss -ltnp" in done.stderr
    assert not (tmp_path / "data").exists()
