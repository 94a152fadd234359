"""Field-by-field checks shared by the job, node and cluster-config validators.

Every function takes the value as it came from JSON or TOML and the dotted name of the field
(`notify.webhook`, `nodes.1.ssh_host`), and either returns the value in its inside form or
raises `ValidationError(field=<that name>)` with a message that starts with the field name.
Nothing here knows about jobs or nodes; it only knows what a well-formed value looks like.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from raftcron.durations import MAX_DURATION, format_duration, parse_duration, parse_time
from raftcron.errors import OutOfRangeError, ValidationError

E = TypeVar("E", bound=StrEnum)

#: Names of jobs, nodes and roles: start with a letter or digit, then letters, digits, `._-`.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def fail(field: str, problem: str) -> ValidationError:
    """The error for `field`: the message names the field first, as the CLI prints it."""
    return ValidationError(f"{field}: {problem}", field=field)


def sub(prefix: str, key: str | int) -> str:
    """`sub("notify", "email")` -> `notify.email`; an empty prefix gives the key alone."""
    return f"{prefix}.{key}" if prefix else str(key)


def _kind(value: object) -> str:
    names = {dict: "a table/object", list: "a list", str: "a string", bool: "a boolean",
             int: "an integer", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def check_keys(
    data: Mapping[str, Any], allowed: Iterable[str], *, prefix: str = "",
    ignored: Iterable[str] = (),
) -> None:
    """Refuse any key of `data` not in `allowed` (keys in `ignored` pass and are dropped later).

    A typo must not silently drop a policy, so the error names the key and, when one is
    close, the key that was probably meant.
    """
    names = allowed if isinstance(allowed, frozenset) else frozenset(allowed)
    ignored = set(ignored)
    for key in data:
        if key in names or key in ignored:
            continue
        if not isinstance(key, str):
            raise fail(prefix or "(root)", f"keys must be strings, got {key!r}")
        # difflib breaks ties by the text, so the set's order does not show in the hint.
        hint = difflib.get_close_matches(key, sorted(names), n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise fail(sub(prefix, key), f"unknown field{extra}")


def mapping(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise fail(field, f"expected a table/object, got {_kind(value)}")
    return value


def string(
    value: object, field: str, *, allow_empty: bool = False, max_len: int = 4096,
    pattern: re.Pattern[str] | None = None, what: str = "",
) -> str:
    """A string without NUL characters; `pattern` must match the whole of it."""
    if not isinstance(value, str):
        raise fail(field, f"expected a string, got {_kind(value)}")
    if not value and not allow_empty:
        raise fail(field, "must not be empty")
    if "\x00" in value:
        raise fail(field, "must not contain NUL characters")
    if len(value) > max_len:
        raise fail(field, f"longer than {max_len} characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise fail(field, f"{value!r} is not {what or 'valid'}")
    return value


def opt_string(value: object, field: str, **kwargs: Any) -> str | None:
    return None if value is None else string(value, field, **kwargs)


def name(value: object, field: str = "name") -> str:
    """A job, node or role name: `[A-Za-z0-9][A-Za-z0-9._-]{0,127}`."""
    return string(
        value, field, max_len=128, pattern=NAME_RE,
        what="a valid name (letters, digits, '.', '_', '-'; starting with a letter or digit; "
             "at most 128 characters)",
    )


def resource_name(value: Any, written_as: str | None, kind: str) -> str:
    """The `name` of a job or node body, reconciled with the name it is written under (the
    path or file stem): either may be missing, but not both, and they must agree."""
    if value is None:
        if written_as is None:
            raise fail("name", f"a {kind} needs a name")
        return name(written_as, "name")
    resolved = name(value, "name")
    if written_as is not None and written_as != resolved:
        raise fail("name",
                   f"{resolved!r} does not match the {kind} being written ({written_as!r})")
    return resolved


def boolean(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise fail(field, f"expected true or false, got {_kind(value)}")
    return value


def integer(value: object, field: str, *, minimum: int, maximum: int) -> int:
    """An integer within [minimum, maximum]: not a boolean, not a float (even `3.0`)."""
    # bool is an int in Python; `retries = true` is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(field, f"expected an integer, got {_kind(value)}")
    if not minimum <= value <= maximum:
        raise fail(field, f"must be between {minimum} and {maximum}, got {value}")
    return value


def opt_integer(value: object, field: str, *, minimum: int, maximum: int) -> int | None:
    return None if value is None else integer(value, field, minimum=minimum, maximum=maximum)


def number(value: object, field: str, *, minimum: float = 0.0,
           maximum: float = 1e9) -> float:
    """A finite number (int or float) within [minimum, maximum], as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(field, f"expected a number, got {_kind(value)}")
    # A huge int has no float (OverflowError), so compare before converting; NaN and the
    # infinities fail `isfinite`.
    if isinstance(value, float) and not math.isfinite(value):
        raise fail(field, f"must be a finite number, got {value}")
    if not minimum <= value <= maximum:
        raise fail(field, f"must be between {minimum:g} and {maximum:g}, got {value}")
    return float(value)


