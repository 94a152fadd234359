"""Reporting run events to the cluster: coalesced into `batch` commands, retried until settled.

At a thousand runs a second, one log entry per `run_started`/`run_finished` would be more than
pysyncobj commits (docs/design/replication.md). The `Reporter` therefore collects the events
of a few
milliseconds (`window`) and proposes them as one `batch`; while a proposal is in flight, new
events wait for the next one, so the busier the peer, the bigger the batches.

- Every event carries an idempotency key derived from its run (`started:<run_id>`,
  `finished:<run_id>`, `lost:<run_id>`), so a retry after an unknown outcome (a leader change,
  a timeout) never applies twice.
- A `run_started` still waiting when the same run's `run_finished` or `run_lost` arrives is
  dropped: `run_finished` carries `started_at` itself.
- A failed proposal (`UnavailableError` and the like) puts its events back and retries after
  an exponential backoff. Before each retry, events whose run is no longer active in the
  state (already lost, pruned, finished by an earlier attempt whose answer was lost) are
  dropped: there is nothing left for them to change.
- An event is *settled* when its result is known: applied, or refused because the run is no
  longer active (`not_found`, `not_active`), or refused as invalid (logged: retrying would
  not help). `on_settled(op, run_id)` is then called, so the worker can forget the run.

- While `busy()` says this peer has runs due to start now, the events wait (up to
  `BUSY_HOLD`): reports committed in the middle of a burst of starts are applied on every
  peer in the middle of theirs (they all take their runs of a slot at the same moment), and
  that work delayed the spawns. A `run_started` whose run has finished by then is dropped
  too, so a burst of short runs costs one entry per run, not two.

Events are proposed in the order they were reported; at most one proposal is in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from raftcron.durations import format_time
from raftcron.errors import ValidationError
from raftcron.executor.base import RunOutcome
from raftcron.model import commands

log = logging.getLogger(__name__)

Propose = Callable[..., Awaitable[dict]]

#: Longest a proposal waits for `busy()` to clear, and how often it looks, in seconds.
BUSY_HOLD = 0.1
BUSY_POLL = 0.002
#: Results that settle an event without it having been applied: the run is past changing.
_GONE = frozenset({"not_found", "not_active"})


def finished_args(run_id: str, outcome: RunOutcome) -> dict[str, Any]:
    """The `run_finished` arguments for a run that ran, from its executor's outcome."""
    return {
        "run_id": run_id,
        "status": str(outcome.status),
        "exit_code": outcome.exit_code,
        "stdout_tail": outcome.stdout_tail,
        "stderr_tail": outcome.stderr_tail,
        "reason": outcome.reason,
        "at": format_time(outcome.finished_at),
        "output_bytes": outcome.output_bytes,
        "started_at": format_time(outcome.started_at) if outcome.started_at else None,
        # Only when true: the argument is version 4, and a peer still on 3 would refuse it.
        **({"output_truncated": True} if outcome.output_truncated else {}),
    }


@dataclass(frozen=True)
class Event:
    op: str  # run_started | run_finished | run_lost
    run_id: str
    args: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.op.removeprefix('run_')}:{self.run_id}"


