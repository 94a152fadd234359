"""A local run's process group: starting its leader, watching it, stopping the group.

A local run is started in a new session (`start_new_session=True`), so its process id is
also the id of a process group that every descendant joins unless it detaches on purpose
(`setsid`). Stopping the run means: SIGTERM to the group, a grace period for the group to
empty, then SIGKILL to whatever is left.

"Empty" counts zombies as gone. Orphaned descendants are re-parented to PID 1, and not every
PID 1 (a container's init, for one) reaps them, so `killpg(pgid, 0)` alone would keep saying
"alive" for a process that is long dead. On Linux the group's members are read from /proc.

`start_leader` starts the process without any await between the fork and the moment its
pipes and its exit are watched, so a cancellation can never land half-way (see
`GroupLeader`). asyncio's own subprocess transport is not used: in Python 3.11, a
cancellation while it connects the pipes makes it kill the main process only and then wait,
unbounded, for both pipes to close, which a surviving descendant can put off for ever.
"""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from raftcron.executor import fast_spawn
from raftcron.watchdog import thread_died

_PROC = Path("/proc")
_POLL = 0.02
_READ_SIZE = 64 * 1024
#: How long `kill_group` and `terminate_group` wait for the group to be gone after SIGKILL.
KILL_WAIT = 5.0


def _stat_fields(pid: int | str) -> list[str] | None:
    """`/proc/<pid>/stat` after the command name: [state, ppid, pgrp, ...]; None if gone."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain ") ".
    return text[text.rfind(")") + 2 :].split()


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    if _PROC.is_dir():
        fields = _stat_fields(pid)
        return fields is not None and fields[0] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_alive(pgid: int) -> bool:
    """True while process group `pgid` has a member that is not a zombie."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # a member we may not signal still exists
    if not _PROC.is_dir():
        return True
    wanted = str(pgid)
    with os.scandir(_PROC) as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            fields = _stat_fields(entry.name)
            if fields is not None and fields[2] == wanted and fields[0] not in ("Z", "X"):
                return True
    return False


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send `sig` to the group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        # Members we may not signal (they changed user): nothing more this peer can do.
        return False
    return True


