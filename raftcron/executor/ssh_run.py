"""One remote process of an SSH run: start it, drain its output, wait, stop its group.

The connection and process objects are asyncssh's, used through their methods only
(`create_process`, `run`, `stdout.read`, `wait_closed`, `exit_status`, `close`): `ssh.py` is
the one module that imports asyncssh, and hands in the tuple of errors that mean "the SSH
side failed".
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from raftcron.executor.output import OutputSink, pump
from raftcron.executor.ssh_command import PgidFilter, kill_line, rm_line

#: After the kill, how long (beyond the grace) to wait for the channel to close before
#: closing it from this side: a descendant that detached (setsid) may hold the pipes open.
CLOSE_WAIT = 5.0
#: How long to wait for the process group marker when the run is stopped very early.
MARKER_WAIT = 5.0
#: Bound on the kill session itself, beyond the grace it polls for.
KILL_WAIT = 30.0


class RemoteRun:
    """A started remote command. Output is drained into the sink from construction on."""

    def __init__(
        self,
        conn: Any,
        proc: Any,
        sink: OutputSink,
        tmpdir: str | None,
        errors: tuple[type[BaseException], ...],
    ) -> None:
        self.conn = conn
        self.proc = proc
        self.tmpdir = tmpdir
        self._errors = errors
        self.filter = PgidFilter(sink.write_stderr)
        self._pgid_seen = asyncio.Event()
        self.filter.on_pgid(lambda _pgid: self._pgid_seen.set())
        #: The error that ended the drain early (the connection died), if any.
        self.error: BaseException | None = None
        self._drain = asyncio.ensure_future(self._drain_all(sink))
        self._stop_result: tuple[str | None] | None = None  # set once stop() has run

    @classmethod
    async def start(
        cls,
        conn: Any,
        line: str,
        sink: OutputSink,
        tmpdir: str | None,
        errors: tuple[type[BaseException], ...],
    ) -> RemoteRun:
        """Open a session running `line`; raises one of `errors` if the session can't open."""
        proc = await conn.create_process(line, encoding=None)
        proc.stdin.write_eof()  # the command gets no input
        return cls(conn, proc, sink, tmpdir, errors)

    async def _drain_all(self, sink: OutputSink) -> None:
        try:
            await asyncio.gather(
                pump(self.proc.stdout, sink.write_stdout), pump(self.proc.stderr, self.filter.write)
            )
            await self.proc.wait_closed()
        except self._errors as exc:
            self.error = exc
        finally:
            self.filter.close()

    @property
    def exit_status(self) -> int | None:
        """The remote command's exit status; None if the connection died first (or the shell
        was killed by a signal: `exit_signal`)."""
        if self.error is not None:
            return None
        status = self.proc.exit_status
        return None if status is None or status < 0 else int(status)

    @property
    def exit_signal(self) -> str | None:
        """The signal that killed the remote shell, as sshd reported it, if one did."""
        signal = None if self.error is not None else self.proc.exit_signal
        return str(signal[0]) if signal else None

    @property
    def pgid(self) -> int | None:
        return self.filter.pgid

    async def wait(self, timeout: float | None, cancel: asyncio.Event) -> str | None:
        """Until the command ends (None), `timeout` seconds pass ("timeout") or `cancel` is
        set ("cancel"). Ending first wins a tie."""
        cancel_wait = asyncio.ensure_future(cancel.wait())
        try:
            await asyncio.wait(
                {self._drain, cancel_wait}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            cancel_wait.cancel()
        if self._drain.done():
            return None
        return "cancel" if cancel.is_set() else "timeout"

    async def stop(self, grace: float) -> str | None:
        """SIGTERM the remote process group, SIGKILL after `grace` (one session doing both on
        the target), then wait for the channel to close. Idempotent. Returns None, or what
        went wrong (for the run's reason)."""
        if self._stop_result is not None:
            return self._stop_result[0]
        problem = await self._kill(grace)
        # The wrapper shell exits (after removing the script dir) once the group is gone,
        # which closes the channel.
        try:
            await asyncio.wait_for(asyncio.shield(self._drain), grace + CLOSE_WAIT)
        except TimeoutError:
            self.proc.close()
            self._drain.cancel()
            if self.tmpdir is not None:
                await remove(self.conn, self.tmpdir, self._errors)
        self._stop_result = (problem,)
        return problem

    async def _kill(self, grace: float) -> str | None:
        if self.pgid is None and not self._drain.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._pgid_seen.wait(), MARKER_WAIT)
        pgid = self.pgid
        if pgid is None or pgid <= 1:
            return "remote process group unknown: channel closed, remote processes may survive"
        try:
            await asyncio.wait_for(
                self.conn.run(kill_line(pgid, grace), check=False), grace + KILL_WAIT
            )
        except self._errors as exc:
            return (
                f"could not signal remote process group {pgid} "
                f"({type(exc).__name__}: {exc}); remote processes may survive"
            )
        return None


async def remove(conn: Any, path: str, errors: tuple[type[BaseException], ...]) -> None:
    """Best effort `rm -rf path` on the target: it may be gone already, or the connection."""
    with contextlib.suppress(*errors):
        await asyncio.wait_for(conn.run(rm_line(path), check=False), KILL_WAIT)
