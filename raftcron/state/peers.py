"""Apply handler for what a peer announces about itself: put_peer (its API address).

Only the peer itself proposes its row (`daemon/announce.py`), once it has caught up and only
when the address differs from the state's. The address is the base URL another peer uses to
proxy a run's whole output to the peer that ran it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from raftcron.db.times import db_time
from raftcron.state.results import error, ok

_SCHEMES = ("http://", "https://")


def put_peer(conn: sqlite3.Connection, args: dict[str, Any]) -> dict[str, Any]:
    """Record `args["api"]` as peer `args["peer"]`'s API; a change bumps the row's `version`,
    the same address changes nothing."""
    peer, api = args["peer"], args["api"]
    if not api.startswith(_SCHEMES) or len(api) > 2048 or any(c.isspace() for c in api):
        return error("invalid_args", f"api: expected an http(s) base URL, got {api[:80]!r}",
                     field="api")
    row = conn.execute("SELECT api, version FROM peers WHERE id = ?", (peer,)).fetchone()
    if row is not None and row[0] == api:
        return ok(changed=False, version=row[1])
    at = db_time(args["at"], field="at")
    version = 1 if row is None else row[1] + 1
    conn.execute(
        "INSERT INTO peers (id, api, version, updated_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET api = excluded.api, version = excluded.version,"
        " updated_at = excluded.updated_at",
        (peer, api, version, at),
    )
    return ok(changed=True, version=version)
