"""Schedules that are not cron: `@every`, distcrond's `{interval, reference}` and `@at`.

All three run on real elapsed time (UTC arithmetic); the time zone only places the reference
wall time and formats the results. Instants are naive UTC datetimes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from raftcron.durations import MAX_DURATION, format_duration, parse_duration, parse_time
from raftcron.errors import InvalidScheduleError, OutOfRangeError, ValidationError
from raftcron.schedule import zones
from raftcron.schedule.core import HORIZON

#: `@every` with no anchor: slots sit on the Unix epoch grid (`@every 5m` fires at :00, :05...).
EPOCH = datetime(1970, 1, 1)
#: The local date on which `reference` is placed, so the slots depend only on the expression
#: and the zone (the CLI, the API and every leader agree). See the package docstring.
REFERENCE_DATE = (2000, 1, 1)
_MIN_INTERVAL = timedelta(seconds=1)
_REFERENCE = re.compile(r"(\d\d):(\d\d)(?::(\d\d))?")
_PAIR = re.compile(r'\s*"?([A-Za-z_]+)"?\s*[=:]\s*"([^"]*)"\s*')
MAPPING_KEYS = ("interval", "reference")


class EveryRule:
    """Slots at `anchor + k * interval` for every integer k >= `first_k` (all k if None)."""

    __slots__ = ("_anchor", "_first_k", "_interval")

    def __init__(self, anchor: datetime, interval: timedelta, first_k: int | None) -> None:
        self._anchor, self._interval, self._first_k = anchor, interval, first_k

    def next_after(self, instant: datetime) -> datetime | None:
        k = (instant - self._anchor) // self._interval + 1
        if self._first_k is not None and k < self._first_k:
            k = self._first_k
        try:
            return self._anchor + k * self._interval
        except OverflowError:
            return None


class AtRule:
    """One slot."""

    __slots__ = ("_at",)

    def __init__(self, at: datetime) -> None:
        self._at = at

    def next_after(self, instant: datetime) -> datetime | None:
        return self._at if self._at > instant else None


def parse_interval(text: str, *, field: str, what: str) -> timedelta:
    """A duration from 1s to `durations.MAX_DURATION` (3660d, about ten years), or
    `InvalidScheduleError(field=field)`."""
    try:
        interval = parse_duration(text.strip(), field=field)
    except OutOfRangeError:
        raise InvalidScheduleError(
            f"{field}: {what} {text.strip()!r} is longer than the maximum of "
            f"{format_duration(MAX_DURATION)}", field=field) from None
    except ValidationError:
        raise InvalidScheduleError(
            f"{field}: {what} {text.strip()!r} is not a duration like '10s', '5m' or '1h30m'",
            field=field) from None
    if interval < _MIN_INTERVAL:
        raise InvalidScheduleError(f"{field}: {what} must be at least 1s, got {text.strip()!r}",
                                   field=field)
    return interval


def every_rule(text: str, anchor: datetime | None, anchor_is_slot: bool) -> EveryRule:
    """`@every DURATION`: slots anchor + k*interval, k >= 1 (k >= 0 when `anchor_is_slot`)."""
    interval = parse_interval(text, field="schedule", what="@every")
    if anchor is None:
        return EveryRule(EPOCH, interval, None)
    return EveryRule(anchor, interval, 0 if anchor_is_slot else 1)


def at_rule(text: str) -> AtRule:
    """`@at ISO8601-with-offset`, before `core.HORIZON` (9990-01-01T00:00:00Z)."""
    try:
        at = parse_time(text.strip(), field="schedule")
    except ValidationError as exc:
        raise InvalidScheduleError(f"schedule: @at: {exc.message.removeprefix('schedule: ')}",
                                   field="schedule") from None
    if at.replace(tzinfo=None) >= HORIZON:
        raise InvalidScheduleError(
            f"schedule: @at: {text.strip()!r} is too late: no schedule fires at or after "
            f"{HORIZON.isoformat()}Z", field="schedule")
    return AtRule(at.replace(tzinfo=None))


def mapping_from_text(text: str) -> dict[str, str]:
    """`{interval = "10m", reference = "03:10"}` (TOML inline table) or the same as JSON."""
    body = text.strip()
    if not body.endswith("}"):
        raise InvalidScheduleError("schedule: a mapping schedule must end with '}'",
                                   field="schedule")
    try:
        loaded = json.loads(body)
    except ValueError:
        loaded = None
    if isinstance(loaded, dict):
        return loaded
    out: dict[str, str] = {}
    inner = body[1:-1]
    for part in inner.split(",") if inner.strip() else []:
        m = _PAIR.fullmatch(part)
        if m is None:
            raise InvalidScheduleError(
                f"schedule: cannot read {part.strip()!r} (expected "
                '{interval = "10m", reference = "03:10"})', field="schedule")
        if m.group(1) in out:
            raise InvalidScheduleError(f"schedule: {m.group(1)!r} given twice", field="schedule")
        out[m.group(1)] = m.group(2)
    return out


def mapping_rule(data: Mapping[str, object], zone: ZoneInfo,
                 anchor: datetime | None, anchor_is_slot: bool
                 ) -> tuple[EveryRule, str]:
    """distcrond's `{interval, reference}` -> (rule, canonical text).

    With a reference, the slots are every real-time `interval` on a grid through the reference
    wall time on `REFERENCE_DATE` (all integer k). Without one, it is `@every interval`.
    """
    for key in data:
        if key not in MAPPING_KEYS:
            raise InvalidScheduleError(
                f"schedule: unknown key {key!r} (a mapping schedule takes interval and "
                "reference)", field="schedule")
    raw_interval = data.get("interval")
    if raw_interval is None:
        raise InvalidScheduleError("interval: a mapping schedule needs an interval",
                                   field="interval")
    if not isinstance(raw_interval, str):
        raise InvalidScheduleError(f"interval: expected a duration string, got {raw_interval!r}",
                                   field="interval")
    interval = parse_interval(raw_interval, field="interval", what="interval")
    raw_reference = data.get("reference")
    if raw_reference is None:
        rule = every_rule(raw_interval, anchor, anchor_is_slot)
        return rule, f'{{interval = "{raw_interval.strip()}"}}'
    if not isinstance(raw_reference, str):
        raise InvalidScheduleError(f"reference: expected 'HH:MM', got {raw_reference!r}",
                                   field="reference")
    m = _REFERENCE.fullmatch(raw_reference.strip())
    if m is None or int(m.group(1)) > 23 or int(m.group(2)) > 59 or int(m.group(3) or 0) > 59:
        raise InvalidScheduleError(
            f"reference: {raw_reference!r} is not a wall time HH:MM or HH:MM:SS",
            field="reference")
    wall = datetime(*REFERENCE_DATE, int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
    text = f'{{interval = "{raw_interval.strip()}", reference = "{raw_reference.strip()}"}}'
    return EveryRule(zones.resolve_wall(zone, wall), interval, None), text
