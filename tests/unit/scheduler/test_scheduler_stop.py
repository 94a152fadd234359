"""`Scheduler.stop()` ends the loop even when the cancel it sends is lost (Python 3.11's
`asyncio.wait_for` drops a cancel that arrives as the awaited event completes): the daemon
waits for `stop()` before any later leadership change, so a lost cancel must not hang it."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from pathlib import Path

from raftcron.scheduler.loop import Scheduler, SchedulerSettings
from tests.support.scheduler import A, B, C, Harness


async def test_stop_ends_the_loop_when_a_cancel_is_lost(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    try:
        sched = Scheduler(node=h.node, read=h.read, clock=h.clock, self_id=A, peers=[A, B, C],
                          settings=SchedulerSettings(lease=timedelta(seconds=15)))
        ticks = 0

        async def tick() -> list:
            nonlocal ticks
            ticks += 1
            with contextlib.suppress(asyncio.CancelledError):  # lost, as wait_for loses it
                await asyncio.sleep(0.01)
            return []

        sched.tick = tick  # type: ignore[method-assign]
        await sched.start()
        while ticks < 2:
            await asyncio.sleep(0.005)
        stopping = asyncio.ensure_future(sched.stop())
        done, _ = await asyncio.wait({stopping}, timeout=5)
        assert stopping in done, "stop() still waiting for the loop"
        stopped_at = ticks
        await asyncio.sleep(0.05)
        assert ticks == stopped_at  # nothing ticks after stop()
    finally:
        h.close()
