"""`raftcron next EXPR`: print when a schedule fires next. A local tool: no cluster needed.

    raftcron next "0 30 2 * * *" --tz Europe/Berlin --count 3
    raftcron next "H H * * *" --name backup --after 2024-03-10T00:00:00Z
    raftcron next "0 9 * * mon-fri" "0 12 * * sat,sun"    # several: the union, each once

Prints the next `--count` (1-1000, default 5) fire times strictly after `--after` (default:
now), one per line, ISO 8601 with the zone's UTC offset and seconds always shown
(`2024-03-10T03:00:00-04:00`; microseconds only when a fire time has them). An `--after`
without a UTC offset is read as a wall time in `--tz` (the first occurrence, if the wall
time happens twice). `--name` seeds `H` fields; `--anchor` anchors `@every` (default: the
Unix epoch grid). An invalid expression, zone or option: a message naming it on stderr and
exit status 2. Fewer lines than `--count` mean the schedule has no more fires (an `@at`).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from raftcron.clock import SystemClock
from raftcron.errors import ValidationError
from raftcron.schedule import parse, validate_tz

MAX_COUNT = 1000


def add_arguments(parser: argparse.ArgumentParser, name: str | None) -> None:
    parser.description = "Print the next fire times of a schedule."
    parser.add_argument("expr", metavar="EXPR", nargs="+",
                        help='cron (5 or 6 fields, seconds first), @daily, "@every 10m", '
                             '"@at 2026-12-01T10:00:00Z" or \'{interval = "10m", reference = '
                             '"03:10"}\'; several: the union of their fire times')
    parser.add_argument("--tz", default="UTC", help="IANA time zone (default UTC)")
    parser.add_argument("--after", metavar="ISO8601",
                        help="print fires strictly after this time (default: now); without "
                             "an offset it is a wall time in --tz")
    parser.add_argument("--count", default="5", metavar="N",
                        help=f"how many fire times (1-{MAX_COUNT}, default 5)")
    parser.add_argument("--name", default="", metavar="JOB", help="job name (seeds H fields)")
    parser.add_argument("--anchor", metavar="ISO8601",
                        help="the job's start_at or creation time (anchors @every)")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON array of the times (nothing else on stdout)")


def run(args: argparse.Namespace) -> int:
    """Print the fire times; user errors raise `ValidationError` (the dispatcher exits 2)."""
    count = _count(args.count)
    zone = validate_tz(args.tz)
    after = _time(args.after, "after", zone) if args.after else SystemClock().now()
    anchor = _time(args.anchor, "anchor", zone) if args.anchor else None
    expr = args.expr[0] if len(args.expr) == 1 else list(args.expr)
    schedule = parse(expr, tz=args.tz, name=args.name, anchor=anchor)
    lines = []
    for fire in schedule.iter_after(after):
        lines.append(fire.isoformat(timespec="microseconds" if fire.microsecond else "seconds"))
        if len(lines) == count:
            break
    if args.json:
        print(json.dumps(lines))
    elif lines:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _count(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_COUNT:
        raise ValidationError(f"count: expected a whole number from 1 to {MAX_COUNT}, got "
                              f"{text!r}", field="count")
    return int(text)


def _time(text: str, field: str, zone: ZoneInfo) -> datetime:
    """ISO 8601 with an offset or `Z`; without one, a wall time in the schedule's zone."""
    s = text.strip()
    if s[-1:] in ("z", "Z"):
        s = s[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(s)
    except ValueError:
        raise ValidationError(f"{field}: {text!r} is not an ISO 8601 time like "
                              "2024-03-10T00:00:00Z", field=field) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValidationError(f"{field}: {text!r} is out of range", field=field) from None
