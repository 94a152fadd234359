"""Several schedules as one: a job whose `schedule` is a list fires at the union of their slots.

`parse_union(exprs, ...)` parses each expression with `parser.parse` (the same zone, job name
and anchor) and returns one `Schedule` whose rule is the earliest next fire of its parts, so an
instant two parts share is one slot, fired once. The union's text form is the parts' expanded
texts joined by a newline (`SEPARATOR`): no single schedule may contain a control character
(`parser.parse` refuses it), so the joined text parses back to the same union. That text is
what the state stores as a job's expanded schedule, so every place that parses a stored
schedule (the leader's job table, the API's next runs, the notifier) reads a list for free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from raftcron.errors import InvalidScheduleError
from raftcron.schedule.core import Rule, Schedule

#: Joins the parts' texts in a union's `expanded` (a character no schedule can contain).
SEPARATOR = "\n"
#: The most schedules one job may have.
MAX_PARTS = 32


class UnionRule:
    """The earliest next fire of several rules (naive UTC in, naive UTC out)."""

    __slots__ = ("_rules",)

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._rules = tuple(rules)

    def next_after(self, instant: datetime) -> datetime | None:
        best: datetime | None = None
        for rule in self._rules:
            found = rule.next_after(instant)
            if found is not None and (best is None or found < best):
                best = found
        return best


def parse_union(exprs: Sequence[Any], *, parse_one: Any, tz: str, name: str,
                anchor: datetime | None, anchor_is_slot: bool) -> Schedule:
    """One `Schedule` for the list `exprs` (each a string or an interval mapping).

    Raises `InvalidScheduleError` with `field` `schedule.<i>` (or the cron field at fault,
    prefixed by it in the message) for the first part that does not parse, and for an empty
    list or more than `MAX_PARTS` parts.
    """
    if not exprs:
        raise InvalidScheduleError("schedule: an empty list has no slots", field="schedule")
    if len(exprs) > MAX_PARTS:
        raise InvalidScheduleError(
            f"schedule: at most {MAX_PARTS} schedules, got {len(exprs)}", field="schedule")
    parts: list[Schedule] = []
    for i, expr in enumerate(exprs):
        if isinstance(expr, str) and SEPARATOR in expr:
            raise InvalidScheduleError(f"schedule.{i}: a line break inside one schedule",
                                       field=f"schedule.{i}")
        if not isinstance(expr, str | Mapping):
            raise InvalidScheduleError(
                f"schedule.{i}: expected a cron expression or a mapping, got "
                f"{type(expr).__name__}", field=f"schedule.{i}")
        try:
            parts.append(parse_one(expr, tz=tz, name=name, anchor=anchor,
                                   anchor_is_slot=anchor_is_slot))
        except InvalidScheduleError as exc:
            field = exc.field if exc.field == "tz" else f"schedule.{i}"
            raise InvalidScheduleError(f"schedule.{i}: {exc}", field=field) from None
    if len(parts) == 1:
        return parts[0]
    return Schedule(
        source=[p.source for p in parts],  # type: ignore[arg-type]
        expanded=SEPARATOR.join(p.expanded for p in parts),
        tz=tz, zone=parts[0].zone, kind="union",
        rule=UnionRule([p._rule for p in parts]),
        one_shot=all(p.one_shot for p in parts),
    )
