"""The SSH executor's run logic, apart from the SSH library: `SshExecutorBase`.

`raftcron.executor.ssh.SshExecutor` (the one importer of asyncssh) subclasses it and supplies
the four operations that touch the library: `_connect`, `_upload`, `_is_closed`, `_close`,
plus `errors` (what "the SSH side failed" looks like) and `_describe` (an error in words).
Everything else — the Executor protocol, the connection pool, session caps, health, the
timeout/cancel kill and the outcome — is here, and documented on `SshExecutor`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from raftcron.clock import Clock, SystemClock
from raftcron.durations import format_duration
from raftcron.errors import ValidationError
from raftcron.executor.base import RunOutcome, RunSpec
from raftcron.executor.environment import job_env
from raftcron.executor.output import OutputSink
from raftcron.executor.output import effective_limit as _limit
from raftcron.executor.ssh_command import command_words, run_line, validate_env
from raftcron.executor.ssh_pool import ConnectionPool, NodeBook, PoolKey, pool_key
from raftcron.executor.ssh_run import RemoteRun, remove
from raftcron.model import Node, RunStatus
from raftcron.model.privilege import ssh_refusal
from raftcron.model.sizes import DEFAULT_OUTPUT_LIMIT

log = logging.getLogger("raftcron.executor.ssh")

Result = tuple[RunStatus, int | None, str | None]
#: `fn(node_name, healthy, reason, checked_at)`: told of every attempt to reach a node.
HealthListener = Callable[[str, bool, str | None, datetime], None]


class Unreachable(Exception):
    """The node could not be reached; the message is the run's reason (it names the node)."""


@dataclass
class _Active:
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    key: PoolKey | None = None  # the connection whose session slot the run waits for/holds


def where(node: Node, key: PoolKey) -> str:
    """How reasons and logs name a node: `ssh node 'web1' (deploy@10.0.0.5:22)`."""
    return f"ssh node {node.name!r} ({key.describe()})"


