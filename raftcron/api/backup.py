"""`GET /backup`: a consistent copy of this peer's state, as one SQLite file.

The copy is SQLite's online backup of this peer's copy (`snapshot.backup_to`, the same code
that writes Raft snapshots): one read transaction, so it is consistent as of one applied
index, and apply keeps writing meanwhile (WAL). It is taken on the API's read pool, never on
the event loop, into a temporary file in the data directory (the same filesystem as the
state, not a possibly small /tmp). The file is opened and unlinked at once, so nothing is left
behind whatever happens next; aiohttp streams the open file in chunks and closes it.

The route needs the API token whenever one is configured, unlike other reads: a backup holds
every job's environment, secrets included. `?consistency=strong` first makes sure this peer
has applied everything committed before the request. `raftcron backup FILE` calls this;
`raftcron restore` turns the file into a new cluster's data directory (`raftcron.daemon.restore`).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import IO, TYPE_CHECKING

from raftcron.api.http import Request, Response
from raftcron.db import snapshot
from raftcron.db.sqlite import open_reader

if TYPE_CHECKING:
    from raftcron.api.context import Runtime

#: The media type of a backup (IANA registered for SQLite 3 databases).
MEDIA_TYPE = "application/vnd.sqlite3"


def take_backup(db_path: Path, work_dir: Path) -> IO[bytes]:
    """A consistent copy of the state at `db_path`, as an open file already unlinked."""
    tmp = Path(work_dir) / f".backup-{uuid.uuid4().hex}.sqlite3"
    source = open_reader(Path(db_path))
    try:
        snapshot.backup_to(source, tmp)
    finally:
        source.close()
    try:
        return open(tmp, "rb")  # the response closes it once sent
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


async def get_backup(rt: Runtime, req: Request) -> Response:
    """The state copy as `application/vnd.sqlite3` (see the module docstring)."""
    ctx = rt.ctx
    copy = await rt.db(take_backup, ctx.read.path, ctx.data_dir)
    name = f"raftcron-{ctx.self_id.replace(':', '_')}.sqlite3"
    return Response(status=200, body=copy, content_type=MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
