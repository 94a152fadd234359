"""The one place that reads wall time.

Everything below the scheduler takes `now` as a parameter; loops take a `Clock` so tests can
drive them with `FakeClock`. Wall time is always an aware UTC `datetime`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC wall time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for pacing and timeouts)."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class MajorityClock:
    """`base` with its wall time moved onto the majority's: `now()` is `base.now()` less
    `correction()` seconds (this peer's clock minus the majority's, measured by the Raft
    node; 0 while no majority agrees). The monotonic clock is `base`'s, untouched.

    What decides and stamps slot times (the scheduler, the API's `at`) reads this, so a
    peer whose own clock is off still plans and stamps by the others' time."""

    def __init__(self, base: Clock, correction: Callable[[], float]) -> None:
        self._base, self._correction = base, correction

    def now(self) -> datetime:
        shift = self._correction()
        now = self._base.now()
        return now - timedelta(seconds=shift) if shift else now

    def monotonic(self) -> float:
        return self._base.monotonic()


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._mono = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, delta: timedelta | float) -> None:
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        self._now += timedelta(seconds=seconds)
        self._mono += seconds
