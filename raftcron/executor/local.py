"""Running a run as a local subprocess of this peer.

Contract (see `executor/base.py`), kept by `LocalExecutor.run`:

- An argv list is executed without a shell; a string runs through `/bin/sh -c`; a script or
  binary (`spec.script`) is written to a private temporary directory (mode 0700, removed
  afterwards) and run through `spec.interpreter` (an argv list, or a string split with
  `shlex`), or executed directly when there is none.
- The process starts in a new session, so it leads its own process group. A timeout sends
  SIGTERM to the whole group and SIGKILL after `spec.kill_grace` -> `timed_out`; `cancel()`
  does the same -> `cancelled`. When the main process exits on its own, whatever it left
  running in its group is stopped the same way (the outcome still follows the exit status):
  a run owns its process tree, nothing outlives it or keeps its output open. A job that
  must leave a daemon behind detaches it with `setsid`.
- Environment: the daemon's, minus every `RAFTCRON_*` variable (secrets), plus the job's
  `env`, plus the `RAFTCRON_*` variables of the run (`environment.py`).
- `spec.user`: privileges are dropped before exec (uid, primary gid and the user's groups;
  HOME, USER and LOGNAME are set for that user). Needs a daemon running as root, unless the
  user is the daemon's own.
- Anything that keeps the process from starting (a missing executable, a bad `cwd`, an
  unknown user) is a `failed` outcome with a reason, never an exception.
- stdout and stderr are read concurrently, as they come, into an `OutputSink`, so no amount
  of output can deadlock the pipe; only bounded tails are kept in memory.

- A cancelled `run()` (its task cancelled) SIGKILLs the group, waits a bounded time for it
  to be gone, and re-raises; whenever the cancellation lands, nothing is left running.
- Every wait after a process was stopped is bounded; only the run itself (no timeout, no
  cancel) may last for ever.

asyncio's subprocess support is not used (see `process_group.py`): in Python 3.11 its
`Process.wait()` does not return until the pipes are closed too, so a descendant holding
stdout open would hide the main process's exit; and a cancellation while
`loop.subprocess_exec` connects the pipes leaves it waiting, unbounded, for that descendant.
`start_leader` starts the process with no await before its exit and pipes are watched.

Starts run off the event loop: the output files, the argv, the environment and the
fork/exec of a run are done in the executor's `Spawner` thread (`spawner.py`), one run after
another; the loop then watches the process (`watch_leader`) with no await in between. A
`fork`/`exec` blocks its thread until the child has exec'd, which on a loaded machine can
take a hundred milliseconds; on the loop that was the API's wait. A run whose
`spec.start_before` (a `time.monotonic()` value) has passed when its turn comes is not
started (`failed`, reason `LATE_START`). A `run()` cancelled while its start is queued or
under way returns at once; whatever the spawner then starts for it is SIGKILLed and reaped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from raftcron.clock import Clock, SystemClock
from raftcron.durations import format_duration
from raftcron.executor.base import LATE_START, RunOutcome, RunSpec
from raftcron.executor.environment import inherited_env, local_env
from raftcron.executor.local_start import (
    StartError,
    check_cwd,
    prepare_argv,
    resolve_user,
    signal_name,
    spawn_failure,
)
from raftcron.executor.output import OutputSink
from raftcron.executor.output import effective_limit as _limit
from raftcron.executor.process_group import (
    ChildProcess,
    GroupLeader,
    group_alive,
    kill_group,
    signal_group,
    spawn_leader,
    terminate_group,
    watch_leader,
)
from raftcron.executor.spawner import Spawner
from raftcron.model import RunStatus
from raftcron.model.sizes import DEFAULT_OUTPUT_LIMIT

log = logging.getLogger(__name__)

#: How long to wait for the pipes to close once the process group is gone (a descendant that
#: detached with setsid may hold them open; it no longer belongs to the run).
DRAIN_TIMEOUT = 5.0
#: How long to wait for the main process to be reaped once its group is gone (a safety net:
#: a process that is gone is reaped at once, unless something else reaped it first).
EXIT_TIMEOUT = 5.0


@dataclass
class _Start:
    """What the spawner thread did for one run: its sink, and its process or why none."""

    sink: OutputSink | None = None
    proc: ChildProcess | None = None
    scratch: Path | None = None
    started_at: datetime | None = None
    status: RunStatus = RunStatus.FAILED
    reason: str | None = None


def _abandon(start: _Start) -> None:
    """Loop: the run's task was cancelled while the spawner started it: stop what it began."""
    if start.proc is not None:
        signal_group(start.proc.pid, signal.SIGKILL)
        # Watched only to be reaped (its pidfd); the pipes are closed at once.
        watch_leader(start.proc, on_stdout=_ignore, on_stderr=_ignore).close()
    if start.sink is not None:
        start.sink.close()
    if start.scratch is not None:
        shutil.rmtree(start.scratch, ignore_errors=True)


