"""Admitting a run: the worker's last checks before it spawns a process.

The rule (docs/guarantees.md, "A run recorded lost never starts"): the worker never starts a
run that its copy of the state no longer holds as `pending` and assigned to this peer, and it
never starts a *late* run blind.

1. The copy. `Preparer` (prepare.py) re-reads, in the thread hop that reads the jobs, which of
   this peer's runs are still pending: one read per batch. A run lost, cancelled or finished
   meanwhile is dropped there.
2. Late runs. A run whose `fired_at` is more than `late_after` seconds old when it is about to
   start may have been given up on by the leader while this peer was cut off or paused (its
   `run_lost` can still be on its way here). Such a run waits until this peer has applied
   everything the leader last told it was committed (`Node.caught_up`), is checked against the
   copy again, and then starts only once a committed `run_started` was *accepted* by the
   state: the state refuses (`not_active`) a run already `lost`, so the late process never
   runs. Confirmations asked in one loop iteration (the runs of one fire) share one proposal.
3. On-time runs start without a round trip. The leader records a run lost only after its
   peer was silent for the lease, and places runs only on peers heard from within both the
   lease and the raft connection timeout; so a run fired less than
   `lease - connection_timeout` ago cannot have been lost yet. `late_after_for` takes a third
   of the lease (capped by that difference) to leave room for clock skew and slow ticks.

4. Held runs. A run fired ahead of its slot (`runs.held`) is confirmed the same way whether
   late or not, `lead()` seconds before its time (a few round trips of this peer's recent
   confirmations, `LEAD_MIN` to `LEAD_MAX`), its `run_started` stamped with its time: while
   it is pending it has certainly not run, so the leader may move it off a peer gone silent
   (`planning.moves`), and the confirmation of the peer it left is then refused.

A confirmed run's `run_started` is already committed: the worker does not report it again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from raftcron.clock import Clock
from raftcron.durations import format_time, parse_time
from raftcron.errors import ValidationError
from raftcron.model import commands

if TYPE_CHECKING:
    from raftcron.model.ports import WorkerNode

log = logging.getLogger(__name__)

Propose = Callable[..., Awaitable[dict]]

#: Seconds between looks at `node.caught_up` while late runs wait for it.
CATCH_UP_POLL = 0.05
#: Bounds, in seconds, of how long before its time a held run is confirmed (`lead`): at
#: least a round trip on a quiet loopback, at most well inside the 300 ms a run is fired
#: ahead. A held run whose peer dies between its confirmation and its time is `lost` (it
#: may have started): the shorter the lead, the rarer.
LEAD_MIN = 0.02
LEAD_MAX = 0.2
#: `lead()` is this many times the recent confirmation round trip.
LEAD_TRIPS = 3


def late_after_for(lease: float, connection_timeout: float) -> float:
    """Seconds after its `fired_at` from which a run is started only once confirmed."""
    return max(0.0, min(lease / 3, lease - connection_timeout))


def started_key(run_id: str) -> str:
    """The idempotency key of a run's `run_started` (the `Reporter` uses the same one)."""
    return f"started:{run_id}"


