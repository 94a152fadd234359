"""Pacing the worker's run starts, so they never starve the event loop.

Under overload (more runs due than this peer can start) the API, the Raft bookkeeping and the
reports share the event loop with the starts. The fork/exec of a local run happens in the
executor's spawner thread (`executor/spawner.py`), but every start still costs the loop some
work (preparing, recording in started.log, watching the pipes and the exit), and a fire of a
thousand runs would hold it for long if every run were let through in the same iteration. So:

- `StartGate.turn()` lets runs through in the order they asked, a batch per loop iteration,
  the batch sized by a time budget, not a fixed count: the gate measures the loop thread's
  CPU time the batch took (from the grant to the end of the starts' synchronous part;
  `time.thread_time`, so other processes taking the CPU do not count) and sizes the next
  batch to fit `budget` (between 1 and `MAX_PER_TURN`). Between two turns the loop serves
  everything else that is ready (an API request, a report's answer), so a read or `/status`
  waits for about one budget of starts per loop iteration it needs, never for the backlog.
- Lateness: the worker gives every run a deadline (`start_by()` here): its slot or the
  moment this peer took it, whichever is later, plus `deadline`. A run still waiting for its
  turn (here, or in an executor) after that is not started: it is reported
  `failed` with an `overloaded: ...` reason (a run that could not start is `failed`, as for a
  missing executable). A run taken late (after a restart or a partition) still gets
  `deadline` seconds from when it was taken: that lateness is admission's business.
- At most `max_waiting` runs wait to start on this peer (here, in preparation or in an
  executor); a run taken beyond that is reported at once with the same kind of
  reason, so memory stays bounded however long the overload lasts.

- Its time: a run the leader committed ahead of its slot (`planning.ahead`) carries its due
  time as `fired_at`; `hold_until_due` keeps it until that time has come by this peer's clock
  and by the majority's (`planning.ahead.start_delay`), after its preparation and its
  started.log record, so what is left at its time is the spawn.

The gate decides nothing about the state: the report is an ordinary `run_finished` the state
applies like any other (refused if the run was meanwhile lost or cancelled).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import deque
from datetime import datetime, timedelta

from raftcron.clock import Clock
from raftcron.durations import parse_time
from raftcron.errors import ValidationError
from raftcron.executor.base import OVERLOADED, RunSpec
from raftcron.planning.ahead import start_delay

#: Loop CPU time a turn of starts may take, in seconds: the batch let through per iteration
#: adapts to it, far under the API's one second.
BUDGET = 0.02
#: Bounds of the batch size (the first turn lets `FIRST_PER_TURN` through).
FIRST_PER_TURN = 16
MAX_PER_TURN = 256
#: A run not started this many seconds after its slot (or after it was taken, if later) is
#: given up.
START_DEADLINE = 30.0
#: Runs that may wait to start on this peer at once: about what a peer starts within
#: `START_DEADLINE` (a few hundred a second), so a burst that could still start in time (every
#: job due at the top of the hour) is not refused, and memory stays in the tens of MB.
MAX_WAITING = 10_000
#: Seconds after which a run held for its time looks at the clocks again.
HOLD_RECHECK = 1.0

def start_by(slot: datetime, taken: datetime, deadline: float) -> datetime:
    """When a run slotted at `slot` and taken at `taken` is given up if not started."""
    return max(slot, taken) + timedelta(seconds=deadline)


def with_start_deadline(spec: RunSpec, taken: datetime, deadline: float,
                        now: datetime) -> RunSpec:
    """`spec` with `start_before`: the monotonic time past which it is given up unstarted
    (`start_by`); already in the past when the run is late now."""
    left = (start_by(spec.slot, taken, deadline) - now).total_seconds()
    return dataclasses.replace(spec, start_before=time.monotonic() + left)


async def hold_until_due(fired_at: object, clock: Clock, majority: Clock, *,
                         lead: float = 0.0) -> bool:
    """Return once `fired_at` (a run record's, ISO text) less `lead` seconds has come by
    `clock` and by `majority`; at once for a run fired at or after its time, or with no
    readable time. True when it waited."""
    try:
        at = parse_time(str(fired_at), field="fired_at") - timedelta(seconds=lead)
    except ValidationError:
        return False
    waited = False
    # Looked at again at least every HOLD_RECHECK: the majority's time is a measurement that
    # moves, and a clock stepped meanwhile must not hold a run for the old distance.
    while (delay := start_delay(at, own=clock.now(), majority=majority.now())) > 0:
        waited = True
        await asyncio.sleep(min(delay, HOLD_RECHECK))
    return waited


def full_reason(waiting: int) -> str:
    return f"{OVERLOADED}: {waiting} runs already waiting to start on this peer"


class StartGate:
    """Grants run starts, a time-budgeted batch per loop iteration, first come first served.
    Use from one event loop."""

    def __init__(self, *, budget: float = BUDGET, deadline: float = START_DEADLINE,
                 max_waiting: int = MAX_WAITING) -> None:
        self.budget = budget
        self.deadline = deadline
        self.max_waiting = max_waiting
        #: Starts let through per turn now (adapts to `budget`).
        self.per_turn = FIRST_PER_TURN
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._granted = 0  # starts granted since the last turn began
        self._turn_scheduled = False
        #: thread_time() when the last batch was granted (None: no batch being measured).
        self._batch_began: float | None = None

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
        """A new loop iteration: grant the next batch. The callbacks queued meanwhile (I/O
        included) run before the next turn does."""
        self._turn_scheduled = False
        self._granted = 0
        while self._waiters and self._granted < self.per_turn:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                self._granted += 1
        if self._granted:
            # The granted tasks resume in the next iteration, in the order set; a callback
            # queued after them marks the end of their synchronous part (the spawn).
            self._batch_began = time.thread_time()
            asyncio.get_running_loop().call_soon(self._batch_done, self._granted)
        if self._waiters or self._granted:
            self._schedule_turn()

    def _batch_done(self, granted: int) -> None:
        """Size the next batch by what this one cost the loop thread."""
        if self._batch_began is None:
            return
        spent = time.thread_time() - self._batch_began
        self._batch_began = None
        per_start = spent / granted
        if per_start > 0:
            fit = int(self.budget / per_start)
            # Grow gently (a cheap batch may be luck), shrink at once.
            self.per_turn = max(1, min(MAX_PER_TURN, fit, self.per_turn * 2))
