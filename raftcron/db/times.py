"""Times as the SQLite copy stores them: one fixed-width UTC form.

`format_time` writes `2024-01-01T00:00:00Z` for a whole second and `...00.500000Z` otherwise;
as strings those sort wrongly (`.` < `Z`). The copy stores `2024-01-01T00:00:00.000000Z`
instead, so string order is time order for the fence and for every `ORDER BY`, and reads turn
it back into the `format_time` form. Pure; used inside apply.
"""

from __future__ import annotations

from datetime import UTC

from raftcron.durations import format_time, parse_time

#: Texts already turned into their stored form: a batch of 1,000 puts shares one `at` and a few
#: hundred next times, a batch of run records a handful of times. Pure, so the same on every
#: peer; bounded: emptied when full.
_STORED: dict[str, str] = {}
_STORED_KEPT = 4096


def db_time(text: str, *, field: str = "time") -> str:
    """An ISO 8601 time (any offset, any precision) -> the fixed-width UTC form stored.

    Raises `ValidationError(field=field)` when `text` is not a time with an offset (a bad
    text is never remembered, so the error always names this call's field).
    """
    found = _STORED.get(text) if type(text) is str else None
    if found is None:
        value = parse_time(text, field=field).astimezone(UTC).replace(tzinfo=None)
        found = value.isoformat(timespec="microseconds") + "Z"
        if len(_STORED) >= _STORED_KEPT:
            _STORED.clear()
        _STORED[text] = found
    return found


def api_time(stored: str | None) -> str | None:
    """The stored form -> `format_time`'s (`Z`, microseconds only when present)."""
    if stored is None:
        return None
    # String surgery on the one shape db_time writes; it is on every row of every read.
    if len(stored) == 27 and stored[19] == "." and stored[26] == "Z":
        return stored[:19] + "Z" if stored[20:26] == "000000" else stored
    return format_time(parse_time(stored))