class SshExecutorBase:
    """See `raftcron.executor.ssh.SshExecutor`."""

    errors: tuple[type[BaseException], ...] = (OSError, TimeoutError)

    def __init__(
        self,
        output_dir: Path,
        *,
        clock: Clock | None = None,
        environ: Mapping[str, str] | None = None,
        passthrough_env: Sequence[str] = (),
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
    ) -> None:
        self.output_dir = Path(output_dir)
        #: The cap on each output file of a run whose job sets no `output_limit`.
        self.output_limit = output_limit
        self.clock: Clock = clock or SystemClock()
        self._environ = os.environ if environ is None else environ
        self._passthrough = [n for n in passthrough_env if not n.startswith("RAFTCRON_")]
        self._pool: ConnectionPool[Any] = ConnectionPool(
            is_alive=lambda conn: not self._is_closed(conn), close=self._close
        )
        self._book = NodeBook()
        self._active: dict[str, _Active] = {}
        self._health_listeners: list[HealthListener] = []

    # -- supplied by the subclass ---------------------------------------------------------

    async def _connect(self, node: Node, key: PoolKey) -> Any:
        """Open and authenticate a connection; raise `Unreachable(reason)` if it can't be."""
        raise NotImplementedError

    async def _upload(self, conn: Any, content: bytes) -> tuple[str, str]:
        """Write `content` to a private temp dir on the target: `(dir, file path)`."""
        raise NotImplementedError

    def _is_closed(self, conn: Any) -> bool:
        raise NotImplementedError

    async def _close(self, conn: Any) -> None:
        raise NotImplementedError

    def _describe(self, exc: BaseException) -> str:
        return str(exc) or type(exc).__name__

    # -- the Executor protocol ------------------------------------------------------------

    async def run(
        self, spec: RunSpec, *, on_started: Callable[[datetime], None] | None = None
    ) -> RunOutcome:
        """Run `spec` on its SSH node to the end; never raises for the run's failures."""
        if spec.run_id in self._active:
            return self._outcome((RunStatus.FAILED, None, "run is already in progress"))
        active = _Active()
        self._active[spec.run_id] = active
        try:
            try:
                sink = OutputSink(self.output_dir, spec.run_id, spec.output_tail,
                                  _limit(spec.output_limit, self.output_limit))
            except OSError as exc:
                return self._outcome((RunStatus.FAILED, None, f"cannot write output: {exc}"))
            started: list[datetime] = []
            try:
                status, exit_code, reason = await self._run(spec, active, sink, started, on_started)
            finally:
                tails = sink.close()
            if sink.error is not None:
                note = f"output file incomplete: {sink.error}"
                reason = f"{reason}; {note}" if reason else note
            outcome = self._outcome((status, exit_code, reason), started, tails)
            return replace(outcome, output_truncated=True) if sink.truncated else outcome
        finally:
            del self._active[spec.run_id]

    async def cancel(self, run_id: str) -> bool:
        """Stop `run_id` (its remote process group); its `run()` returns `cancelled`.

        Returns at once, False when this executor has no such run in progress.
        """
        active = self._active.get(run_id)
        if active is None:
            return False
        active.cancel.set()
        if active.key is not None:  # it may be queued for a session slot: let it go now
            await self._pool.limiter(active.key).wake()
        return True

    # -- health and status ----------------------------------------------------------------

    def add_health_listener(self, fn: HealthListener) -> None:
        """Call `fn(node_name, healthy, reason, checked_at)` after every attempt to reach a
        node (runs and probes; unhealthy ones carry the reason), on the event loop.

        Every attempt, not only changes: what this executor saw last may differ from what the
        cluster recorded since (another peer's probe), so the listener compares for itself.
        A listener that raises is logged and does not disturb the run.
        """
        self._health_listeners.append(fn)

    def health(self, node_name: str) -> tuple[bool, str | None]:
        """`(healthy, reason)` of the last attempt to reach `node_name` (never tried: healthy)."""
        return self._book.health(node_name)

    async def probe(self, node: Node) -> tuple[bool, str | None]:
        """Reach `node` now (reusing its connection when alive), run `true`, return `health`."""
        key = await self._remember(node)
        try:
            conn = await self._connection(node, key)
            timeout = node.connect_timeout.total_seconds()
            await asyncio.wait_for(conn.run("true", check=False), timeout)
        except Unreachable:
            pass  # already recorded by _connection
        except self.errors as exc:
            await self._pool.discard(key)
            self._mark(node.name, False, f"{where(node, key)}: {self._describe(exc)}")
        return self.health(node.name)

    def status(self) -> dict[str, Any]:
        """For `/status`: `connections`, `connects`, `running`, `insecure_nodes` (names whose
        host key is not checked) and `nodes`: per name `healthy`, `reason`, `checked_at`,
        `target`, `connected`, `sessions`, `max_sessions`, `insecure_no_host_key_check`."""
        return self._book.status(self._pool, len(self._active))

    @property
    def connects(self) -> int:
        """SSH connections opened so far (a run over a reused connection adds none)."""
        return self._pool.connects

    @property
    def running(self) -> int:
        return len(self._active)

    async def close(self) -> None:
        """Close every pooled connection (the daemon's teardown)."""
        await self._pool.close_all()

    # -- one run ----------------------------------------------------------------------------

    async def _run(
        self,
        spec: RunSpec,
        active: _Active,
        sink: OutputSink,
        started: list[datetime],
        on_started: Callable[[datetime], None] | None,
    ) -> Result:
        node = spec.target
        if node is None or node.connection_type != "ssh":
            return RunStatus.FAILED, None, "not an SSH node: the SSH executor cannot run it"
        key = await self._remember(node)
        try:
            env = {n: self._environ[n] for n in self._passthrough if n in self._environ}
            env.update(job_env(spec))
            validate_env(env)
            # A script's words are final once it is uploaded (its path); check them now.
            words = command_words(
                None if spec.script is not None else spec.command,
                script_path="/" if spec.script is not None else None,
                interpreter=spec.interpreter,
            )
            refusal = ssh_refusal(spec.user, node.ssh_user, node.name)
            if refusal is not None:
                raise ValidationError(refusal, field="user")
        except ValidationError as exc:
            return RunStatus.FAILED, None, f"{exc.field}: {exc.message}"
        active.key = key
        async with self._pool.limiter(key).slot(node.max_sessions, active.cancel) as got:
            if not got or active.cancel.is_set():
                return RunStatus.CANCELLED, None, "cancelled before it started"
            try:
                remote = await self._start(spec, node, key, env, words, sink)
            except Unreachable as exc:
                return RunStatus.FAILED, None, str(exc)
            started.append(self.clock.now())
            if on_started is not None:
                try:
                    on_started(started[0])
                except Exception:  # a reporting bug must not orphan a remote process
                    log.exception("on_started callback failed for run %s", spec.run_id)
            return await self._wait(spec, node, key, remote, active)

    async def _start(
        self,
        spec: RunSpec,
        node: Node,
        key: PoolKey,
        env: Mapping[str, str],
        words: str,
        sink: OutputSink,
    ) -> RemoteRun:
        """Connect (reusing the pooled connection), upload the script if any, start the
        command. A pooled connection found dead on use is replaced once."""
        for attempt in (1, 2):
            conn = await self._connection(node, key)
            tmpdir: str | None = None
            try:
                if spec.script is not None:
                    tmpdir, path = await self._upload(conn, spec.script)
                    words = command_words(None, script_path=path, interpreter=spec.interpreter)
                line = run_line(
                    words,
                    env=env,
                    cwd=spec.cwd,
                    cleanup_dir=tmpdir,
                    grace_seconds=spec.kill_grace.total_seconds(),
                )
                return await RemoteRun.start(conn, line, sink, tmpdir, self.errors)
            except self.errors as exc:
                if tmpdir is not None:
                    await remove(conn, tmpdir, self.errors)
                reason = f"{where(node, key)}: cannot start the command: {self._describe(exc)}"
                if self._is_closed(conn):
                    await self._pool.discard(key, conn)
                    if attempt == 1:
                        continue  # the pooled connection had died: one fresh try
                    self._mark(node.name, False, reason)
                raise Unreachable(reason) from None
        raise AssertionError("not reached")

    async def _wait(
        self, spec: RunSpec, node: Node, key: PoolKey, remote: RemoteRun, active: _Active
    ) -> Result:
        timeout = spec.timeout.total_seconds() if spec.timeout is not None else None
        grace = max(0.0, spec.kill_grace.total_seconds())
        try:
            stopped_by = await remote.wait(timeout, active.cancel)
        except asyncio.CancelledError:
            # The caller gave up on the run (shutdown): do not leave the remote tree running.
            await asyncio.shield(remote.stop(grace))
            raise
        if stopped_by is not None:
            how = await remote.stop(grace) or (
                "process group sent SIGTERM, then SIGKILL after the grace period"
            )
            if stopped_by == "cancel":
                return RunStatus.CANCELLED, None, f"cancelled: {how}"
            after = format_duration(spec.timeout) if spec.timeout is not None else "?"
            return RunStatus.TIMED_OUT, None, f"timed out after {after}: {how}"
        if remote.exit_signal is not None:
            return RunStatus.FAILED, None, f"remote shell killed by signal {remote.exit_signal}"
        if remote.exit_status is None:
            await self._pool.discard(key, remote.conn)
            reason = f"{where(node, key)}: connection lost during the run"
            self._mark(node.name, False, reason)
            return RunStatus.FAILED, None, f"{reason} (the remote command's fate is unknown)"
        if remote.exit_status == 0:
            return RunStatus.SUCCEEDED, 0, None
        return RunStatus.FAILED, remote.exit_status, f"exit status {remote.exit_status}"

    # -- connections and health -------------------------------------------------------------

    async def _connection(self, node: Node, key: PoolKey) -> Any:
        """The pooled connection for `key`, opened if needed; `Unreachable` if it can't be."""
        try:
            conn, _fresh = await self._pool.get(key, lambda: self._connect(node, key))
        except Unreachable as exc:
            self._mark(node.name, False, str(exc))
            log.warning("%s", exc)
            raise
        self._mark(node.name, True, None)
        return conn

    async def _remember(self, node: Node) -> PoolKey:
        """Note `node`; when its definition moved it to another connection that no other node
        uses, close that connection. Returns the node's pool key."""
        old = self._book.remember(node)
        if old is not None and not self._book.in_use(old):
            await self._pool.discard(old)
        return pool_key(node)

    def _mark(self, node: str, healthy: bool, reason: str | None) -> None:
        at = self.clock.now()
        if self._book.mark(node, healthy, reason, at):
            log.info("ssh node %r answers again", node)
        for fn in self._health_listeners:
            try:
                fn(node, healthy, None if healthy else reason, at)
            except Exception:  # a listener's bug must not fail the run that reached the node
                log.exception("ssh health listener failed for node %r", node)

    def _outcome(
        self,
        result: Result,
        started: list[datetime] | None = None,
        tails: tuple[str, str, int] = ("", "", 0),
    ) -> RunOutcome:
        status, exit_code, reason = result
        return RunOutcome(
            status=status,
            exit_code=exit_code,
            stdout_tail=tails[0],
            stderr_tail=tails[1],
            reason=reason,
            started_at=started[0] if started else None,
            finished_at=self.clock.now(),
            output_bytes=tails[2],
        )
