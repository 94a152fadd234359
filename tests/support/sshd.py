"""A real OpenSSH `sshd` on a loopback ephemeral port, for tests and benchmarks.

`Sshd.start(directory)` generates a host key, a client key pair (authorized) and a second
client key (not authorized), writes `known_hosts` for the server, an sshd config, starts
`sshd -D -e -f <config>` and polls until the port answers with an SSH banner. The user is the
one running the tests (root here: `PermitRootLogin prohibit-password`). `stop()` terminates
it. `accepted_logins()` counts successful authentications in sshd's log, which is how tests
prove that a connection was reused.

`make_node(server, name)` builds an SSH `Node` for it; `make_spec(node)` a `RunSpec`;
`run_spec(executor, spec)` runs one under a hang guard.

A missing `sshd` is an error, never a skip: CI installs openssh-server.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import re
import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from raftcron.executor.base import Executor, RunOutcome, RunSpec
from raftcron.model import ConnectionType, Node
from tests.support.ports import free_port
from tests.support.wait import GaveUp, wait_until

#: The slot of every run the SSH tests make.
SLOT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd", "/usr/bin/sshd")
#: The hang guard of each run in `run_spec` (never a speed claim).
RUN_WAIT = 30.0
#: sshd's privilege separation directory on Debian/Ubuntu; it must exist to start sshd.
PRIVSEP_DIR = Path("/run/sshd")


def find_sshd() -> str:
    """The sshd binary; raises if OpenSSH's server is not installed."""
    for candidate in (shutil.which("sshd"), *SSHD_CANDIDATES):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("sshd not found: install openssh-server (the SSH tests need it)")


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )


def _openssh_version(sshd: str) -> tuple[int, int]:
    out = subprocess.run([sshd, "-V"], capture_output=True, text=True, check=False)
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", out.stdout + out.stderr)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


@dataclass
class Sshd:
    """One running sshd. Paths are inside `directory`; `port` is on 127.0.0.1."""

    directory: Path
    port: int = 0
    user: str = field(default_factory=getpass.getuser)
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None

    @property
    def host_key(self) -> Path:
        return self.directory / "ssh_host_ed25519_key"

    @property
    def client_key(self) -> Path:
        """The private key whose public half is in authorized_keys."""
        return self.directory / "id_client"

    @property
    def wrong_key(self) -> Path:
        """A private key sshd does not accept."""
        return self.directory / "id_wrong"

    @property
    def known_hosts(self) -> Path:
        """A known_hosts file that lists this server's host key for [127.0.0.1]:port."""
        return self.directory / "known_hosts"

    @property
    def empty_known_hosts(self) -> Path:
        """A known_hosts file that does not know this server."""
        return self.directory / "known_hosts_empty"

    @property
    def log_path(self) -> Path:
        return self.directory / "sshd.log"

    @property
    def config_path(self) -> Path:
        return self.directory / "sshd_config"

    @classmethod
    def start(cls, directory: Path, *, timeout: float = 20.0, attempts: int = 5) -> Sshd:
        """Generate keys and config in `directory` and start sshd; returns once it answers."""
        directory.mkdir(parents=True, exist_ok=True)
        server = cls(directory=directory)
        server._generate_keys()
        sshd = find_sshd()
        if os.geteuid() == 0:  # only a root sshd insists on its privilege separation dir
            PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        last_error = ""
        # The port is chosen by binding to 0 and released before sshd binds it: another
        # process may take it in between, so a bind failure is retried on a new port.
        for _ in range(attempts):
            server.port = free_port()
            server._write_config(sshd)
            server._write_known_hosts()
            with server.log_path.open("ab") as log:
                server.process = subprocess.Popen(
                    [sshd, "-D", "-e", "-f", str(server.config_path)],
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            if server._wait_ready(timeout):
                return server
            server.stop()
            last_error = server.log()
        raise RuntimeError(f"sshd did not start; its log:\n{last_error}")

    def _generate_keys(self) -> None:
        _keygen(self.host_key, "raftcron-test-host")
        _keygen(self.client_key, "raftcron-test-client")
        _keygen(self.wrong_key, "raftcron-test-wrong")
        (self.directory / "authorized_keys").write_text(
            (self.directory / "id_client.pub").read_text()
        )
        self.empty_known_hosts.write_text("")

    def _write_known_hosts(self) -> None:
        public = (self.directory / "ssh_host_ed25519_key.pub").read_text().split()
        self.known_hosts.write_text(f"[{self.host}]:{self.port} {public[0]} {public[1]}\n")

    def _write_config(self, sshd: str) -> None:
        lines = [
            f"ListenAddress {self.host}:{self.port}",
            f"HostKey {self.host_key}",
            f"PidFile {self.directory / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.directory / 'authorized_keys'}",
            "StrictModes no",
            "UsePAM no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "UseDNS no",
            "LogLevel INFO",
            "Subsystem sftp internal-sftp",
            # The benchmark opens many connections in a row; don't let sshd throttle them.
            "MaxStartups 100:30:200",
        ]
        if _openssh_version(sshd) >= (9, 8):
            # Newer sshd penalises a source address after failed logins (the wrong-key test).
            lines.append("PerSourcePenalties no")
        self.config_path.write_text("\n".join(lines) + "\n")

    def _wait_ready(self, timeout: float) -> bool:
        """Poll until the port answers with an SSH banner; False if sshd exits or time runs out."""
        def banner() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise GaveUp(f"sshd exited with {self.process.returncode}")
            with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                return sock.recv(64).startswith(b"SSH-")
        try:
            wait_until(banner, timeout, f"sshd's banner on port {self.port}")
        except AssertionError:  # GaveUp too: the caller retries on a new port
            return False
        return True

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def accepted_logins(self) -> int:
        """How many connections have authenticated so far (from sshd's log)."""
        return self.log().count("Accepted publickey")

    def stop(self) -> None:
        """Terminate sshd (its per-connection children exit with their connections)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> Sshd:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_node(sshd: Sshd, name: str = "web1", **overrides: Any) -> Node:
    """An SSH node for `sshd`: its client key, its known_hosts; `overrides` win."""
    values: dict[str, Any] = {
        "name": name,
        "connection_type": ConnectionType.SSH,
        "ssh_user": sshd.user,
        "ssh_host": sshd.host,
        "ssh_port": sshd.port,
        "ssh_private_key_file": str(sshd.client_key),
        "known_hosts": str(sshd.known_hosts),
        "connect_timeout": timedelta(seconds=10),
    }
    values.update(overrides)
    return Node(**values)


def make_spec(node: Node, **overrides: Any) -> RunSpec:
    """A run on `node` with a 60 s timeout and a 1 s kill grace; `overrides` win."""
    values: dict[str, Any] = {
        "run_id": f"r-{uuid.uuid4().hex[:12]}",
        "job": "ssh-job",
        "attempt": 1,
        "slot": SLOT,
        "peer": "127.0.0.1:7101",
        "target": node,
        # A job runs as the node's ssh_user; a root login must be asked for by name
        # (raftcron.model.privilege.ssh_refusal), and these tests may run as root.
        "user": getattr(node, "ssh_user", None),
        "timeout": timedelta(seconds=60),
        "kill_grace": timedelta(seconds=1),
    }
    values.update(overrides)
    return RunSpec(**values)


async def run_spec(executor: Executor, spec: RunSpec,
                   started: list[datetime] | None = None) -> RunOutcome:
    """Run `spec` (start times appended to `started`); fails after `RUN_WAIT` seconds."""
    callback = started.append if started is not None else None
    return await asyncio.wait_for(executor.run(spec, on_started=callback), RUN_WAIT)
