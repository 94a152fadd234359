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


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, message: str = "condition",
               interval: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy and return that value;
    AssertionError naming `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except GaveUp:
            raise
        except Exception as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            raise _timed_out(timeout, message, last_error)
        time.sleep(interval)


async def wait_until_async(predicate: Callable[[], Any], timeout: float = 20.0,
                           message: str = "condition", interval: float = 0.02) -> Any:
    """`wait_until` for coroutines: sleeps with `asyncio.sleep`, so the loop keeps running
    (the code under test usually runs on it)."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except GaveUp:
            raise
        except Exception as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            raise _timed_out(timeout, message, last_error)
        await asyncio.sleep(interval)
