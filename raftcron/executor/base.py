"""What every executor takes and returns, and the contract they all keep.

An executor runs one `RunSpec` to completion and returns a `RunOutcome`. It never raises for
anything the command does (a failing exit, a timeout, an unreachable host): those are
outcomes. It calls `on_started` once, when the process has been started, before it waits.

The full stdout/stderr go to `<output_dir>/<run_id>.stdout|.stderr`; the outcome carries
only the last `output_tail` bytes of each (decoded as UTF-8 with replacement). Each file
stops at `output_limit` bytes (None: the executor's own `output_limit`, the daemon's config),
and the outcome's `output_truncated` says one did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from raftcron.model import Node, RunStatus
from raftcron.model.types import DEFAULT_OUTPUT_TAIL

#: The reason's first word for a run this peer could not start in time (worker and executors).
OVERLOADED = "overloaded"
#: The reason of a run given up because its `start_before` passed while it waited its turn.
LATE_START = f"{OVERLOADED}: not started in time on this peer (more runs due than it can start)"
DEFAULT_KILL_GRACE = timedelta(seconds=5)


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    run_id: str
    job: str
    attempt: int
    slot: datetime
    peer: str
    #: Where it runs: None means this peer itself (a local run).
    target: Node | None = None
    #: argv list (no shell) or a string for `/bin/sh -c`; None when `script` is set.
    command: list[str] | str | None = None
    #: Decoded script or binary content, run through `interpreter` (None: executed directly).
    script: bytes | None = None
    interpreter: list[str] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    user: str | None = None
    timeout: timedelta | None = None
    kill_grace: timedelta = DEFAULT_KILL_GRACE
    output_tail: int = DEFAULT_OUTPUT_TAIL
    #: The job's `output_limit` in bytes (None: the executor's, from the daemon's config).
    output_limit: int | None = None
    #: The parent run that started this one (`after`, `on_failure`): RAFTCRON_TRIGGERED_BY.
    triggered_by: str | None = None
    #: Success rules (`worker.success`).
    success_exit_codes: tuple[int, ...] = (0,)
    fail_if_output_matches: str | None = None
    #: Give the run up instead of starting it once `time.monotonic()` has passed this (None:
    #: start it whenever its turn comes). Set by the worker so a run queued behind an
    #: overload is not started long after its slot; the outcome is then `failed` with
    #: `LATE_START`. Monotonic: it only ever means something inside this process.
    start_before: float | None = None

    @property
    def target_name(self) -> str:
        return self.target.name if self.target is not None else self.peer


@dataclass(frozen=True, kw_only=True)
class RunOutcome:
    status: RunStatus  # succeeded | failed | timed_out | cancelled
    exit_code: int | None
    stdout_tail: str
    stderr_tail: str
    reason: str | None
    started_at: datetime | None
    finished_at: datetime
    output_bytes: int = 0
    #: An output file stopped at the run's output limit.
    output_truncated: bool = False


class Executor(Protocol):
    async def run(
        self, spec: RunSpec, *, on_started: Callable[[datetime], None] | None = None
    ) -> RunOutcome:
        """Run `spec` to the end. Never raises for the command's own failures."""

    async def cancel(self, run_id: str) -> bool:
        """Stop a run started by this executor (its whole process tree). False if unknown."""
