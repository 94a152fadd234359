"""Reads of the audit history (`state/history.py` writes it): one job's or node's changes.

Newest first, paged by the row id (`cursor`), every entry as the API serves it:
`{"version", "op", "at", "by", "changes"}` (`changes` null for a creation or a deletion).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from raftcron.db.paging import _limit, _page, decode_cursor
from raftcron.db.times import api_time
from raftcron.errors import ValidationError

if TYPE_CHECKING:
    from raftcron.db.sqlite import Database

__all__ = ["history"]


def history(db: Database, kind: str, name: str, *, limit: int | None = None,
            cursor: str | None = None) -> tuple[list[dict], str | None]:
    """The history of the job or node `name` (`kind` "job" or "node"), newest first."""
    n = _limit(limit)
    params: dict[str, Any] = {"kind": kind, "name": name, "n": n + 1}
    where = ""
    if cursor is not None:
        where = " AND id < :before"
        before = decode_cursor(cursor, 1)[0]
        if not before.isdigit():
            raise ValidationError("cursor: not a cursor returned by this list", field="cursor")
        params["before"] = int(before)
    rows = list(db.query(
        "SELECT id, version, op, at, by, changes FROM history WHERE kind = :kind AND"
        f" name = :name{where} ORDER BY id DESC LIMIT :n", params))
    return _page(rows, n, lambda r: [str(r["id"])], _entry)


def _entry(row: dict) -> dict:
    return {"version": row["version"], "op": row["op"], "at": api_time(row["at"]),
            "by": row["by"], "changes": json.loads(row["changes"]) if row["changes"] else None}
