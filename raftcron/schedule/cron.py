"""Cron fire times in a time zone: the wall-clock search plus cronie's DST rules.

Two modes (cronie's `MIN_STAR|HR_STAR` distinction; see the package docstring for examples):

- real time (the minute or hour field starts with `*`): the fires are exactly the instants
  whose local wall time matches. A wall time in the spring-forward gap never happens, so it
  never fires; one in the repeated hour happens twice and fires twice.
- wall clock (any other expression): each matching wall time fires once, at
  `zones.resolve_wall`: its first occurrence, or the end of the gap when it does not exist.

Instants are naive UTC datetimes throughout.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from raftcron.errors import InvalidScheduleError
from raftcron.schedule import zones
from raftcron.schedule.fields import CronSpec
from raftcron.schedule.matcher import WallMatcher

_JUST_BEFORE = timedelta(microseconds=1)
# Bounds on the inner loops. Real time: one round per offset change crossed (a few a year);
# wall clock: one round per matching wall time already passed in a repeated hour (3,600 for
# a per-second expression). Either limit is only reached by a zone whose every matching time
# falls into gaps, which then has no fire.
_MAX_ROUNDS = 10_000


class CronRule:
    """`next_after` for one parsed cron expression in one zone."""

    __slots__ = ("_matcher", "_real_time", "_utc", "_zone")

    def __init__(self, spec: CronSpec, zone: ZoneInfo) -> None:
        self._matcher = WallMatcher(spec)
        if not self._matcher.can_fire():
            days = spec.days
            where = "day-of-week" if days.dom_all and not days.dow_all else "day-of-month"
            raise InvalidScheduleError(
                f"{where}: the schedule can never fire: no day in the given months matches "
                "day-of-month and day-of-week", field=where)
        self._zone = zone
        self._real_time = spec.real_time
        self._utc = zones.is_utc(zone)

    def next_after(self, instant: datetime) -> datetime | None:
        """The first fire strictly after `instant` (naive UTC), as naive UTC, or None."""
        if self._utc:
            return self._matcher.next_after(instant)
        if self._real_time:
            return self._next_real_time(instant)
        return self._next_wall_clock(instant)

    def _next_real_time(self, instant: datetime) -> datetime | None:
        # Between two offset changes, local = instant + offset is a bijection, so search the
        # wall times of the current stretch; if the candidate lies past the next change, the
        # stretch had no fire left: restart at the change with the new offset.
        zone, matcher = self._zone, self._matcher
        cur, bound = instant, instant
        for _ in range(_MAX_ROUNDS):
            offset = zones.offset_at(zone, cur)
            wall = matcher.next_after(bound + offset)
            if wall is None:
                return None
            candidate = wall - offset
            change = zones.first_transition(zone, cur, candidate)
            if change is None:
                return candidate
            # The change instant itself may fire (bound is just before it: "at or after").
            cur, bound = change[0], change[0] - _JUST_BEFORE
        return None

    def _next_wall_clock(self, instant: datetime) -> datetime | None:
        # resolve_wall is non-decreasing in the wall time, and every wall time up to the
        # current one resolves to at most `instant`, so the answer is the first later wall
        # time that resolves past `instant`. Only wall times inside a repeated hour (already
        # fired on the first pass) or in a gap (all fired at its end) are skipped over.
        zone, matcher = self._zone, self._matcher
        wall = zones.local_wall(zone, instant)
        for _ in range(_MAX_ROUNDS):
            found = matcher.next_after(wall)
            if found is None:
                return None
            fire = zones.resolve_wall(zone, found)
            if fire > instant:
                return fire
            wall = found
        return None