def duration(value: object, field: str, *, maximum: timedelta | None = None) -> timedelta:
    """`"90s"`, `"1h30m"` or a number of seconds, rounded to whole milliseconds.

    At most `maximum` when given (never more than `durations.MAX_DURATION`). Rounding keeps
    `format_duration` (which writes whole milliseconds) an exact inverse, so a job survives
    a round trip through its canonical form unchanged.
    """
    limit = MAX_DURATION if maximum is None else min(maximum, MAX_DURATION)
    if type(value) is str:
        # A batch of 1,000 jobs repeats a handful of durations (every default among them):
        # the checked result of a (text, limit) pair is kept. Errors are not (they raise).
        key = (value, limit)
        found = _DURATIONS.get(key)
        if found is None:
            found = _checked_duration(value, field, limit)
            if len(_DURATIONS) < _DURATIONS_KEPT:
                _DURATIONS[key] = found
        return found
    return _checked_duration(value, field, limit)


#: (text, limit) -> the duration `duration` returned for it (bounded: only the first ones).
_DURATIONS: dict[tuple[str, timedelta], timedelta] = {}
_DURATIONS_KEPT = 4096


def _checked_duration(value: object, field: str, limit: timedelta) -> timedelta:
    if isinstance(value, timedelta):
        delta = value
        if delta < timedelta(0):
            raise fail(field, "must not be negative")
    elif isinstance(value, str | int | float):
        delta = parse_duration(value, field=field, maximum=limit)
    else:
        raise fail(field, f"expected a duration like '90s', got {_kind(value)}")
    if delta > limit:  # a timedelta given as such; parse_duration checked the rest
        raise OutOfRangeError(f"{field}: longer than the maximum of {format_duration(limit)}",
                              field=field)
    return timedelta(milliseconds=round(delta / timedelta(milliseconds=1)))


def opt_duration(value: object, field: str, *,
                 maximum: timedelta | None = None) -> timedelta | None:
    return None if value is None else duration(value, field, maximum=maximum)


def time(value: object, field: str) -> datetime | None:
    """An ISO 8601 time with an offset, or an aware `datetime` (TOML writes those); or None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise fail(field, "has no UTC offset (add 'Z' or '+01:00')")
        return parse_time(value.isoformat(), field=field)
    if not isinstance(value, str):
        raise fail(field, f"expected an ISO 8601 time, got {_kind(value)}")
    return parse_time(value, field=field)


def choice(value: object, enum: type[E], field: str) -> E:
    """One of the values of a `StrEnum`; the error lists them all."""
    if isinstance(value, str):
        try:
            return enum(value)
        except ValueError:
            pass
    allowed = ", ".join(repr(m.value) for m in enum)
    raise fail(field, f"expected one of {allowed}, got {value!r}")


def string_list(
    value: object, field: str, *, item: Any = None, unique: bool = True,
) -> list[str]:
    """A list of strings; `item(value, field)` checks each one (default: non-empty string)."""
    if not isinstance(value, list | tuple):
        raise fail(field, f"expected a list, got {_kind(value)}")
    check = item or string
    out = [check(v, sub(field, i)) for i, v in enumerate(value)]
    if unique:
        seen: set[str] = set()
        for i, v in enumerate(out):
            if v in seen:
                raise fail(sub(field, i), f"{v!r} is listed twice")
            seen.add(v)
    return out


def argv(value: object, field: str) -> list[str] | str:
    """A command: an argv list (no shell) or one string (for `/bin/sh -c`)."""
    if isinstance(value, str):
        if not value.strip():
            raise fail(field, "must not be empty")
        return string(value, field, max_len=65536)
    if not isinstance(value, list | tuple):
        raise fail(field, f"expected an argv list or a string, got {_kind(value)}")
    if not value:
        raise fail(field, "an argv list must not be empty")
    out = [string(v, sub(field, i), allow_empty=True, max_len=65536) for i, v in enumerate(value)]
    if not out[0]:
        raise fail(sub(field, 0), "the program must not be empty")
    return out


def string_map(
    value: object, field: str, *, key_re: re.Pattern[str], key_what: str,
    max_value: int = 65536,
) -> dict[str, str]:
    """A table of string -> string with keys matching `key_re`."""
    data = mapping(value, field)
    out: dict[str, str] = {}
    for key, val in data.items():
        if not isinstance(key, str):
            raise fail(field, f"keys must be strings, got {key!r}")
        string(key, sub(field, key), max_len=256, pattern=key_re, what=key_what)
        out[key] = string(val, sub(field, key), allow_empty=True, max_len=max_value)
    return out


_HOST_RE = re.compile(r"[A-Za-z0-9_.-]+|[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?")


def host_port(text: object, field: str, *, need_port: bool) -> tuple[str, int | None]:
    """`"host:port"`, `"[::1]:port"`, or (unless `need_port`) a bare host or IPv6 literal.

    Returns `(host, port)` with the brackets of an IPv6 literal removed; the port is None when
    the text has none. The port must be 1..65535.
    """
    value = string(text, field, max_len=300)
    host, port_text = value, None
    if value.startswith("["):
        close = value.find("]")
        if close < 0:
            raise fail(field, f"{value!r}: unclosed '[' in an IPv6 address")
        host, rest = value[1:close], value[close + 1:]
        if rest:
            if not rest.startswith(":"):
                raise fail(field, f"{value!r}: expected ':port' after ']'")
            port_text = rest[1:]
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    # More than one ':' without brackets is an IPv6 literal without a port.
    if not host or not _HOST_RE.fullmatch(host):
        raise fail(field, f"{value!r}: {host!r} is not a host name or address")
    if port_text is None:
        if need_port:
            raise fail(field, f"{value!r}: expected host:port (e.g. 127.0.0.1:7100)")
        return host, None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise fail(field, f"{value!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def format_host_port(host: str, port: int) -> str:
    """The inverse of `host_port`: brackets around an IPv6 literal."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
