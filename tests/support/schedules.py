"""Plain stand-ins for schedules and jitter, shared by the planner and scheduler tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """T0 + seconds."""
    return T0 + timedelta(seconds=seconds)


class Every:
    """Slots every `period` seconds on the grid from T0 (optionally only until `until`).

    Counts the slots it hands out, so tests can check the planner's work stays bounded.
    """

    def __init__(self, period: float, until: datetime | None = None) -> None:
        self.period = timedelta(seconds=period)
        self.until = until
        self.produced = 0

    def next_after(self, t: datetime) -> datetime | None:
        k = (t - T0) // self.period + 1
        slot = T0 + k * self.period
        return None if self.until is not None and slot > self.until else slot

    def iter_after(self, t: datetime) -> Iterator[datetime]:
        while True:
            slot = self.next_after(t)
            if slot is None:
                return
            self.produced += 1
            yield slot
            t = slot


class Once:
    """A one-shot (`@at`)."""

    def __init__(self, when: datetime) -> None:
        self.when = when

    def next_after(self, t: datetime) -> datetime | None:
        return self.when if self.when > t else None

    def iter_after(self, t: datetime) -> Iterator[datetime]:
        if self.when > t:
            yield self.when


def fixed_jitter(seconds: float):
    """A jitter function that delays every slot by `seconds`, recording its calls."""
    calls: list[tuple[str, datetime, timedelta, datetime | None]] = []

    def fn(job: str, slot: datetime, max_jitter: timedelta,
           next_slot: datetime | None) -> timedelta:
        calls.append((job, slot, max_jitter, next_slot))
        return timedelta(seconds=seconds)

    fn.calls = calls  # type: ignore[attr-defined]
    return fn