async def wait_group_gone(pgid: int, timeout: float) -> bool:
    """Poll until the group is empty or `timeout` seconds pass; True if it emptied."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, timeout)
    while group_alive(pgid):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_POLL)
    return True


async def terminate_group(pgid: int, grace: float, *, kill_wait: float = KILL_WAIT) -> bool:
    """SIGTERM the group, wait up to `grace` seconds, then SIGKILL what is left.

    Returns True when SIGKILL was needed. Waits (at most `kill_wait`) for the group to be
    empty after SIGKILL, so a caller that returns after this has no live process left behind.
    """
    if not group_alive(pgid):
        return False
    signal_group(pgid, signal.SIGTERM)
    # A stopped process cannot act on SIGTERM until it is continued.
    signal_group(pgid, signal.SIGCONT)
    if await wait_group_gone(pgid, grace):
        return False
    signal_group(pgid, signal.SIGKILL)
    await wait_group_gone(pgid, kill_wait)
    return True


async def kill_group(pgid: int, *, kill_wait: float = KILL_WAIT) -> bool:
    """SIGKILL the group at once and wait (at most `kill_wait`); True if it is gone."""
    signal_group(pgid, signal.SIGKILL)
    return await wait_group_gone(pgid, kill_wait)


class Pipe(Protocol):
    """The parent's end of a child's output pipe."""

    def fileno(self) -> int: ...

    def close(self) -> None: ...


class ChildProcess(Protocol):
    """What is watched of a started child: a `subprocess.Popen` or a
    `fast_spawn.SpawnedProcess` (stdout and stderr are pipes)."""

    pid: int
    returncode: int | None

    @property
    def stdout(self) -> Pipe | None: ...

    @property
    def stderr(self) -> Pipe | None: ...


class GroupLeader:
    """A process started as the leader of a new session, hence of its own process group.

    - Its stdout and stderr are read by the event loop as the data comes (non-blocking reads,
      so no amount of output on either stream can block the other) into the two callbacks.
    - Its exit is watched on the event loop through a pidfd (Linux), or else by a daemon
      thread blocked in `waitpid`; either way it is reaped even when nobody awaits it any
      more (the thread even after the event loop is gone).
    - `exited` resolves once it has been reaped; `returncode` is then its status as
      `Popen` reports it (negative: the signal that killed it), or None when something else
      reaped it first (the status is lost).
    - `drained` resolves once both pipes are at end of file (no process holds them open; a
      descendant may keep them open after the leader exits) or `close()` was called.
    - `close()` stops reading and closes the pipes. It never waits and may be called twice;
      it does not stop the process (see `terminate_group` / `kill_group`).

    Nothing here ever waits: every wait is the caller's, so the caller bounds it.
    """

    def __init__(
        self,
        proc: ChildProcess,
        loop: asyncio.AbstractEventLoop,
        pipes: Sequence[tuple[Pipe, Callable[[bytes], None]]],
    ) -> None:
        self.pid = proc.pid
        self.returncode: int | None = None
        self.exited: asyncio.Future[None] = loop.create_future()
        self.drained: asyncio.Future[None] = loop.create_future()
        self._loop = loop
        #: fd -> (the pipe's file, where its data goes), while it is being read.
        self._open: dict[int, tuple[Pipe, Callable[[bytes], None]]] = {}
        for pipe, write in pipes:
            fd = pipe.fileno()
            os.set_blocking(fd, False)
            self._open[fd] = (pipe, write)
            loop.add_reader(fd, self._readable, fd)
        try:
            # Linux: the exit is a readable pidfd on the loop. No thread and no cross-thread
            # wake-up per run (at hundreds of runs a second both showed in profiles). The
            # loop's handle holds `proc`, so Popen's own reaping of dropped children
            # (`subprocess._cleanup`) never takes the status first.
            pidfd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):  # no pidfd here, or the child is already reaped
            self._watch_with_thread(proc)
        else:
            try:
                loop.add_reader(pidfd, self._pidfd_readable, proc, pidfd)
            except BaseException:
                os.close(pidfd)
                raise

    def _watch_with_thread(self, proc: ChildProcess) -> None:
        # A bare thread (daemon-like: never joined): `threading.Thread.start` blocks until the
        # new thread has run, a context switch per spawn on the event loop.
        _thread.start_new_thread(self._reap, (proc,))

    def _pidfd_readable(self, proc: ChildProcess, pidfd: int) -> None:
        """Loop: the process exited (its pidfd is readable); reap it and resolve `exited`."""
        try:
            pid, status = os.waitpid(proc.pid, os.WNOHANG)
            if pid == 0:
                return  # not yet (a spurious wake-up): the pidfd stays watched
            code: int | None = os.waitstatus_to_exitcode(status)
        except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored, a waitpid(-1) reaper)
            code = None
        except OSError:
            # Never seen; a level-triggered reader that raises would be called for ever. The
            # status is unknown: the executor stops whatever is left of the group.
            code = None
        self._loop.remove_reader(pidfd)
        os.close(pidfd)
        proc.returncode = code if code is not None else 255
        self._on_exit(code)

    def _reap(self, proc: ChildProcess) -> None:
        """Reaper thread: wait for the process, then hand its status to the event loop.

        Anything unexpected here would leave the run waiting for an exit it never hears of:
        the watchdog's `thread_died` ends the peer instead (a restart recovers the run)."""
        try:
            _, status = os.waitpid(proc.pid, 0)
            code: int | None = os.waitstatus_to_exitcode(status)
        except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored, a waitpid(-1) reaper)
            code = None
        except BaseException as exc:
            thread_died(f"reaper of pid {proc.pid}", repr(exc))
            return
        # Popen must not think the child still runs: it would try to reap it again later.
        proc.returncode = code if code is not None else 255
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self._loop.call_soon_threadsafe(self._on_exit, code)

    def _on_exit(self, code: int | None) -> None:
        self.returncode = code
        if not self.exited.done():
            self.exited.set_result(None)

    def _readable(self, fd: int) -> None:
        try:
            data = os.read(fd, _READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""  # a broken pipe reads as its end
        if data:
            self._open[fd][1](data)
        else:
            self._stop_reading(fd)

    def _stop_reading(self, fd: int) -> None:
        entry = self._open.pop(fd, None)
        if entry is None:
            return
        self._loop.remove_reader(fd)
        entry[0].close()
        if not self._open and not self.drained.done():
            self.drained.set_result(None)

    def close(self) -> None:
        """Stop reading and close the pipes (whatever is still unread is dropped)."""
        for fd in list(self._open):
            self._stop_reading(fd)
        if not self.drained.done():
            self.drained.set_result(None)


def start_leader(
    argv: Sequence[str],
    *,
    on_stdout: Callable[[bytes], None],
    on_stderr: Callable[[bytes], None],
    **popen_kwargs: Any,
) -> GroupLeader:
    """Start `argv` in a new session, stdin from /dev/null, its output fed to the callbacks.

    `popen_kwargs` are `subprocess.Popen`'s (cwd, env, umask, user, group, extra_groups),
    see `spawn_leader`. Raises what `Popen` raises when the process cannot start (OSError,
    ValueError, SubprocessError); then no process is left. Must be called from the event
    loop's thread.
    """
    return watch_leader(spawn_leader(argv, **popen_kwargs), on_stdout=on_stdout,
                        on_stderr=on_stderr)


def spawn_leader(argv: Sequence[str], **popen_kwargs: Any) -> ChildProcess:
    """The start half of `start_leader` (callable from any thread).

    Through `fast_spawn` (the GIL released while the child starts) when it can do what is
    asked: no user to switch to, and a umask only from a thread with `private_fs()`;
    otherwise through `subprocess.Popen`. Hand the result to `watch_leader` on the loop
    with no await in between: until then nothing reads its pipes (a process that fills
    one waits) and nothing reaps it.
    """
    if fast_spawn.available() and fast_spawn.can_spawn(**popen_kwargs):
        return fast_spawn.spawn(argv, **popen_kwargs)
    return subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
        start_new_session=True,
        **popen_kwargs,
    )


def _reap_quietly(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.waitpid(pid, 0)


def watch_leader(
    proc: ChildProcess,
    *,
    on_stdout: Callable[[bytes], None],
    on_stderr: Callable[[bytes], None],
) -> GroupLeader:
    """Watch a process from `spawn_leader` on the running loop (its pipes and its exit).

    If it cannot be watched it is killed (it must not run unwatched) and the error raised.
    """
    loop = asyncio.get_running_loop()
    assert proc.stdout is not None and proc.stderr is not None
    pipes = [(proc.stdout, on_stdout), (proc.stderr, on_stderr)]
    try:
        return GroupLeader(proc, loop, pipes)
    except BaseException:
        # Could not watch it (no thread to spare, say): it must not run unwatched. Popen
        # reaps it later, as it does any child it was dropped with; a fast-spawned child
        # is reaped by a thread when one can be had.
        signal_group(proc.pid, signal.SIGKILL)
        if not isinstance(proc, subprocess.Popen):
            with contextlib.suppress(RuntimeError):
                _thread.start_new_thread(_reap_quietly, (proc.pid,))
        for pipe, _ in pipes:
            with contextlib.suppress(OSError, ValueError):
                loop.remove_reader(pipe.fileno())
            pipe.close()
        raise
