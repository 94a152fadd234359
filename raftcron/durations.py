"""Durations and timestamps at the edges: `90s`, `1h30m`, ISO 8601 UTC strings.

Inside raftcron a duration is a `timedelta` and a time an aware UTC `datetime`; these are
the only conversions to and from the strings users write.

Bounds (the outer ones; a field may be narrower, see `model.job.DURATION_LIMITS`):

- a duration is at most `MAX_DURATION` (3660 days, about ten years: `@every 520w` is about
  the longest schedule a cron user plausibly wants) and at least 0; NaN and infinities are
  refused;
- a time is within [`MIN_TIME`, `MAX_TIME`] once converted to UTC: 1970-01-01T00:00:00Z to
  9999-12-31T23:59:59.999999Z. Earlier than the Unix epoch no cron job ever ran; later than
  year 9999 Python cannot represent (`9999-12-31T23:59:59-01:00` is in year 10000 in UTC).

Everything out of bounds is a `ValidationError` naming the field, never an `OverflowError`.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from raftcron.errors import OutOfRangeError, ValidationError

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"(?:\d+(?:ms|s|m|h|d|w))+")

#: The longest duration anything in raftcron accepts (about ten years).
MAX_DURATION = timedelta(days=3660)
#: The earliest and latest times accepted, in UTC.
MIN_TIME = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIME = datetime.max.replace(tzinfo=UTC)
# More digits than this in one part is out of range whatever the unit (and keeps int() of a
# 5000-digit string, which Python refuses with a ValueError of its own, out of the way).
_MAX_DIGITS = 12


def parse_duration(text: str | int | float, *, field: str = "duration",
                   maximum: timedelta = MAX_DURATION) -> timedelta:
    """`"90s"`, `"1h30m"`, `"2d"`, `"500ms"` (or a number of seconds) -> `timedelta`.

    Raises `ValidationError(field=field)` for anything else: negative values, NaN and
    infinities; `OutOfRangeError(field=field)` for anything longer than `maximum` (which is
    itself capped at `MAX_DURATION`).
    """
    if isinstance(text, bool):
        raise ValidationError(f"{field}: expected a duration like '90s', got {text!r}", field=field)
    if isinstance(text, int | float):
        if isinstance(text, float) and not math.isfinite(text):
            raise ValidationError(f"{field}: must be a finite number of seconds, got {text!r}",
                                  field=field)
        if text < 0:
            raise ValidationError(f"{field}: must not be negative", field=field)
        return _bounded(text, field, maximum)
    if not isinstance(text, str):
        raise ValidationError(f"{field}: expected a duration like '90s', got {text!r}", field=field)
    s = text.strip()
    seconds = _SECONDS.get(s)
    if seconds is not None:  # a batch of 1,000 jobs repeats a handful of durations
        return _bounded(seconds, field, maximum)
    if not s.isascii() or not _WHOLE.fullmatch(s):
        raise ValidationError(
            f"{field}: {text!r} is not a duration (use e.g. '90s', '5m', '1h30m', '2d')",
            field=field,
        )
    parts = _PART.findall(s)
    if any(len(n.lstrip("0")) > _MAX_DIGITS for n, _ in parts):
        raise _too_long(field, maximum)
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if len(_SECONDS) < _SECONDS_KEPT:
        _SECONDS[s] = seconds
    return _bounded(seconds, field, maximum)


#: Durations already read, as seconds (bounded; the bound is checked on every call).
_SECONDS: dict[str, float] = {}
_SECONDS_KEPT = 4096


def _too_long(field: str, maximum: timedelta) -> OutOfRangeError:
    limit = min(maximum, MAX_DURATION)
    return OutOfRangeError(f"{field}: longer than the maximum of {format_duration(limit)}",
                           field=field)


def _bounded(seconds: float, field: str, maximum: timedelta) -> timedelta:
    # Compared as a number first: timedelta(seconds=1e308) itself raises OverflowError.
    if seconds > min(maximum, MAX_DURATION).total_seconds():
        raise _too_long(field, maximum)
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


#: Texts already parsed (a command carries the same few times many times over: a batch's `at`,
#: its jobs' next slots). Only good ones, so an error always names its call's field; a
#: `datetime` is immutable, so sharing one is safe. Bounded: emptied when full.
_PARSED: dict[str, datetime] = {}
_PARSED_KEPT = 4096


def parse_time(text: str, *, field: str = "time") -> datetime:
    """An ISO 8601 time with an offset (or `Z`) -> aware UTC `datetime`.

    A time without an offset is refused: a naive time is ambiguous across peers. So is one
    outside [`MIN_TIME`, `MAX_TIME`] in UTC.
    """
    found = _PARSED.get(text) if type(text) is str else None
    if found is not None:
        return found
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
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # year 0 or 10000 once in UTC
        utc = None
    if utc is None or not MIN_TIME <= utc <= MAX_TIME:
        raise OutOfRangeError(
            f"{field}: {text!r} is out of range (times must lie between "
            "1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z in UTC)", field=field)
    if len(_PARSED) >= _PARSED_KEPT:
        _PARSED.clear()
    _PARSED[text] = utc
    return utc


def format_time(value: datetime) -> str:
    """Aware datetime -> ISO 8601 UTC with a `Z`, microseconds only when present."""
    if value.tzinfo is None:
        raise ValueError("format_time needs an aware datetime")
    v = value.astimezone(UTC)
    text = v.isoformat(timespec="microseconds" if v.microsecond else "seconds")
    return text.replace("+00:00", "Z")
