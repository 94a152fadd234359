"""Durations and timestamps at the edges: `90s`, `1h30m`, ISO 8601 UTC strings.

Inside raftcron a duration is a `timedelta` and a time an aware UTC `datetime`; these are
the only conversions to and from the strings users write.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from raftcron.errors import ValidationError

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"(?:\d+(?:ms|s|m|h|d|w))+")


def parse_duration(text: str | int | float, *, field: str = "duration") -> timedelta:
    """`"90s"`, `"1h30m"`, `"2d"`, `"500ms"` (or a number of seconds) -> `timedelta`.

    Raises `ValidationError(field=field)` for anything else, including negative values.
    """
    if isinstance(text, bool):
        raise ValidationError(f"{field}: expected a duration like '90s', got {text!r}", field=field)
    if isinstance(text, int | float):
        if text < 0:
            raise ValidationError(f"{field}: must not be negative", field=field)
        return timedelta(seconds=text)
    if not isinstance(text, str):
        raise ValidationError(f"{field}: expected a duration like '90s', got {text!r}", field=field)
    s = text.strip()
    if not s.isascii() or not _WHOLE.fullmatch(s):
        raise ValidationError(
            f"{field}: {text!r} is not a duration (use e.g. '90s', '5m', '1h30m', '2d')",
            field=field,
        )
    seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(s))
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest string `parse_duration` reads back to `delta` (whole milliseconds)."""
    ms = round(delta.total_seconds() * 1000)
    if ms == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        n, ms = divmod(ms, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)


def parse_time(text: str, *, field: str = "time") -> datetime:
    """An ISO 8601 time with an offset (or `Z`) -> aware UTC `datetime`.

    A time without an offset is refused: a naive time is ambiguous across peers.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(f"{field}: expected an ISO 8601 time, got {text!r}", field=field)
    s = text.strip()
    if s.endswith(("z", "Z")):
        s = s[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(s)
    except ValueError:
        raise ValidationError(f"{field}: {text!r} is not an ISO 8601 time", field=field) from None
    if value.tzinfo is None:
        raise ValidationError(
            f"{field}: {text!r} has no UTC offset (add 'Z' or '+01:00')", field=field
        )
    return value.astimezone(UTC)


def format_time(value: datetime) -> str:
    """Aware datetime -> ISO 8601 UTC with a `Z`, microseconds only when present."""
    if value.tzinfo is None:
        raise ValueError("format_time needs an aware datetime")
    v = value.astimezone(UTC)
    text = v.isoformat(timespec="microseconds" if v.microsecond else "seconds")
    return text.replace("+00:00", "Z")
