"""Running a run on an SSH node, agentless: `SshExecutor` (the only importer of asyncssh).

Contract (see `executor/base.py`), kept by `SshExecutor.run`:

- Public-key authentication with the node's `ssh_private_key_file`. An encrypted key's
  passphrase comes from the environment: `RAFTCRON_SSH_PASSPHRASE_<NODE>` (node name upper-
  cased, other characters as `_`), else `RAFTCRON_SSH_PASSPHRASE`. It is never logged.
  `~/.ssh/config` and the SSH agent are not consulted: the node definition says everything.
- The host key is checked against the node's `known_hosts` (default `~/.ssh/known_hosts`).
  `insecure_no_host_key_check` turns that off; it is logged as a warning at every connect
  and shown by `status()`.
- One connection per (user, host, port, key, host-key policy) is reused by every run and node
  that shares it; a dead one is replaced on the next run. Sessions open at once on one
  connection are capped by the node's `max_sessions`; connecting by its `connect_timeout`.
- The command runs through `sh` in a new process group on the target, with the job's env and
  the `RAFTCRON_*` variables exported in the command line (`ssh_command.py`). A timeout or
  `cancel()` sends SIGTERM to that group over a second session, SIGKILL after the grace:
  `timed_out` / `cancelled`. Scripts and binaries are uploaded over SFTP to a private
  `mktemp -d` directory and removed afterwards.
- Output as for local runs (`OutputSink`): whole files in `output_dir`, bounded tails.
- A node that cannot be reached (refused, timeout, authentication, host key) gives a `failed`
  outcome whose reason names the node and the cause, never an exception, and marks the node
  unhealthy (`health()`) until it answers again (a later run or `probe()`).

The run logic is in `ssh_executor.py`; this module supplies what touches asyncssh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import asyncssh

from raftcron.clock import Clock
from raftcron.durations import format_duration
from raftcron.executor.ssh_command import (
    PASSPHRASE_VAR,
    mktemp_line,
    passphrase_for,
    passphrase_var,
)
from raftcron.executor.ssh_executor import SshExecutorBase, Unreachable, log, where
from raftcron.executor.ssh_pool import PoolKey
from raftcron.executor.ssh_run import remove
from raftcron.model import Node
from raftcron.model.sizes import DEFAULT_OUTPUT_LIMIT

__all__ = ["KEEPALIVE_INTERVAL", "SSH_ERRORS", "SshExecutor"]

#: Seconds between SSH keepalives on a pooled connection: how a silently dead one is noticed.
KEEPALIVE_INTERVAL = 15.0
# asyncssh logs every connection, channel and command line at INFO. A run's line carries the
# job's environment values (exported in it, see ssh_command.py), which may be credentials:
# keep the library's own chatter to warnings and up; our logs say what matters.
logging.getLogger("asyncssh").setLevel(logging.WARNING)

#: Errors that mean "the SSH side failed", as opposed to a bug here.
SSH_ERRORS: tuple[type[BaseException], ...] = (asyncssh.Error, OSError, TimeoutError)


class SshExecutor(SshExecutorBase):
    """Runs `RunSpec`s whose target is an SSH node (see the module docstring).

    Output files go to `output_dir`. `environ` (default `os.environ`) is where passphrases
    are looked up. `passthrough_env` names variables of `environ` copied into every remote
    run (before the job's env, which wins); `RAFTCRON_*` variables are never passed.
    Besides `run`/`cancel`: `health(node_name)`, `probe(node)`, `status()`, `connects`,
    `add_health_listener(fn)` (told of every attempt to reach a node), `close()`.
    """

    errors = SSH_ERRORS

    def __init__(
        self,
        output_dir: Path,
        *,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
        passthrough_env: Sequence[str] = (),
        keepalive_interval: float = KEEPALIVE_INTERVAL,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
    ) -> None:
        super().__init__(output_dir, clock=clock, environ=environ, passthrough_env=passthrough_env,
                         output_limit=output_limit)
        self._keepalive = keepalive_interval

    async def _connect(self, node: Node, key: PoolKey) -> asyncssh.SSHClientConnection:
        name = where(node, key)
        if key.key_file is None:
            raise Unreachable(f"{name}: no ssh_private_key_file configured")
        client_key = await self._load_key(node, key, name)
        known_hosts: str | None = None
        if key.insecure:
            log.warning("%s: host key NOT verified (insecure_no_host_key_check is set)", name)
        else:
            known_hosts = key.known_hosts or os.path.expanduser("~/.ssh/known_hosts")
            if not os.access(known_hosts, os.R_OK):
                raise Unreachable(
                    f"{name}: host key cannot be verified: known_hosts file {known_hosts} "
                    "is missing or unreadable"
                )
        connect = asyncssh.connect(
            key.host,
            key.port,
            username=key.user,
            client_keys=[client_key],
            known_hosts=known_hosts,
            agent_path=None,
            config=None,  # not ~/.ssh/config: the node definition says everything
            preferred_auth="publickey",
            keepalive_interval=self._keepalive,
        )
        try:
            return await asyncio.wait_for(connect, node.connect_timeout.total_seconds())
        except asyncssh.HostKeyNotVerifiable as exc:
            raise Unreachable(
                f"{name}: host key not verified against {known_hosts}: {exc.reason}"
            ) from None
        except asyncssh.PermissionDenied:
            raise Unreachable(
                f"{name}: authentication failed: public key {key.key_file} "
                f"not accepted for user {key.user!r}"
            ) from None
        except TimeoutError:
            raise Unreachable(
                f"{name}: no answer within {format_duration(node.connect_timeout)}"
            ) from None
        except (*SSH_ERRORS, ValueError) as exc:
            raise Unreachable(f"{name}: {self._describe(exc)}") from None

    async def _load_key(self, node: Node, key: PoolKey, name: str) -> asyncssh.SSHKey:
        passphrase = passphrase_for(node.name, self._environ)
        try:
            # Decrypting a key runs a deliberately slow KDF: keep it off the event loop.
            return await asyncio.to_thread(asyncssh.read_private_key, key.key_file, passphrase)
        except OSError as exc:
            raise Unreachable(
                f"{name}: cannot read private key {key.key_file}: {exc.strerror or exc}"
            ) from None
        except (asyncssh.KeyImportError, ValueError) as exc:
            hint = (
                ""
                if passphrase
                else (f" (if it is encrypted, set {passphrase_var(node.name)} or {PASSPHRASE_VAR})")
            )
            raise Unreachable(
                f"{name}: cannot load private key {key.key_file}: {exc}{hint}"
            ) from None

    async def _upload(self, conn: asyncssh.SSHClientConnection, content: bytes) -> tuple[str, str]:
        """A private (0700) `mktemp -d` directory on the target, `content` in `<dir>/script`
        (0700), written over SFTP. The directory is removed again if the upload fails."""
        made = await conn.run(mktemp_line(), check=False)
        tmpdir = str(made.stdout or "").strip()
        if made.exit_status != 0 or not tmpdir.startswith("/"):
            raise OSError(f"mktemp -d failed on the target: {str(made.stderr or '').strip()}")
        path = f"{tmpdir}/script"
        try:
            async with conn.start_sftp_client() as sftp:
                attrs = asyncssh.SFTPAttrs(permissions=0o700)
                async with sftp.open(path, "wb", attrs) as remote_file:
                    await remote_file.write(content)
                await sftp.chmod(path, 0o700)
        except BaseException:
            await remove(conn, tmpdir, SSH_ERRORS)
            raise
        return tmpdir, path

    def _is_closed(self, conn: asyncssh.SSHClientConnection) -> bool:
        return conn.is_closed()

    async def _close(self, conn: asyncssh.SSHClientConnection) -> None:
        conn.close()
        with contextlib.suppress(*SSH_ERRORS):
            await asyncio.wait_for(conn.wait_closed(), 5.0)

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, asyncssh.DisconnectError | asyncssh.ChannelOpenError):
            return exc.reason or type(exc).__name__
        if isinstance(exc, ConnectionRefusedError):
            return "connection refused"
        if isinstance(exc, TimeoutError):
            return "timed out"
        if isinstance(exc, OSError) and exc.strerror:
            return exc.strerror
        return str(exc) or type(exc).__name__
