"""The dashboard's reads: a filtered page of jobs with each one's last outcomes, and counts.

One call answers one refresh of the jobs list (`GET /dashboard/jobs`), inside one read
transaction: the page (by name, through the primary key, so a page stops scanning once it
is full), the newest `STRIP` runs of each job on it (the `(job, fired_at, id)` index, one
short query per job), and the number of jobs in each status (the `(status, next_fire_at)`
index). The text search (`q`) matches the name or description (case-insensitive for ASCII
letters); it scans in name order, so a query matching few of 100,000 jobs reads them all once
per page (about 60 ms: a plain LIKE on the stored row rejects most without parsing JSON).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from raftcron.db.paging import _limit, _statuses, decode_cursor, encode_cursor
from raftcron.db.queries import _RUN_COLUMNS, NEWEST_FIRST, job_dict, run_dict
from raftcron.errors import ValidationError
from raftcron.model import JOB_STATUSES

if TYPE_CHECKING:
    from raftcron.db.sqlite import Database

#: Outcomes shown per job in the list's strip.
STRIP = 20
#: Longest search text accepted.
MAX_QUERY = 200
#: A status held by at least 1/COMMON_SHARE of the jobs is filtered in name order.
COMMON_SHARE = 50
_STRIP_COLUMNS = "id, status, slot, fired_at, started_at, finished_at, exit_code, reason"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search(q: str, params: dict[str, Any]) -> str:
    """The condition for text `q` in the name or description. LIKE is case-insensitive for
    ASCII letters. A raw `spec LIKE` first rejects most rows without parsing their JSON; it
    cannot miss a match (the spec holds the description verbatim: `ensure_ascii=False`)
    unless `q` holds a character JSON escapes, and then it is left out."""
    if len(q) > MAX_QUERY:
        raise ValidationError(f"q: at most {MAX_QUERY} characters", field="q")
    params["q"] = f"%{_escape_like(q)}%"
    description = "json_extract(spec, '$.description') LIKE :q ESCAPE '\\'"
    if '"' in q or "\\" in q or not q.isprintable():
        return f"(name LIKE :q ESCAPE '\\' OR {description})"
    return f"(name LIKE :q ESCAPE '\\' OR (spec LIKE :q ESCAPE '\\' AND {description}))"


def _filters(q: str | None, status: str | None, role: str | None, label: str | None,
             params: dict[str, Any], counts: dict[str, int]) -> list[str]:
    where: list[str] = []
    if q:
        where.append(_search(q, params))
    statuses = _statuses(status, JOB_STATUSES)
    if statuses:
        params["status"] = statuses[0]
        # A common status: walk the names in order and stop when the page is full (`+`
        # keeps SQLite off the status index); a rare one: its few rows through the index.
        common = counts.get(statuses[0], 0) * COMMON_SHARE >= sum(counts.values())
        where.append("+status = :status" if common else "status = :status")
    if role:
        where.append("EXISTS (SELECT 1 FROM json_each(jobs.spec, '$.roles') WHERE value = :role)")
        params["role"] = role
    if label:
        key, sep, value = label.partition("=")
        if not key:
            raise ValidationError("label: expected key:value or key", field="label")
        cond = "key = :lkey" + (" AND value = :lvalue" if sep else "")
        where.append(f"EXISTS (SELECT 1 FROM json_each(jobs.spec, '$.labels') WHERE {cond})")
        params.update(lkey=key, lvalue=value)
    return where


def job_page(db: Database, *, q: str | None = None, status: str | None = None,
             role: str | None = None, label: str | None = None, limit: int | None = None,
             cursor: str | None = None, strip: int = STRIP) -> dict[str, Any]:
    """`{"items", "next_cursor", "counts", "total"}`: jobs by name matching every filter given,
    each with `outcomes` (its newest `strip` runs, newest first); `counts` is status -> jobs
    over the whole cluster (not filtered) and `total` their sum."""
    n = _limit(limit)
    params: dict[str, Any] = {"n": n + 1}
    db.conn.execute("BEGIN")  # one read transaction: the page, strips and counts agree
    try:
        counts = {r["status"]: r["n"] for r in db.query(
            "SELECT status, count(*) AS n FROM jobs GROUP BY status")}
        where = _filters(q, status, role, label, params, counts)
        if cursor:
            where.append("name > :after")
            params["after"] = decode_cursor(cursor, 1)[0]
        sql = "SELECT * FROM jobs" + (" WHERE " + " AND ".join(where) if where else "")
        rows = list(db.query(sql + " ORDER BY name LIMIT :n", params))
        more = len(rows) > n
        rows = rows[:n]
        items = []
        for row in rows:
            job = job_dict(row)
            job["outcomes"] = [
                _short(r) for r in db.query(
                    f"SELECT {_STRIP_COLUMNS} FROM runs WHERE job = ? {NEWEST_FIRST} LIMIT ?",
                    [row["name"], strip])]
            items.append(job)
    finally:
        db.conn.execute("COMMIT")
    next_cursor = encode_cursor([rows[-1]["name"]]) if more and rows else None
    return {"items": items, "next_cursor": next_cursor,
            "counts": {s: counts.get(s, 0) for s in sorted(JOB_STATUSES)},
            "total": sum(counts.values())}


def _short(row: dict[str, Any]) -> dict[str, Any]:
    full = {**{c: None for c in _RUN_COLUMNS.replace(" ", "").split(",")}, **row,
            "manual": 0, "cancel_requested": 0}
    out = run_dict(full)
    return {k: out[k] for k in row}


def job_runs(db: Database, job: str, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` runs of `job` (every status, skipped and missed included)."""
    sql = f"SELECT {_RUN_COLUMNS} FROM runs WHERE job = ? {NEWEST_FIRST} LIMIT ?"
    return [run_dict(r) for r in db.query(sql, [job, limit])]


def retry_chain(db: Database, run_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """Every run in `run_id`'s retry chain, first attempt first: the runs it retried (by
    `retry_of`) and those that retried it."""
    cols = f"SELECT {_RUN_COLUMNS} FROM runs"
    first = run_id
    seen = {run_id}
    for _ in range(limit):
        row = db.execute("SELECT retry_of FROM runs WHERE id = ?", [first]).fetchone()
        if not row or not row[0] or row[0] in seen:
            break
        first = row[0]
        seen.add(first)
    chain = [run_dict(r) for r in db.query(f"{cols} WHERE id = ?", [first])]
    while chain and len(chain) < limit:
        nxt = list(db.query(f"{cols} WHERE retry_of = ? ORDER BY attempt LIMIT 1",
                            [chain[-1]["id"]]))
        if not nxt or nxt[0]["id"] in {r["id"] for r in chain}:
            break
        chain.append(run_dict(nxt[0]))
    return chain
