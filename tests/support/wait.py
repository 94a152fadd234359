"""The one way a test waits: poll a predicate until it holds, fail after a deadline.

Deadlines are hang guards, never speed claims. A predicate that raises counts as "not yet"
(a restarting peer refuses connections, a file is half written); the last error is shown if
the deadline passes. Raise `GaveUp` from a predicate to stop waiting at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


class GaveUp(AssertionError):
    """Raised by a `wait_until` predicate to stop waiting at once (the thing will never be)."""


def _timed_out(timeout: float, message: str, last_error: BaseException | None) -> AssertionError:
    extra = f" (last error: {last_error!r})" if last_error else ""
    return AssertionError(f"timed out after {timeout:g}s waiting for {message}{extra}")


class _Poll:
    """One polling of `predicate`: `check()` is the value once truthy (None before); past the
    deadline it raises the AssertionError naming `message` and the last error seen.
    Exceptions from the predicate count as "not yet", except `GaveUp`."""

    def __init__(self, predicate: Callable[[], Any], timeout: float, message: str) -> None:
        self.predicate, self.timeout, self.message = predicate, timeout, message
        self.deadline = time.monotonic() + timeout
        self.last_error: BaseException | None = None

    def check(self) -> Any:
        try:
            value = self.predicate()
            if value:
                return value
        except GaveUp:
            raise
        except Exception as exc:
            self.last_error = exc
        if time.monotonic() >= self.deadline:
            raise _timed_out(self.timeout, self.message, self.last_error)
        return None


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, message: str = "condition",
               interval: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy and return that value;
    AssertionError naming `message` after `timeout` seconds."""
    poll = _Poll(predicate, timeout, message)
    while (value := poll.check()) is None:
        time.sleep(interval)
    return value


async def wait_until_async(predicate: Callable[[], Any], timeout: float = 20.0,
                           message: str = "condition", interval: float = 0.02) -> Any:
    """`wait_until` for coroutines: sleeps with `asyncio.sleep`, so the loop keeps running
    (the code under test usually runs on it)."""
    poll = _Poll(predicate, timeout, message)
    while (value := poll.check()) is None:
        await asyncio.sleep(interval)
    return value
