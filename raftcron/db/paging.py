"""The parameters of a paginated list read: `limit`, the opaque `cursor`, a `status` filter.

Contract: `limit` is None (`DEFAULT_LIMIT`) or an int in 1..`MAX_LIMIT`; a cursor is URL-safe
base64 (unpadded) of the JSON list of the last row's sort key, every element a string, and
`decode_cursor` accepts only that shape and size. A page reads `limit + 1` rows: `_page`
keeps `limit` of them and gives the cursor of the last one kept only when more remain. Bad
parameters raise `ValidationError` naming the parameter (`limit`, `cursor`, `status`).
Pure functions; no SQL (`queries` and the other `*_queries` modules build it).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from typing import Any

from raftcron.errors import ValidationError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def _limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit: expected an integer 1..{MAX_LIMIT}, got {limit!r}",
                              field="limit")
    return limit


def encode_cursor(key: list[Any]) -> str:
    raw = json.dumps(key, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    """The sort key inside a cursor this module made; `ValidationError(field="cursor")` else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        key = None
    if not isinstance(key, list) or len(key) != size or not all(isinstance(k, str) for k in key):
        raise ValidationError("cursor: not a cursor returned by this list", field="cursor")
    return key


def _page(rows: list[dict], limit: int, key_of: Callable[[dict], list[Any]],
          shape: Callable[[dict], dict]) -> tuple[list[dict], str | None]:
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(key_of(rows[-1])) if more and rows else None
    return [shape(r) for r in rows], next_cursor


def _statuses(value: str | Iterable[str] | None, allowed: frozenset[str]) -> list[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    for item in items:
        if item not in allowed:
            raise ValidationError(
                f"status: {item!r} is not one of {', '.join(sorted(allowed))}", field="status"
            )
    return items
