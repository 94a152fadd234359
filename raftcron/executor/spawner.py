"""One thread that starts processes, so the event loop never waits for a `fork`/`exec`.

Starting a local run (creating its output files, building its argv and environment,
`subprocess.Popen`) costs about a millisecond of CPU, most of it in `Popen`. On the event
loop, a few hundred starts a second left the API (same loop) waiting behind them for whole
seconds. A `Spawner` runs those start functions in one dedicated thread, in the order they
were submitted, and hands their results back to the loop in batches: one wake-up of the loop
per batch of finished starts, not one per start (at hundreds of runs a second a cross-thread
wake-up per run showed in profiles).

- `await spawner.call(fn, discard=cleanup)` runs `fn()` in the thread and returns its result
  (or raises its exception). If the awaiting task is cancelled before it has the result
  (before the result arrives, or after but before the task resumes), `discard(result)` is
  called on the loop with whatever `fn` returned, so a process started for a caller that is
  gone can be stopped (nothing started is ever left unwatched).
- `fn` must be short and must not touch the event loop; the loop-side part of a start
  (watching the pipes and the exit) is the caller's, after `call` returns.
- A `fn` that raises hands the exception to its caller; the thread lives on. Anything
  unexpected in the thread itself ends the peer through the watchdog (`thread_died`).
- `pending` is how many starts are queued or running in the thread: the caller bounds it.

The GIL: a start releases it (`fast_spawn` once, `Popen` at several points), and under
load the event loop thread, busy, keeps it for the interpreter's switch interval (5 ms by
default) each time before the spawner gets it back: measured, the spawner then started
ten times fewer processes than the loop itself could. So the first `Spawner` to start its
thread lowers the switch interval to `SWITCH_INTERVAL` (it never raises it). Measured on
three peers: 1 ms started more runs with less daemon CPU per run than the default and than
spawning on the loop; 0.2 ms did better again (300 runs due a second: p99 lag 591 against
629 ms, 2.00 against 2.10 ms of CPU per run; 1,000: 41 % against 57 % of slots missed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from raftcron.executor import fast_spawn
from raftcron.watchdog import thread_died

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The interpreter's switch interval while a spawner runs, in seconds (see the docstring).
SWITCH_INTERVAL = 0.0002
#: Seconds without a call after which the thread ends (the next call starts another).
IDLE_EXIT = 30.0

_STOP = object()


class _Call:
    __slots__ = ("discard", "error", "fn", "future", "result")

    def __init__(self, fn: Callable[[], Any], future: asyncio.Future[Any],
                 discard: Callable[[Any], None] | None) -> None:
        self.fn = fn
        self.future = future
        self.discard = discard
        self.result: Any = None
        self.error: BaseException | None = None


class Spawner:
    """Runs start functions in one thread, FIFO, results back to the loop in batches.

    Use `call` from one event loop. The thread starts with a call and ends after `IDLE_EXIT`
    seconds without one (or at `close()`), so an idle executor holds no thread.
    """

    def __init__(self, name: str = "raftcron-spawner") -> None:
        self.name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._done: list[_Call] = []
        self._wake_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.pending = 0

    async def call(self, fn: Callable[[], T],
                   discard: Callable[[T], None] | None = None) -> T:
        """`fn()` run in the spawner thread; see the module docstring for `discard`."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        future: asyncio.Future[T] = loop.create_future()
        self.pending += 1
        with self._lock:  # the thread decides to end under the same lock: no call is lost
            self._queue.put(_Call(fn, future, discard))
            if self._thread is None:
                if sys.getswitchinterval() > SWITCH_INTERVAL:
                    sys.setswitchinterval(SWITCH_INTERVAL)
                self._thread = threading.Thread(target=self._serve, name=self.name,
                                                daemon=True)
                self._thread.start()
        try:
            return await future
        except asyncio.CancelledError:
            # Cancelled after the result arrived but before this task resumed: the result
            # never reaches the caller, and `_deliver` (which saw a live future) will not
            # discard it either, so it is discarded here (a started process would otherwise
            # run unwatched).
            if (discard is not None and future.done() and not future.cancelled()
                    and future.exception() is None):
                discard(future.result())
            raise

    def close(self) -> None:
        """End the thread once what is queued has run (it never waits here)."""
        with self._lock:
            if self._thread is not None:
                self._queue.put(_STOP)
                self._thread = None

    def _serve(self) -> None:
        # This thread's own umask (fast_spawn): a job's umask set for its start is seen by
        # nobody else, and the start runs without the GIL.
        fast_spawn.private_fs()
        try:
            while True:
                try:
                    item = self._queue.get(timeout=IDLE_EXIT)
                except queue.Empty:
                    with self._lock:
                        if self._queue.empty():
                            self._thread = None
                            return
                    continue
                if item is _STOP:
                    return
                try:
                    item.result = item.fn()
                except Exception as exc:  # the caller's business, not the thread's
                    item.error = exc
                with self._lock:
                    self._done.append(item)
                    wake = not self._wake_pending
                    self._wake_pending = True
                if wake:
                    loop = self._loop
                    assert loop is not None
                    with contextlib.suppress(RuntimeError):  # loop closed: nobody waits
                        loop.call_soon_threadsafe(self._deliver)
        except BaseException as exc:
            thread_died(self.name, repr(exc))

    def _deliver(self) -> None:
        """Loop: hand every finished start to its caller (or to its `discard`)."""
        with self._lock:
            done, self._done = self._done, []
            self._wake_pending = False
        for item in done:
            self.pending -= 1
            fut = item.future
            if not fut.done():
                if item.error is not None:
                    fut.set_exception(item.error)
                else:
                    fut.set_result(item.result)
            elif item.error is None and item.discard is not None:
                try:
                    item.discard(item.result)
                except Exception:
                    log.exception("%s: discarding an abandoned start failed", self.name)
