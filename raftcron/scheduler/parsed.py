"""Parsed schedules, shared: thousands of jobs use a few expressions, so each is parsed once.

`default_parse` is how a stored job's schedule is read (the expanded text the state froze at
put time); `ParsedSchedules` remembers its results, least recently used dropped first. The
expanded text has no `H` left, so the job name does not matter; the creation time does only
for the anchored forms (`@every`, `{interval, reference}`). A parsed schedule is immutable but
for caches of its own, so one may serve any number of jobs and threads. `SHARED` serves the
API (`next_runs`, the proposer's `next`); the leader's job table keeps one of its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from raftcron.planning.slots import ScheduleLike

#: Parsed schedules kept per cache (least recently used go first).
PARSED_CACHE = 4096

#: (what the user wrote, the expanded text, tz, job name, start_at, created_at) -> a schedule.
ParseFn = Callable[[Any, "str | None", str, str, "datetime | None", "datetime | None"],
                   ScheduleLike]


def default_parse(schedule: Any, expanded: str | None, tz: str, name: str,
                  start_at: datetime | None, created_at: datetime | None) -> ScheduleLike:
    """`schedule.parse` on the expanded text the state froze at put time (H already fixed; the
    `{interval, reference}` form has a text form too), anchored for `@every` at `start_at`
    (itself a slot) or else at the job's creation."""
    from raftcron import schedule as sched

    expr = expanded if isinstance(expanded, str) and expanded else schedule
    return sched.parse(expr, tz=tz, name=name, anchor=start_at or created_at,
                       anchor_is_slot=start_at is not None)


class ParsedSchedules:
    """`parse`'s results, at most `size` of them; safe to share between threads."""

    def __init__(self, parse: ParseFn = default_parse, size: int = PARSED_CACHE) -> None:
        self._parse = parse
        self._size = size
        self._kept: OrderedDict[tuple, ScheduleLike] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, schedule: Any, expanded: str | None, tz: str, name: str,
            start_at: datetime | None, created_at: datetime | None) -> ScheduleLike:
        """The schedule `parse` gives for these arguments; raises as `parse` does (an error is
        not kept)."""
        text = expanded if isinstance(expanded, str) and expanded else repr(schedule)
        anchored = "@every" in text or "{" in text or isinstance(schedule, Mapping)
        key = (text, repr(schedule), tz, start_at, created_at if anchored else None)
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
                return found
        found = self._parse(schedule, expanded, tz, name, start_at, created_at)
        with self._lock:
            self._kept[key] = found
            if len(self._kept) > self._size:
                self._kept.popitem(last=False)  # least recently used
        return found


#: The API's cache (the leader's table has its own, with the parse function it was given).
SHARED = ParsedSchedules()