class Reporter:
    """Coalesces run events into few proposals and retries them until they are settled."""

    def __init__(
        self,
        *,
        propose: Propose,
        is_active: Callable[[str], Awaitable[bool]],
        on_settled: Callable[[str, str], None] | None = None,
        window: float = 0.005,
        backoff: float = 0.05,
        backoff_max: float = 2.0,
        propose_timeout: float = 5.0,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self._propose = propose
        self._busy = busy
        self._is_active = is_active
        self._on_settled = on_settled
        self.window = window
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.propose_timeout = propose_timeout
        self._pending: list[Event] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        #: Counters, for status and tests: events reported, proposals made, retries.
        self.events = 0
        self.proposals = 0
        self.retries = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def close(self, timeout: float = 0.0) -> None:
        """Stop, after waiting up to `timeout` seconds for pending events to settle."""
        if timeout > 0:
            await self.wait_idle(timeout)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_idle(self, timeout: float) -> bool:
        """True once nothing is pending or in flight (False if `timeout` seconds pass first)."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    @property
    def pending(self) -> int:
        return len(self._pending)

    def report(self, op: str, run_id: str, args: dict[str, Any]) -> None:
        """Queue one event. `args` must be valid for `op` (checked here; a bad one is a bug)."""
        try:
            commands.validate_args(op, args)
        except ValidationError:
            log.exception("dropping invalid %s report for run %s", op, run_id)
            return
        event = Event(op, run_id, args)
        if op != "run_started":
            self._pending = [
                e for e in self._pending if not (e.run_id == run_id and e.op == "run_started")
            ]
        self._pending.append(event)
        self.events += 1
        self._idle.clear()
        self._wake.set()

    async def _loop(self) -> None:
        delay = self.backoff
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._pending:
                self._idle.set()
                continue
            # Let the events of the next few milliseconds join this proposal.
            await asyncio.sleep(self.window)
            await self._wait_not_busy()
            batch, self._pending = self._pending, []
            try:
                results = await self._send(batch)
            except ValidationError:
                # Cannot become valid by retrying (each event was checked when reported).
                log.exception("dropping %d run events refused as invalid", len(batch))
                results = [{"ok": False, "error": "invalid"} for _ in batch]
            except Exception as exc:  # unknown outcome: UnavailableError, timeout, a bug
                log.warning("reporting %d run events failed (%s); retrying", len(batch), exc)
                self.retries += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
                await self._requeue(batch)
                self._wake.set()
                continue
            delay = self.backoff
            for event, result in zip(batch, results, strict=True):
                self._settle(event, result)
            if self._pending:
                self._wake.set()
            else:
                self._idle.set()

    async def _wait_not_busy(self) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + BUSY_HOLD
        while self._busy() and loop.time() < until:
            await asyncio.sleep(BUSY_POLL)

    async def _send(self, batch: list[Event]) -> list[dict]:
        self.proposals += 1
        if len(batch) == 1:
            e = batch[0]
            result = await self._propose(e.op, e.args, key=e.key, timeout=self.propose_timeout)
            return [result]
        entries = [commands.batch_entry(e.op, e.args, e.key) for e in batch]
        digest = hashlib.sha256("\n".join(e.key for e in batch).encode()).hexdigest()[:24]
        result = await self._propose(
            "batch", {"commands": entries}, key=f"reports:{digest}", timeout=self.propose_timeout
        )
        results = result.get("results") if isinstance(result, dict) else None
        if not isinstance(results, list) or len(results) != len(batch):
            # The whole batch was refused (or is malformed): every event shares that answer.
            return [result for _ in batch]
        return results

    async def _requeue(self, batch: list[Event]) -> None:
        """Put a failed batch back in front of newer events, minus what no longer matters."""
        newer = self._pending
        superseded = {e.run_id for e in newer if e.op != "run_started"}
        kept = []
        for event in batch:
            if event.op == "run_started" and event.run_id in superseded:
                continue
            if not await self._still_active(event.run_id):
                self._notify(event)
                continue
            kept.append(event)
        self._pending = kept + newer

    async def _still_active(self, run_id: str) -> bool:
        try:
            return await self._is_active(run_id)
        except Exception:  # a read failing must not lose the report: assume it still matters
            log.exception("cannot read run %s; keeping its report", run_id)
            return True

    def _settle(self, event: Event, result: Any) -> None:
        if not isinstance(result, dict):
            log.error("run %s: %s got a malformed result %r", event.run_id, event.op, result)
        elif not result.get("ok", False) and result.get("error") not in _GONE:
            log.error(
                "run %s: %s refused: %s",
                event.run_id,
                event.op,
                result.get("message") or result.get("error"),
            )
        self._notify(event)

    def _notify(self, event: Event) -> None:
        if self._on_settled is not None:
            try:
                self._on_settled(event.op, event.run_id)
            except Exception:
                log.exception("on_settled failed for run %s", event.run_id)
