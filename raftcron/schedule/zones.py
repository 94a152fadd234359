"""Time zones: validation, UTC offset transitions, and wall time -> instant under cron's rules.

Instants inside the schedule package are naive UTC `datetime`s (fast arithmetic, no tzinfo
calls); wall times are naive local `datetime`s. `zoneinfo` does not expose a zone's transitions,
so they are found by sampling the offset once a day and bisecting each change to the second
(tzdata transitions fall on whole seconds), cached per (zone, year). Two changes within one
day that cancel out would be missed (current tzdata rules have none; only rare historical
entries might).
"""

from __future__ import annotations

import calendar
import zoneinfo
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from raftcron.errors import InvalidScheduleError

#: Zones whose offset is zero forever: the instant is the wall time, no transition lookups.
UTC_KEYS = frozenset({
    "UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu",
    "GMT", "Etc/GMT", "Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0", "GMT0", "GMT+0", "GMT-0",
    "Etc/Greenwich", "Greenwich",
})
# Names in the tz database that mean "whatever this host is set to": not the same on every peer.
_HOST_DEPENDENT = frozenset({"localtime", "posixrules"})
_DAY = 86_400
_ONE_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1)

#: (instant of the change as naive UTC, offset before, offset after)
Transition = tuple[datetime, timedelta, timedelta]


def validate_tz(tz: str) -> ZoneInfo:
    """The `ZoneInfo` for an IANA zone name, or `InvalidScheduleError(field="tz")`.

    Only names from the IANA database (as shipped by tzdata) are accepted: no file paths, no
    POSIX TZ strings, no host-dependent `localtime`.
    """
    if not isinstance(tz, str):
        raise InvalidScheduleError(f"tz: expected an IANA time zone name, got {tz!r}", field="tz")
    return _zone(tz)


@lru_cache(maxsize=1024)
def _zone(tz: str) -> ZoneInfo:
    if not tz:
        raise InvalidScheduleError("tz: empty time zone name (use e.g. 'UTC')", field="tz")
    if len(tz) > 64 or not tz.isascii() or not tz.isprintable() or tz in _HOST_DEPENDENT:
        raise InvalidScheduleError(f"tz: {tz!r} is not an IANA time zone name", field="tz")
    if tz not in _available():
        raise InvalidScheduleError(
            f"tz: unknown time zone {tz!r} (use an IANA name like 'Europe/Berlin' or 'UTC')",
            field="tz",
        )
    try:
        return ZoneInfo(tz)
    except (ValueError, KeyError, OSError):  # listed but unreadable: treat as unknown
        raise InvalidScheduleError(f"tz: unknown time zone {tz!r}", field="tz") from None


@lru_cache(maxsize=1)
def _available() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_utc(zone: ZoneInfo) -> bool:
    """True for the zones whose offset is always zero."""
    return zone.key in UTC_KEYS


def local_wall(zone: ZoneInfo, instant: datetime) -> datetime:
    """The naive wall time in `zone` at the naive-UTC `instant` (fold dropped)."""
    return instant.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None, fold=0)


def offset_at(zone: ZoneInfo, instant: datetime) -> timedelta:
    """The UTC offset in force in `zone` at the naive-UTC `instant`."""
    off = instant.replace(tzinfo=UTC).astimezone(zone).utcoffset()
    assert off is not None
    return off


def resolve_wall(zone: ZoneInfo, wall: datetime) -> datetime:
    """The one instant (naive UTC) at which a fixed wall time fires, cron's DST rule.

    A wall time that happens once maps to that instant; one that happens twice (the repeated
    hour) to its first occurrence; one that does not exist (the spring-forward gap) to the
    first instant after the gap, i.e. the transition itself.
    """
    local = wall.replace(tzinfo=zone)
    off0 = local.utcoffset()
    off1 = local.replace(fold=1).utcoffset()
    assert off0 is not None and off1 is not None
    if off0 >= off1:
        # Unique (equal) or repeated (fold=0 is the first pass, with the larger offset).
        return wall - off0
    # In the gap zoneinfo reads fold=0 with the offset before the jump, which lands after it,
    # and fold=1 with the offset after, which lands before it: the jump lies in between.
    found = first_transition(zone, wall - off1, wall - off0)
    return found[0] if found is not None else wall - off0


def first_transition(zone: ZoneInfo, after: datetime, until: datetime) -> Transition | None:
    """The first change of UTC offset at an instant T with `after` < T <= `until` (naive UTC)."""
    if until <= after:
        return None
    for year in range(after.year, until.year + 1):
        for tr in _year_transitions(zone, year):
            if tr[0] > until:
                return None
            if tr[0] > after:
                return tr
    return None


@lru_cache(maxsize=8192)
def _year_transitions(zone: ZoneInfo, year: int) -> tuple[Transition, ...]:
    """The offset changes with UTC instant in (Jan 1 of `year`, Jan 1 of `year + 1`], UTC."""
    if zone.key in UTC_KEYS or not 2 <= year <= 9998:
        return ()
    try:
        return _scan_year(zone, year)
    except (OverflowError, OSError, ValueError):  # a platform's time_t limits: treat as none
        return ()


def _scan_year(zone: ZoneInfo, year: int) -> tuple[Transition, ...]:
    start = calendar.timegm((year, 1, 1, 0, 0, 0))
    end = calendar.timegm((year + 1, 1, 1, 0, 0, 0))

    def off(ts: int) -> timedelta:
        value = datetime.fromtimestamp(ts, zone).utcoffset()
        assert value is not None
        return value

    found: list[Transition] = []
    lo, off_lo = start, off(start)
    while lo < end:
        hi = min(lo + _DAY, end)
        off_hi = off(hi)
        if off_hi != off_lo:
            a, b = lo, hi  # invariant: off(a) == off_lo != off(b)
            while b - a > 1:
                mid = (a + b) // 2
                if off(mid) == off_lo:
                    a = mid
                else:
                    b = mid
            found.append((_EPOCH + timedelta(seconds=b), off_lo, off(b)))
        lo, off_lo = hi, off_hi
    return tuple(found)
