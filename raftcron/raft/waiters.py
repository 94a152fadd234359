"""Handing work from the raft thread to the asyncio loop, and the futures waiting on the log.

`Mailbox.post` is how the raft thread gets anything onto the loop. Futures wait by idempotency
key (proposals) or by index (`wait_applied`); the raft thread resolves them through the mailbox.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Post = Callable[..., None]

#: Seconds of posted calls one drain runs before it lets the loop's other work in.
DRAIN_BUDGET = 0.02


class Mailbox:
    """Calls posted from any thread, run in order on `loop`.

    One `call_soon_threadsafe` (a write to the loop's self-pipe, ~50 us) per burst instead of
    one per call: at hundreds of entries per second, each posting two or three calls, the
    syscalls were a fifth of the raft thread's time.

    A drain runs calls for at most `DRAIN_BUDGET`, then goes on in a later loop iteration:
    under overload the raft thread posts as fast as the loop runs the calls (every applied
    entry's listeners), and a drain that ran until the deque was empty held the loop, and
    `/status` with it, for seconds.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._calls: collections.deque[tuple[Callable[..., None], tuple[Any, ...]]] = (
            collections.deque())
        self._scheduled = False

    def post(self, fn: Callable[..., None], *args: Any) -> None:
        self._calls.append((fn, args))
        if not self._scheduled:
            self._scheduled = True
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
                self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        # Cleared before draining: a call appended from now on schedules another drain.
        self._scheduled = False
        calls = self._calls
        until = time.monotonic() + DRAIN_BUDGET
        while calls:
            fn, args = calls.popleft()
            try:
                fn(*args)
            except Exception:  # one failing call must not strand the ones queued behind it
                log.exception("posted call %r failed", fn)
            if calls and time.monotonic() > until:
                # The rest in a later iteration, in order, after what the loop has ready (a
                # second drain scheduled by a racing `post` only finds less to do).
                self._scheduled = True
                self._loop.call_soon(self._drain)
                return


def set_result(future: asyncio.Future, value: Any) -> None:
    """Loop thread: resolve `future` unless it is already done (or cancelled)."""
    if not future.done():
        future.set_result(value)


class KeyWaiters:
    """key -> futures of the proposals waiting for the entry with that idempotency key.

    `add`/`discard` on the loop thread; `resolve` and `pending_keys` from any thread (the raft
    thread).
    """

    def __init__(self, post: Post) -> None:
        self._post = post
        self._lock = threading.Lock()
        self._by_key: dict[str, list[asyncio.Future[dict]]] = {}

    def add(self, key: str, future: asyncio.Future[dict]) -> None:
        with self._lock:
            self._by_key.setdefault(key, []).append(future)

    def discard(self, key: str, future: asyncio.Future[dict]) -> None:
        with self._lock:
            futures = self._by_key.get(key)
            if futures and future in futures:
                futures.remove(future)
                if not futures:
                    del self._by_key[key]

    def pending_keys(self) -> list[str]:
        with self._lock:
            return list(self._by_key)

    def resolve(self, key: str, result: dict) -> None:
        """Any thread: hand `result` to every proposal waiting on `key`."""
        with self._lock:
            futures = self._by_key.pop(key, None)
        for future in futures or ():
            self._post(set_result, future, result)

    def fail_all(self, error: BaseException) -> None:
        """Loop thread: fail every waiting proposal (shutdown)."""
        with self._lock:
            futures = [f for fs in self._by_key.values() for f in fs]
            self._by_key.clear()
        for future in futures:
            if not future.done():
                future.set_exception(error)


class IndexWaiters:
    """Futures waiting until the applied index reaches a value. Loop thread only, except
    `__bool__`, which the raft thread reads to skip posting when nobody waits."""

    def __init__(self) -> None:
        self._entries: list[tuple[int, asyncio.Future[bool]]] = []

    def __bool__(self) -> bool:
        return bool(self._entries)

    def add(self, index: int, future: asyncio.Future[bool]) -> tuple[int, asyncio.Future[bool]]:
        entry = (index, future)
        self._entries.append(entry)
        return entry

    def remove(self, entry: tuple[int, asyncio.Future[bool]]) -> None:
        with contextlib.suppress(ValueError):
            self._entries.remove(entry)

    def wake(self, applied: int) -> None:
        for index, future in list(self._entries):
            if applied >= index and not future.done():
                future.set_result(True)

    async def wait(self, index: int, timeout: float, applied: Callable[[], int]) -> bool:
        """True once `applied()` reaches `index` (False after `timeout`); on the loop."""
        if applied() >= index:
            return True
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        entry = self.add(index, future)
        try:
            # Re-check after registering: the raft thread only wakes registered waiters.
            if applied() >= index:
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(future, timeout)
            return applied() >= index
        finally:
            self.remove(entry)
