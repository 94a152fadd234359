"""Pacing the worker's process starts, so run starts never starve the event loop.

Under overload (more runs due than this peer can start) the API, the Raft bookkeeping and the
reports share the event loop with the spawns. Starting a process costs the loop about a
millisecond; a fire of a thousand runs would hold it for a second if every run started in the
same loop iteration, and the backlog would grow without bound. So:

- `StartGate.turn()` lets at most `per_turn` runs start per loop iteration, in the order they
  asked; the others wait for later iterations. Between two turns the loop serves everything
  else that is ready (an API request, a report's answer), so a read or `/status` waits for at
  most one turn of starts, never for the whole backlog.
- A run that had to wait for its turn and is then more than `deadline` seconds past its slot
  is not started: the worker reports it `failed` with an `overloaded: ...` reason (a run that
  could not start is `failed`, as for a missing executable). A run that found the gate free
  starts whatever its age: lateness from a restart or a partition is admission's business.
- At most `max_waiting` runs wait here; a run taken beyond that is reported at once with the
  same kind of reason, so memory stays bounded however long the overload lasts.

The gate decides nothing about the state: the report is an ordinary `run_finished` the state
applies like any other (refused if the run was meanwhile lost or cancelled).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from raftcron.durations import parse_time

#: Runs that may start in one loop iteration: a turn holds the loop for 30-100 ms (a spawn
#: costs the loop 0.5-1.5 ms), far under the API's one-second aim. 16 made the starts' own
#: tail later (p99 1.6 s against 1.1 s at 300 runs/s on a loaded 2-core box).
PER_TURN = 64
#: A run that waited for its turn is given up this many seconds past its slot.
START_DEADLINE = 30.0
#: Runs that may wait to start on this peer at once: about what a peer starts within
#: `START_DEADLINE` (a few hundred a second), so a burst that could still start in time (every
#: job due at the top of the hour) is not refused, and memory stays in the tens of MB.
MAX_WAITING = 10_000

OVERLOADED = "overloaded"


def late_reason(deadline: float) -> str:
    return f"{OVERLOADED}: could not start within {deadline:g}s of its slot on this peer"


def full_reason(waiting: int) -> str:
    return f"{OVERLOADED}: {waiting} runs already waiting to start on this peer"


class StartGate:
    """Grants run starts, at most `per_turn` per loop iteration, first come first served.
    Use from one event loop."""

    def __init__(self, *, per_turn: int = PER_TURN, deadline: float = START_DEADLINE,
                 max_waiting: int = MAX_WAITING) -> None:
        self.per_turn = max(1, per_turn)
        self.deadline = deadline
        self.max_waiting = max_waiting
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._granted = 0  # starts granted since the last turn began
        self._turn_scheduled = False

    @property
    def waiting(self) -> int:
        """Runs waiting for their turn now."""
        return len(self._waiters)

    async def turn(self) -> bool:
        """Return when the caller may start its run; True when it had to wait for it."""
        if not self._waiters and self._granted < self.per_turn:
            self._granted += 1
            self._schedule_turn()
            return False
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._schedule_turn()
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._schedule_turn()  # its grant goes unused; the next turn comes anyway
            raise
        return True

    def _schedule_turn(self) -> None:
        if not self._turn_scheduled:
            self._turn_scheduled = True
            asyncio.get_running_loop().call_soon(self._next_turn)

    def _next_turn(self) -> None:
        """A new loop iteration: grant the next `per_turn` waiters. The callbacks queued
        meanwhile (I/O included) run before the next turn does."""
        self._turn_scheduled = False
        self._granted = 0
        while self._waiters and self._granted < self.per_turn:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                self._granted += 1
        if self._waiters or self._granted:
            self._schedule_turn()

    def too_late(self, run: Mapping[str, Any], now: datetime, *, waited: bool) -> str | None:
        """The reason not to start `run` after its turn, or None to start it."""
        if not waited:
            return None
        try:
            slot = parse_time(str(run.get("slot")))
        except Exception:
            return None  # no slot to measure against: start it
        if (now - slot).total_seconds() > self.deadline:
            return late_reason(self.deadline)
        return None