class Admission:
    """Late-run checks for one worker: catch up, then confirm through the log. One loop."""

    def __init__(self, *, node: WorkerNode, clock: Clock, self_id: str, late_after: float,
                 backoff: float = 0.05, backoff_max: float = 2.0,
                 propose_timeout: float = 5.0) -> None:
        self.node = node
        self.clock = clock
        self.self_id = self_id
        self.late_after = late_after
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.propose_timeout = propose_timeout
        self._queue: list[tuple[str, str | None, asyncio.Future[bool | None]]] = []
        #: Recent confirmation round trip, seconds (moving average).
        self.round_trip = LEAD_MIN / LEAD_TRIPS
        self._caught_up: asyncio.Future[None] | None = None
        self._closed = False
        #: Counters, for status and tests: confirmations asked, proposals made for them.
        self.asked = 0
        self.proposals = 0

    def is_late(self, run: Mapping[str, Any]) -> bool:
        """True when `run` was fired more than `late_after` seconds ago (by this clock)."""
        fired = run.get("fired_at")
        if not isinstance(fired, str | datetime):
            return True  # no time to judge by: take the safe path
        try:
            at = fired if isinstance(fired, datetime) else parse_time(fired, field="fired_at")
        except ValidationError:
            return True
        return (self.clock.now() - at).total_seconds() > self.late_after

    def close(self) -> None:
        """The worker stops: runs waiting for catch-up return now (and are not started)."""
        self._closed = True

    async def wait_caught_up(self) -> None:
        """Return once this peer has applied all the leader last said was committed, or
        once `close()` was called.

        Every run waiting shares one poller, so they wake in one loop iteration and their
        copy checks join one batch."""
        if self.node.caught_up or self._closed:
            return
        if self._caught_up is None or self._caught_up.done():
            self._caught_up = asyncio.get_running_loop().create_task(self._poll_caught_up())
        await asyncio.shield(self._caught_up)

    async def _poll_caught_up(self) -> None:
        while not self.node.caught_up and not self._closed:
            await asyncio.sleep(CATCH_UP_POLL)

    def lead(self) -> float:
        """Seconds before its time a held run asks for its confirmation."""
        return min(LEAD_MAX, max(LEAD_MIN, LEAD_TRIPS * self.round_trip))

    async def confirm(self, run_id: str, *, gone: Callable[[], bool],
                      at: str | None = None) -> bool:
        """Propose `run_started` for `run_id`; True once the state accepted it (the run was
        pending and assigned here when the entry applied), False when it refused it or when
        `gone()` says the worker dropped the run while the outcome was unknown. `at` (a held
        run's time): its start time when still ahead when proposed, else now."""
        loop = asyncio.get_running_loop()
        self.asked += 1
        attempt_delay = self.backoff
        while True:
            fut: asyncio.Future[bool | None] = loop.create_future()
            self._queue.append((run_id, at, fut))
            if len(self._queue) == 1:
                # After every task step already queued in this iteration (the other runs of
                # the same fire), so they share the proposal.
                loop.call_soon(self._flush)
            verdict = await fut
            if verdict is not None:
                return verdict
            # Unknown outcome (no leader, timeout): same key again, so it applies at most once.
            if gone():
                return False
            await asyncio.sleep(attempt_delay)
            attempt_delay = min(attempt_delay * 2, self.backoff_max)
            if gone():
                return False

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        if batch:
            asyncio.get_running_loop().create_task(self._send(batch))

    async def _send(self, batch: list[tuple[str, str | None, asyncio.Future[bool | None]]],
                    ) -> None:
        now = self.clock.now()
        entries = [(rid, {"run_id": rid, "peer": self.self_id, "at": _start_at(due, now)})
                   for rid, due, _ in batch]
        self.proposals += 1
        sent = time.monotonic()
        try:
            if len(entries) == 1:
                rid, args = entries[0]
                results: list[Any] = [await self.node.propose(
                    "run_started", args, key=started_key(rid), timeout=self.propose_timeout)]
            else:
                keys = [started_key(rid) for rid, _ in entries]
                digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:24]
                result = await self.node.propose(
                    "batch", {"commands": [commands.batch_entry("run_started", a, k)
                                           for (_, a), k in zip(entries, keys, strict=True)]},
                    key=f"confirm:{digest}", timeout=self.propose_timeout)
                results = result.get("results") if isinstance(result, dict) else None
                if not isinstance(results, list) or len(results) != len(batch):
                    results = [result] * len(batch)
            self.round_trip = 0.8 * self.round_trip + 0.2 * (time.monotonic() - sent)
        except Exception as exc:  # unknown outcome: each run tries again on its own
            log.warning("confirming %d runs failed (%s); retrying", len(batch), exc)
            results = [None] * len(batch)
        for (rid, _, fut), result in zip(batch, results, strict=True):
            if not fut.done():
                fut.set_result(None if result is None else _accepted(rid, result))


def _start_at(due: str | None, now: datetime) -> str:
    """A confirmation's `at`: the held run's time while it is still ahead, else now."""
    if due is not None:
        try:
            at = parse_time(due, field="fired_at")
        except ValidationError:
            at = now
        if at > now:
            return format_time(at)
    return format_time(now)


def _accepted(run_id: str, result: Any) -> bool:
    """True for a `run_started` that moved the run to running. `already_running` is not: some
    other report started it, so this one must not start it again."""
    if isinstance(result, dict) and result.get("ok") and not result.get("already_running"):
        return True
    reason = result.get("error") if isinstance(result, dict) else result
    log.info("run %s not started: the state refused it late (%s)", run_id, reason)
    return False
