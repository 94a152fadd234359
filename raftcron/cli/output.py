"""What the client subcommands print: JSON (with `--json`: JSON only, nothing else on stdout),
tables and lines for people, and times as a person reads them.

Times for people: whole seconds (an `@every` slot is anchored to the millisecond the job was
created; the API keeps the fraction, a table drops it), and a job's times in the job's own
time zone, named next to them (`2030-01-01 02:30:00 Europe/Berlin`).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


def print_json_line(value: Any) -> None:
    """One JSON value on one line (a stream of them is JSON Lines)."""
    print(json.dumps(value, sort_keys=True, ensure_ascii=False), flush=True)


def emit(as_json: bool, value: Any, line: str) -> None:
    """The API's JSON with --json, else one human line."""
    if as_json:
        print_json(value)
    else:
        print(line)


def table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [header] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
                     for r in cells)


def _parse(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def utc_time(text: Any) -> str:
    """An API time for people in UTC: `2030-01-01T01:30:00Z`, without a fraction of a second
    ("-" for none; anything that is not a time unchanged)."""
    if not text:
        return "-"
    value = _parse(str(text))
    if value is None:
        return str(text)
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def zone_time(text: Any, tz: str | None) -> str:
    """An API time in the zone `tz`, named: `2030-01-01 02:30:00 Europe/Berlin`; whole
    seconds ("-" for none)."""
    if not text:
        return "-"
    value = _parse(str(text))
    if value is None:
        return str(text)
    name = tz or "UTC"
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        zone, name = ZoneInfo("UTC"), "UTC"
    local = value.astimezone(zone).replace(microsecond=0)
    return f"{local.strftime('%Y-%m-%d %H:%M:%S')} {name}"


def run_outcome(run: dict) -> str:
    """`run ID failed (exit 4): REASON`: the status, the exit code when there is one, and
    the reason the run records (a timeout, a lost peer, no eligible target, ...)."""
    text = f"run {run.get('id')} {run.get('status')}"
    if run.get("exit_code") is not None:
        text += f" (exit {run['exit_code']})"
    if run.get("reason"):
        text += f": {run['reason']}"
    return text


def stderr_tail(run: dict, lines: int = 5) -> None:
    """The last lines of a failed run's replicated stderr tail, on stderr (for people)."""
    tail = (run.get("stderr_tail") or "").rstrip("\n").splitlines()[-lines:]
    for line in tail:
        print(f"  | {line}", file=sys.stderr)