def _ignore(_data: bytes) -> None:
    pass


@dataclass
class _Active:
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    pgid: int | None = None


class LocalExecutor:
    """Runs `RunSpec`s as subprocesses of this peer. Output files go to `output_dir`.

    `scratch_dir` is where script/binary temp dirs are made (default: the system temp dir;
    it must not be mounted noexec, and must be traversable by the users jobs run as).
    `base_env` replaces `os.environ` as the inherited environment (tests).
    """

    def __init__(
        self,
        output_dir: Path,
        *,
        clock: Clock | None = None,
        scratch_dir: Path | None = None,
        base_env: Mapping[str, str] | None = None,
        job_umask: int | None = None,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
    ) -> None:
        self.output_dir = Path(output_dir)
        #: The cap on each output file of a run whose job sets no `output_limit`.
        self.output_limit = output_limit
        #: The umask a job's process starts with (None: this process's own). The daemon
        #: runs with 077 for its data dir; jobs get the umask the daemon started with.
        self.job_umask = job_umask
        self.clock: Clock = clock or SystemClock()
        self.scratch_dir = scratch_dir
        self.base_env = base_env
        #: The inherited layer of every run's environment, filtered once: the daemon's
        #: environment does not change while it runs, and rebuilding it was per-run work.
        self._inherited = inherited_env(base_env)
        self._active: dict[str, _Active] = {}
        #: Starts (output files, argv, env, fork/exec) run in this thread, off the loop.
        self._spawner = Spawner()

    @property
    def running(self) -> int:
        """Runs in progress (started or being prepared)."""
        return len(self._active)

    async def cancel(self, run_id: str) -> bool:
        """Stop `run_id` (its whole process group); its `run()` returns `cancelled`.

        Returns at once, False when this executor has no such run in progress.
        """
        active = self._active.get(run_id)
        if active is None:
            return False
        active.cancel.set()
        return True

    async def run(
        self, spec: RunSpec, *, on_started: Callable[[datetime], None] | None = None
    ) -> RunOutcome:
        """Run `spec` to its end and return the outcome; never raises for the run's failures."""
        if spec.run_id in self._active:
            return self._outcome(spec, RunStatus.FAILED, None, "run is already in progress")
        active = _Active()
        self._active[spec.run_id] = active
        try:
            return await self._run(spec, active, on_started)
        finally:
            del self._active[spec.run_id]

    async def _run(
        self,
        spec: RunSpec,
        active: _Active,
        on_started: Callable[[datetime], None] | None,
    ) -> RunOutcome:
        # Everything up to the spawn runs in the spawner thread, off the event loop.
        start = await self._spawner.call(lambda: self._start(spec, active), discard=_abandon)
        sink = start.sink
        if sink is None:
            return self._outcome(spec, RunStatus.FAILED, None, start.reason)
        status, exit_code, reason = start.status, None, start.reason
        started_at: datetime | None = None
        try:
            if start.proc is not None:
                status, exit_code, reason, started_at = await self._watch_and_wait(
                    spec, active, sink, start, on_started
                )
        finally:
            stdout_tail, stderr_tail, total = sink.close()
            if start.scratch is not None:
                shutil.rmtree(start.scratch, ignore_errors=True)
        if sink.error is not None:
            note = f"output file incomplete: {sink.error}"
            reason = f"{reason}; {note}" if reason else note
        outcome = self._outcome(
            spec, status, exit_code, reason, started_at, stdout_tail, stderr_tail, total
        )
        return dataclasses.replace(outcome, output_truncated=True) if sink.truncated else outcome

    def _start(self, spec: RunSpec, active: _Active) -> _Start:
        """Spawner thread: output files, argv, environment, then the process. Never raises
        for the run's own problems: they are the `_Start`'s status and reason."""
        start = _Start()
        try:
            start.sink = OutputSink(self.output_dir, spec.run_id, spec.output_tail,
                                    _limit(spec.output_limit, self.output_limit))
        except OSError as exc:
            start.reason = f"cannot write output: {exc}"
            return start
        try:
            ids, identity = resolve_user(spec.user)
            argv, start.scratch = prepare_argv(spec, self.scratch_dir, ids)
            check_cwd(spec.cwd)
        except StartError as exc:
            start.reason = exc.reason
            return start
        if active.cancel.is_set():  # a bool read; the loop sets it
            start.status, start.reason = RunStatus.CANCELLED, "cancelled before it started"
            return start
        if spec.start_before is not None and time.monotonic() > spec.start_before:
            start.reason = LATE_START
            return start
        env = local_env(spec, identity=identity, inherited=self._inherited)
        try:
            start.proc = spawn_leader(
                argv,
                cwd=spec.cwd or None,
                env=env,
                umask=-1 if self.job_umask is None else self.job_umask,
                **ids,
            )
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            start.reason = spawn_failure(argv, spec.cwd, exc)
            return start
        start.started_at = self.clock.now()
        return start

    async def _watch_and_wait(
        self,
        spec: RunSpec,
        active: _Active,
        sink: OutputSink,
        start: _Start,
        on_started: Callable[[datetime], None] | None,
    ) -> tuple[RunStatus, int | None, str | None, datetime | None]:
        assert start.proc is not None
        # No await between the spawner's hand-over and the watch: a cancellation cannot
        # land in between.
        child = watch_leader(start.proc, on_stdout=sink.write_stdout,
                             on_stderr=sink.write_stderr)
        started_at = start.started_at or self.clock.now()
        active.pgid = child.pid
        if on_started is not None:
            try:
                on_started(started_at)
            except Exception:  # a reporting bug must not orphan a running process
                log.exception("on_started callback failed for run %s", spec.run_id)
        try:
            stopped_by, killed = await self._wait_and_stop(spec, active, child)
        except BaseException:
            # The caller gave up on the run (its task was cancelled), or the waiting broke:
            # leave no process behind. Bounded, and a second cancellation cuts it short.
            await kill_group(child.pid)
            raise
        finally:
            child.close()
        status, exit_code, reason = _classify(stopped_by, killed, child.returncode, spec)
        return status, exit_code, reason, started_at

    async def _wait_and_stop(
        self, spec: RunSpec, active: _Active, child: GroupLeader
    ) -> tuple[str | None, bool]:
        """Wait for the run's end; stop its group. -> (stopped_by, whether SIGKILL was needed).

        `stopped_by` is "cancel", "timeout", or None when the main process exited on its own.
        Only the first wait (the run itself) is unbounded, and only when the run has no
        timeout; asyncio.wait is used throughout because, unlike 3.11's `wait_for`, it never
        swallows a cancellation that arrives as the awaited future completes.
        """
        pgid = child.pid
        timeout = spec.timeout.total_seconds() if spec.timeout is not None else None
        grace = max(0.0, spec.kill_grace.total_seconds())
        cancel_wait = asyncio.ensure_future(active.cancel.wait())
        try:
            await asyncio.wait(
                {child.exited, cancel_wait}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            cancel_wait.cancel()
        stopped_by: str | None = None
        if not child.exited.done():
            stopped_by = "cancel" if active.cancel.is_set() else "timeout"
        killed = False
        if stopped_by is not None or group_alive(pgid):
            killed = await terminate_group(pgid, grace)
        # Once the group is gone the main process is too; both bounds are safety nets.
        await asyncio.wait({child.exited}, timeout=EXIT_TIMEOUT)
        await asyncio.wait({child.drained}, timeout=DRAIN_TIMEOUT)
        return stopped_by, killed

    def _outcome(
        self,
        spec: RunSpec,
        status: RunStatus,
        exit_code: int | None,
        reason: str | None,
        started_at: datetime | None = None,
        stdout_tail: str = "",
        stderr_tail: str = "",
        output_bytes: int = 0,
    ) -> RunOutcome:
        return RunOutcome(
            status=status,
            exit_code=exit_code,
            stdout_tail=stdout_tail,
            stderr_tail=stderr_tail,
            reason=reason,
            started_at=started_at,
            finished_at=self.clock.now(),
            output_bytes=output_bytes,
        )


def _classify(
    stopped_by: str | None, killed: bool, returncode: int | None, spec: RunSpec
) -> tuple[RunStatus, int | None, str | None]:
    """(status, exit_code, reason) of a finished process. A signal death has no exit code."""
    exit_code = returncode if returncode is not None and returncode >= 0 else None
    how = "SIGTERM, then SIGKILL after the grace period" if killed else "SIGTERM"
    if stopped_by == "cancel":
        return RunStatus.CANCELLED, exit_code, f"cancelled: process group sent {how}"
    if stopped_by == "timeout":
        after = format_duration(spec.timeout) if spec.timeout is not None else "?"
        return RunStatus.TIMED_OUT, exit_code, f"timed out after {after}: process group sent {how}"
    if returncode == 0:
        return RunStatus.SUCCEEDED, 0, None
    if returncode is None:
        return RunStatus.FAILED, None, "exit status unknown"
    if returncode < 0:
        return RunStatus.FAILED, None, f"killed by signal {signal_name(-returncode)}"
    return RunStatus.FAILED, returncode, f"exit status {returncode}"
