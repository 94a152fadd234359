"""`parse`: any schedule text (or the distcrond mapping) -> `Schedule`, or a refusal naming
the field at fault."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from raftcron.errors import InvalidScheduleError
from raftcron.schedule.core import Schedule
from raftcron.schedule.cron import CronRule
from raftcron.schedule.fields import parse_cron
from raftcron.schedule.interval import at_rule, every_rule, mapping_from_text, mapping_rule
from raftcron.schedule.union import SEPARATOR, parse_union
from raftcron.schedule.zones import validate_tz

MAX_LENGTH = 256
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def _fail(problem: str, field: str = "schedule") -> InvalidScheduleError:
    return InvalidScheduleError(f"{field}: {problem}", field=field)


def parse(expr: str | Mapping[str, str] | Sequence[Any], *, tz: str = "UTC", name: str = "",
          anchor: datetime | None = None, anchor_is_slot: bool = False) -> Schedule:
    """Parse a schedule. Pure: no clock, no I/O.

    `expr`: five- or six-field cron (seconds first), a macro (`@daily`...), `@every DURATION`,
    `@at ISO8601-with-offset`, or distcrond's `{"interval": "10m", "reference": "03:10"}` as a
    mapping or as the text `{interval = "10m", reference = "03:10"}`. `tz`: IANA zone name.
    `name`: the job name, which seeds `H` items. `anchor`: the job's `start_at`, else its
    creation time (aware), used by `@every`; `anchor_is_slot` makes the anchor itself the
    first slot (pass True when the anchor is `start_at`).

    A list (or tuple) of such expressions, or their texts joined by a newline (a union's
    `expanded`), is several schedules: the union of their slots, each slot once
    (`union.parse_union`).

    Raises `InvalidScheduleError` whose `field` (and the message's first word) is the cron
    field at fault (`second`, `minute`, `hour`, `day-of-month`, `month`, `day-of-week`),
    `interval`/`reference` for the mapping, `tz`, or `schedule` for the expression as a whole.
    """
    if isinstance(expr, list | tuple) or _joined(expr):
        parts = expr.split(SEPARATOR) if isinstance(expr, str) else list(expr)
        validate_tz(tz)
        return parse_union(parts, parse_one=parse, tz=tz, name=name, anchor=anchor,
                           anchor_is_slot=anchor_is_slot)
    zone = validate_tz(tz)
    if not isinstance(name, str):
        raise TypeError("name must be a string")
    anchor_utc = _anchor(anchor)
    if isinstance(expr, Mapping):
        rule, text = mapping_rule(expr, zone, anchor_utc, anchor_is_slot)
        return Schedule(source=expr, expanded=text, tz=tz, zone=zone, kind="interval",
                        rule=rule)
    if not isinstance(expr, str):
        raise _fail(f"expected a cron expression or a mapping, got {type(expr).__name__}")
    text = _check_text(expr)
    if text.startswith("{"):
        rule, _ = mapping_rule(mapping_from_text(text), zone, anchor_utc, anchor_is_slot)
        return Schedule(source=expr, expanded=expr, tz=tz, zone=zone, kind="interval",
                        rule=rule)
    if text.startswith("@"):
        return _macro(expr, text, tz=tz, zone=zone, name=name, anchor=anchor_utc,
                      anchor_is_slot=anchor_is_slot)
    expanded, rule = _cron(text, name if _HASHED_ITEM.search(text) else "", zone)
    return Schedule(source=expr, expanded=expr if expanded == text else expanded, tz=tz,
                    zone=zone, kind="cron", rule=rule)


def _joined(expr: object) -> bool:
    """A union's stored text: parts joined by newlines, none empty (a stray newline is a
    control character, refused as such)."""
    return isinstance(expr, str) and SEPARATOR in expr and all(
        p.strip() for p in expr.split(SEPARATOR))


def _macro(expr: str, text: str, *, tz: str, zone: ZoneInfo, name: str,
           anchor: datetime | None, anchor_is_slot: bool) -> Schedule:
    word, _, rest = text.partition(" ")
    word = word.lower()
    if word == "@every":
        if not rest.strip():
            raise _fail("@every needs a duration, like '@every 10m'")
        rule = every_rule(rest, anchor, anchor_is_slot)
        return Schedule(source=expr, expanded=expr, tz=tz, zone=zone,
                        kind="every", rule=rule)
    if word == "@at":
        if not rest.strip():
            raise _fail("@at needs a time, like '@at 2026-12-01T10:00:00Z'")
        return Schedule(source=expr, expanded=expr, tz=tz, zone=zone,
                        kind="at", rule=at_rule(rest), one_shot=True)
    if word == "@reboot":
        raise _fail("@reboot is not supported: a cluster has no single boot to run at")
    if word not in MACROS:
        raise _fail(f"unknown macro {word!r} (expected one of {', '.join(MACROS)}, "
                    "@every or @at)")
    if rest.strip():
        raise _fail(f"{word} takes nothing after it, got {rest.strip()!r}")
    _, rule = _cron(MACROS[word], "", zone)
    return Schedule(source=expr, expanded=expr, tz=tz, zone=zone, kind="cron", rule=rule)


# An H item starts the field or follows a comma; names like `thu` never start with H.
_HASHED_ITEM = re.compile(r"(?:^|[ ,])[Hh]")


@lru_cache(maxsize=4096)
def _cron(text: str, name: str, zone: ZoneInfo) -> tuple[str, CronRule]:
    """Parsed and compiled once per (text, zone) and shared: a `CronRule` is immutable but
    for its cache of matching days, which every schedule with the same text may use. `name`
    is "" unless the text has an H item, so thousands of jobs on `0 * * * *` share one rule."""
    spec = parse_cron(text, name=name)
    return spec.expanded, CronRule(spec, zone)


def _check_text(expr: str) -> str:
    """Refuse what no schedule can contain; return the text stripped of outer spaces."""
    if len(expr) > MAX_LENGTH:
        raise _fail(f"longer than {MAX_LENGTH} characters")
    if not (expr.isascii() and expr.isprintable()):
        for ch in expr:
            if not ch.isascii():
                raise _fail(f"non-ASCII character {ch!r} (digits and names must be plain ASCII)")
            if not ch.isprintable():
                raise _fail(f"control character {ch!r} (separate fields with single spaces)")
    text = expr.strip(" ")
    if not text:
        raise _fail("empty schedule")
    upper = text.upper()
    if upper.startswith(("TZ=", "CRON_TZ=")):
        raise _fail("a TZ= or CRON_TZ= prefix is not supported; give the zone in the tz field",
                    field="schedule")
    return text


def _anchor(anchor: datetime | None) -> datetime | None:
    if anchor is None:
        return None
    if not isinstance(anchor, datetime) or anchor.tzinfo is None:
        raise ValueError("anchor must be an aware datetime")
    return anchor.astimezone(UTC).replace(tzinfo=None)
