"""`Schedule`: a parsed schedule that answers "when does it fire next?"."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

#: No schedule fires at or after this instant (naive UTC). The scheduler adds a job's jitter
#: and the notifier its dead man's switch window (each at most a year) to a slot, and both
#: sums must stay within year 9999, the last one Python represents.
HORIZON = datetime(9990, 1, 1)


class Rule(Protocol):
    def next_after(self, instant: datetime) -> datetime | None:
        """The first fire strictly after `instant`; both naive UTC."""


class Schedule:
    """A parsed schedule. Immutable in meaning; safe to share between threads and callers.

    `source` is what the user wrote (a string, the distcrond mapping as a dict, or a list of
    those for several schedules); `expanded`
    is the text with every `H` item replaced by numbers (the source text itself when there is
    none) and parses back to the same schedule without the job name. `tz` is the IANA zone name
    the fire times are computed and returned in. `one_shot` is True for `@at`. `kind` is one of
    `cron`, `every`, `interval`, `at`, `union` (several; `expanded` joins their texts by a
    newline).
    """

    __slots__ = ("_rule", "_utc", "expanded", "kind", "one_shot", "source", "tz", "zone")

    def __init__(self, *, source: str | Mapping[str, str] | list[Any], expanded: str, tz: str,
                 zone: ZoneInfo, kind: str, rule: Rule, one_shot: bool = False) -> None:
        # A list is several schedules (`union.parse_union`, kind `union`).
        self.source: str | dict[str, str] | list[Any] = (
            source if isinstance(source, str | list) else dict(source))
        self.expanded = expanded
        self.tz = tz
        self.zone = zone
        self.kind = kind
        self.one_shot = one_shot
        self._rule = rule
        self._utc = zone.key == "UTC"

    def __repr__(self) -> str:
        return f"Schedule({self.expanded!r}, tz={self.tz!r})"

    def next_after(self, t: datetime) -> datetime | None:
        """The first fire time strictly after `t`, as an aware datetime in `tz`.

        None when the schedule has no fire left (an `@at` in the past, or at or after
        `HORIZON`).
        `t` must be aware (any zone). Pure: no clock, no I/O. Compare results in UTC: Python
        compares two datetimes of the same zone by wall time and ignores `fold`, so 01:30 EDT
        and 01:30 EST (the repeated hour) would compare equal.
        """
        try:
            found = self._rule.next_after(_naive_utc(t))
            return None if found is None or found >= HORIZON else self._aware(found)
        except OverflowError:  # the answer would lie beyond year 9999 in UTC or in `tz`
            return None

    def iter_after(self, t: datetime) -> Iterator[datetime]:
        """The fire times strictly after `t`, in increasing order (lazily, possibly endless)."""
        rule = self._rule
        try:
            cur = rule.next_after(_naive_utc(t))
            while cur is not None and cur < HORIZON:
                fire = self._aware(cur)
                yield fire
                cur = rule.next_after(cur)
        except OverflowError:  # past year 9999 (`t` itself may be beyond HORIZON)
            return

    def _aware(self, instant: datetime) -> datetime:
        if self._utc:
            return instant.replace(tzinfo=self.zone)
        return instant.replace(tzinfo=UTC).astimezone(self.zone)


def _naive_utc(t: datetime) -> datetime:
    tzinfo = t.tzinfo
    if tzinfo is None:
        raise ValueError("schedules need an aware datetime (a naive time means nothing here)")
    if tzinfo is UTC:
        return t.replace(tzinfo=None)
    return t.astimezone(UTC).replace(tzinfo=None)
