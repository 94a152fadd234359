"""The wall-clock search: the next naive local time whose fields all match a `CronSpec`.

No time zones here: wall times are naive `datetime`s on the proleptic Gregorian calendar. The
search carries field by field (month, day, hour, minute, second) using lookup tables, so a
call costs a handful of list lookups, not a scan. The days of a month that match the
day-of-month/day-of-week rule are computed once per (year, month) and cached.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from datetime import datetime
from functools import lru_cache

from raftcron.schedule.fields import CronSpec, DaySpec

_CACHE_LIMIT = 600  # (year, month) entries kept per matcher; ~50 years of monthly lookups
#: The Gregorian calendar repeats every 400 years (146,097 days = 20,871 weeks).
_CYCLE_YEARS = 400


@lru_cache(maxsize=2048)
def _next_table(values: tuple[int, ...], hi: int) -> tuple[int | None, ...]:
    """table[v] = the smallest allowed value >= v, or None; table[hi + 1] is None (overflow).

    Shared between schedules (cached): most expressions use a few common field sets.
    """
    allowed = set(values)
    table: list[int | None] = [None] * (hi + 2)
    nxt: int | None = None
    for v in range(hi, -1, -1):
        if v in allowed:
            nxt = v
        table[v] = nxt
    return tuple(table)


def month_days(spec: DaySpec, year: int, month: int) -> tuple[int, ...]:
    """The days of `year`-`month` that match, by the cronie rule, in increasing order."""
    first_weekday, ndays = calendar.monthrange(year, month)
    wd1 = (first_weekday + 1) % 7  # cron numbering: Sunday 0
    and_rule = spec.dom_star or spec.dow_star
    if and_rule and spec.dom_all and spec.dow_all:
        return tuple(range(1, ndays + 1))
    dom: set[int] | None = None if (and_rule and spec.dom_all) else _dom_days(spec, ndays, wd1)
    dow: set[int] | None = None if (and_rule and spec.dow_all) else _dow_days(spec, ndays, wd1)
    if dom is None:
        assert dow is not None
        days = dow
    elif dow is None:
        days = dom
    else:
        days = dom & dow if and_rule else dom | dow
    return tuple(sorted(days))


def _dom_days(spec: DaySpec, ndays: int, wd1: int) -> set[int]:
    days = {d for d in spec.dom if d <= ndays}
    if spec.dom_last:
        days.add(ndays)
    if spec.dom_last_weekday:
        wd = (wd1 + ndays - 1) % 7
        days.add(ndays - 1 if wd == 6 else ndays - 2 if wd == 0 else ndays)
    for n in spec.dom_nearest:
        if n > ndays:  # 31W in a 30-day month: there is no day 31 to be near
            continue
        wd = (wd1 + n - 1) % 7
        if wd == 6:  # Saturday: the Friday before, unless that leaves the month
            days.add(n - 1 if n > 1 else n + 2)
        elif wd == 0:  # Sunday: the Monday after, unless that leaves the month
            days.add(n + 1 if n < ndays else n - 2)
        else:
            days.add(n)
    return days


def _dow_days(spec: DaySpec, ndays: int, wd1: int) -> set[int]:
    days: set[int] = set()
    for wd in spec.dow:
        days.update(range(1 + (wd - wd1) % 7, ndays + 1, 7))
    for wd, k in spec.dow_nth:
        d = 1 + (wd - wd1) % 7 + 7 * (k - 1)
        if d <= ndays:
            days.add(d)
    wd_last = (wd1 + ndays - 1) % 7
    for wd in spec.dow_last:
        days.add(ndays - (wd_last - wd) % 7)
    return days


_SHARED: dict[DaySpec, dict[int, tuple[int, ...]]] = {}
_SHARED_LIMIT = 256


def _shared_cache(days: DaySpec) -> dict[int, tuple[int, ...]]:
    """One (year, month) -> days cache per distinct day rule, shared by every matcher that
    has it: 100,000 jobs on `H H * * *` compute each month's days once, not 100,000 times."""
    cache = _SHARED.get(days)
    if cache is None:
        if len(_SHARED) >= _SHARED_LIMIT:  # rare day rules (hashed days) get a private cache
            return {}
        cache = _SHARED.setdefault(days, {})
    return cache


class WallMatcher:
    """Finds matching wall times for one `CronSpec`. Not thread-safe only in its cache, which
    any thread may fill; entries are immutable, so a race costs a recomputation, not a wrong
    answer."""

    __slots__ = ("_cache", "_days", "_hours", "_minutes", "_months", "_seconds", "_spec")

    def __init__(self, spec: CronSpec) -> None:
        self._spec = spec
        self._seconds = _next_table(spec.seconds, 59)
        self._minutes = _next_table(spec.minutes, 59)
        self._hours = _next_table(spec.hours, 23)
        self._months = _next_table(spec.months, 12)
        self._days = spec.days
        self._cache = _shared_cache(spec.days)

    def days_of(self, year: int, month: int) -> tuple[int, ...]:
        key = year * 16 + month
        days = self._cache.get(key)
        if days is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            days = self._cache[key] = month_days(self._days, year, month)
        return days

    def can_fire(self) -> bool:
        """Whether any day ever matches (checked over one full 400-year Gregorian cycle)."""
        days = self._days
        if (days.dom_star or days.dow_star) and days.dom_all and days.dow_all:
            return True
        return any(month_days(self._days, year, month)
                   for year in range(2000, 2000 + _CYCLE_YEARS) for month in self._spec.months)

    def next_after(self, wall: datetime) -> datetime | None:
        """The smallest matching wall time strictly after `wall` (whole seconds), or None
        past the year 9999."""
        seconds, minutes, hours, months = self._seconds, self._minutes, self._hours, self._months
        y, mo, d = wall.year, wall.month, wall.day
        h, mi, s = wall.hour, wall.minute, wall.second + 1  # +1: strictly after
        while y <= 9999:
            m2 = months[mo]
            if m2 is None:
                y, mo, d, h, mi, s = y + 1, 1, 1, 0, 0, 0
                continue
            if m2 != mo:
                mo, d, h, mi, s = m2, 1, 0, 0, 0
            days = self.days_of(y, mo)
            i = bisect_left(days, d)
            if i == len(days):
                mo, d, h, mi, s = mo + 1, 1, 0, 0, 0
                continue
            if days[i] != d:
                d, h, mi, s = days[i], 0, 0, 0
            h2 = hours[h]
            if h2 is None:
                d, h, mi, s = d + 1, 0, 0, 0
                continue
            if h2 != h:
                h, mi, s = h2, 0, 0
            m3 = minutes[mi]
            if m3 is None:
                h, mi, s = h + 1, 0, 0
                continue
            if m3 != mi:
                mi, s = m3, 0
            s2 = seconds[s]
            if s2 is None:
                mi, s = mi + 1, 0
                continue
            return datetime(y, mo, d, h, mi, s2)
        return None
