"""`GET /runs/{id}/output/stream`: a run's output followed live, as newline-delimited JSON.

Served by the peer that runs it (it reads the run's output files as they grow: they are
written unbuffered), proxied chunk by chunk by any other peer (the same addresses as
`GET /runs/{id}/output`). Each line is one JSON object:

- `{"stream": "stdout"|"stderr", "offset": N, "data": "..."}`: the bytes of that file from
  byte `offset` on (decoded as UTF-8, a character split across reads kept for the next);
- `{"heartbeat": true}` every `HEARTBEAT` seconds without output (keeps proxies open);
- `{"done": true, "status", "exit_code", "reason"}` last, once the run has ended and both
  files are read to their end;
- or `{"more": true, "stdout_offset": N, "stderr_offset": N}` last, when the stream has
  lasted `MAX_FOLLOW` seconds with the run still active: ask again from those offsets.

`?stdout_offset=` and `?stderr_offset=` resume a broken stream where it stopped. A fetch()
can read it with a token in its headers (an EventSource could not send one). 404 when the
run does not exist or has not started yet (no peer: ask again), or its output is gone.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from raftcron.api.http import HttpError, Request, Response
from raftcron.api.runs import PROXIED_HEADER, load_run
from raftcron.errors import UnavailableError
from raftcron.executor.output import STREAMS, output_dir, output_path
from raftcron.model import ACTIVE_STATUSES

if TYPE_CHECKING:
    from raftcron.api.context import Runtime

log = logging.getLogger("raftcron.api")

MEDIA_TYPE = "application/x-ndjson"
#: How often the files and the run's status are looked at while it is active, in seconds.
POLL = 0.25
#: Seconds without output before a heartbeat line.
HEARTBEAT = 10.0
#: Largest `data` of one line, in bytes read.
CHUNK = 64 * 1024
#: Longest one stream lasts, in seconds: then it ends with `{"more": true}` and the client
#: asks again from its offsets (a forgotten tab does not hold a connection for ever).
MAX_FOLLOW = 600.0
#: The key under which `app.py` puts the streaming GET to another peer.
OPENER = "open_stream"


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _read_from(path: Path, offset: int) -> bytes:
    """Blocking: up to CHUNK bytes of `path` from `offset` (b"" when none or no file)."""
    try:
        with path.open("rb") as f:
            if offset >= os.fstat(f.fileno()).st_size:
                return b""  # nothing new (an offset past the end, however large, included)
            f.seek(offset)
            return f.read(CHUNK)
    except FileNotFoundError:
        return b""


class _Follower:
    """The local files of one run, read from where the client left off."""

    def __init__(self, data_dir: Any, run_id: str, offsets: dict[str, int]) -> None:
        self.paths = {s: output_path(output_dir(data_dir), run_id, s) for s in STREAMS}
        self.offsets = dict(offsets)
        self.decoders = {s: codecs.getincrementaldecoder("utf-8")("replace") for s in STREAMS}

    def exists(self) -> bool:
        return any(p.exists() for p in self.paths.values())

    async def drain(self) -> AsyncIterator[bytes]:
        """Lines for everything the files hold now beyond the offsets."""
        for stream in STREAMS:
            while True:
                data = await asyncio.to_thread(_read_from, self.paths[stream],
                                               self.offsets[stream])
                if not data:
                    break
                text = self.decoders[stream].decode(data)
                offset = self.offsets[stream]
                self.offsets[stream] += len(data)
                if text:
                    yield _line({"stream": stream, "offset": offset, "data": text})
                if len(data) < CHUNK:
                    break


def _offsets(req: Request) -> dict[str, int]:
    return {s: req.int_arg(f"{s}_offset", default=0, minimum=0) or 0 for s in STREAMS}


async def stream_output(rt: Runtime, req: Request) -> Response:
    """`GET /runs/{id}/output/stream` -> NDJSON lines until the run ends (module doc)."""
    run_id = req.params["id"]
    offsets = _offsets(req)
    run = await load_run(rt, run_id)
    peer = run.get("peer")
    if not peer:
        raise HttpError(404, f"run {run_id!r} has not started on any peer", field="output")
    if peer != rt.ctx.self_id:
        if req.headers.get(PROXIED_HEADER):
            raise HttpError(404, f"the output of run {run_id!r} is gone", field="output")
        return await _proxy(rt, peer, run_id, offsets)
    follower = _Follower(rt.ctx.data_dir, run_id, offsets)
    if run.get("status") not in ACTIVE_STATUSES and not follower.exists():
        raise HttpError(404, f"the output of run {run_id!r} is gone", field="output")
    return Response(status=200, body=_follow(rt, run_id, follower), content_type=MEDIA_TYPE,
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _follow(rt: Runtime, run_id: str, follower: _Follower) -> AsyncIterator[bytes]:
    quiet = 0.0
    until = time.monotonic() + MAX_FOLLOW
    while True:
        run = await load_run(rt, run_id)
        ended = run.get("status") not in ACTIVE_STATUSES
        sent = False
        async for line in follower.drain():
            sent = True
            yield line
        if ended:  # read after the status said so: the files were complete by then
            yield _line({"done": True, "status": run.get("status"),
                         "exit_code": run.get("exit_code"), "reason": run.get("reason")})
            return
        if time.monotonic() >= until:
            yield _line({"more": True, **{f"{s}_offset": n
                                          for s, n in follower.offsets.items()}})
            return
        quiet = 0.0 if sent else quiet + POLL
        if quiet >= HEARTBEAT:
            quiet = 0.0
            yield _line({"heartbeat": True})
        await asyncio.sleep(POLL)


async def _proxy(rt: Runtime, peer: str, run_id: str, offsets: dict[str, int]) -> Response:
    base = (await rt.peer_apis()).get(peer)
    opener = rt.extras.get(OPENER)
    if not base or opener is None:
        raise UnavailableError(f"the API of peer {peer!r}, which ran {run_id!r}, is not known")
    query = urlencode({f"{s}_offset": n for s, n in offsets.items()})
    url = f"{base.rstrip('/')}/runs/{quote(run_id, safe='')}/output/stream?{query}"
    try:
        status, chunks = await opener(url, rt.ctx.wait_timeout)
    except (OSError, TimeoutError) as exc:
        raise UnavailableError(f"peer {peer!r}, which ran {run_id!r}, is unreachable: "
                               f"{exc or type(exc).__name__}") from None
    if status != 200:
        if status == 404:
            raise HttpError(404, f"the output of run {run_id!r} is gone", field="output")
        raise UnavailableError(f"peer {peer!r} answered {status} for the output of {run_id!r}")
    return Response(status=200, body=chunks, content_type=MEDIA_TYPE,
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
