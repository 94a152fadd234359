"""The mailbox: calls posted by the raft thread run on the loop, in order, in time slices."""

from __future__ import annotations

import asyncio
import threading
import time

from raftcron.raft import waiters
from raftcron.raft.waiters import Mailbox


async def test_mailbox_runs_posted_calls_in_order_from_another_thread() -> None:
    box = Mailbox(asyncio.get_running_loop())
    seen: list[int] = []
    done = asyncio.Event()

    def post_all() -> None:
        for i in range(1000):
            box.post(seen.append, i)
        box.post(done.set)

    threading.Thread(target=post_all).start()
    await asyncio.wait_for(done.wait(), 10)
    assert seen == list(range(1000))


async def test_mailbox_drain_lets_the_loop_run_other_work_between_slices(monkeypatch) -> None:
    # Under overload the raft thread posts as fast as the loop drains; a drain that ran
    # until the deque was empty kept /status waiting for seconds.
    monkeypatch.setattr(waiters, "DRAIN_BUDGET", 0.005)
    loop = asyncio.get_running_loop()
    box = Mailbox(loop)
    order: list[str] = []

    def slow(i: int) -> None:
        time.sleep(0.002)
        order.append(f"call{i}")

    for i in range(20):
        box.post(slow, i)
    loop.call_soon(order.append, "other")  # ready work queued behind the drain
    done = asyncio.Event()
    box.post(done.set)
    await asyncio.wait_for(done.wait(), 10)
    calls = [x for x in order if x.startswith("call")]
    assert calls == [f"call{i}" for i in range(20)]  # still in order
    assert order.index("other") < order.index("call19")  # and not after all of them
