"""Run routes: list, read, whole output (local or proxied), cancel.

The whole output of a run lives only on the peer that executed it
(`<data_dir>/output/<run_id>.stdout|.stderr`); any other peer proxies the request to that
peer's API, at the address that peer announced into the replicated state from its `--api`
(`Runtime.peer_apis`; raft port + 1000 only for a peer that never announced one). Only the
tails are replicated (`stdout_tail`, `stderr_tail` on the run itself).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from raftcron.api.http import HttpError, Request, Response, json_response, page, text_response
from raftcron.api.results import check_result
from raftcron.errors import ConflictError, RunNotFoundError, UnavailableError
from raftcron.executor.output import STREAMS, output_dir, output_path
from raftcron.model import ACTIVE_STATUSES, RunStatus

if TYPE_CHECKING:
    from raftcron.api.context import Runtime

log = logging.getLogger("raftcron.api")

_RUN_STATUSES = tuple(RunStatus)
_ACTIVE = tuple(sorted(ACTIVE_STATUSES))
#: Set on a proxied request so a peer never proxies it again (no loops).
PROXIED_HEADER = "X-Raftcron-Proxied"


async def list_runs(rt: Runtime, req: Request) -> Response:
    """`GET /runs?job=&status=&peer=&since=&until=&limit=&cursor=` -> a page, newest first."""
    status = req.choice_arg("status", _RUN_STATUSES)
    since = req.time_arg("since")
    until = req.time_arg("until")
    if since is not None and until is not None and since > until:
        raise HttpError(400, "until: must not be before since", field="until")
    limit = req.limit()
    peer = req.arg("peer") or None
    # Newest first comes straight from the (fired_at, id) and (job, fired_at, id) indexes;
    # a status or peer filter sorts every matching run, which is not for the loop.
    ordered = status is None and peer is None
    items, next_cursor = await rt.page(
        limit, ordered, rt.ctx.read.list_runs,
        job=req.arg("job") or None,
        status=status,
        peer=peer,
        since=req.arg("since") or None,
        until=req.arg("until") or None,
        limit=limit,
        cursor=req.arg("cursor") or None,
    )
    return json_response(page(items, next_cursor))


async def load_run(rt: Runtime, run_id: str) -> dict:
    """The run (a fresh dict: a primary-key lookup, read on the loop); 404 if none."""
    run = await rt.quick(rt.ctx.read.get_run, run_id)
    if run is None:
        raise RunNotFoundError(run_id)
    return run


async def get_run(rt: Runtime, req: Request) -> Response:
    """`GET /runs/{id}` -> the run, with the replicated tails of its output."""
    return json_response(await load_run(rt, req.params["id"]))


def _read_local(data_dir: Any, run_id: str) -> dict[str, str | None]:
    """Blocking: both output files of a run, None for a file that does not exist."""
    out: dict[str, str | None] = {}
    for stream in STREAMS:
        path = output_path(output_dir(data_dir), run_id, stream)
        try:
            out[stream] = path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            out[stream] = None
    return out


def _output_gone(run_id: str) -> HttpError:
    return HttpError(404, f"the output of run {run_id!r} is gone", field="output")


async def get_output(rt: Runtime, req: Request) -> Response:
    """`GET /runs/{id}/output[?stream=stdout|stderr]` -> the whole output.

    JSON `{"stdout": ..., "stderr": ...}` by default, text/plain when `stream` is given;
    404 when the run or its output is gone; 503 when the executing peer cannot be reached.
    """
    run_id = req.params["id"]
    stream = req.choice_arg("stream", STREAMS)
    run = await load_run(rt, run_id)
    peer = run.get("peer")
    if peer and peer != rt.ctx.self_id:
        if req.headers.get(PROXIED_HEADER):
            raise _output_gone(run_id)  # the run's peer does not think it ran it: no loop
        return await _proxy(rt, peer, run_id, stream)
    if not peer:
        raise HttpError(404, f"run {run_id!r} has not started on any peer", field="output")
    files = await rt.db(_read_local, rt.ctx.data_dir, run_id)
    # A stream's file is made with its first byte: no file at all is empty output for a run
    # still running or one that printed nothing, and gone (deleted) otherwise.
    silent = run.get("status") == "running" or (
        run.get("finished_at") and not run.get("output_bytes"))
    if all(v is None for v in files.values()) and not silent:
        raise _output_gone(run_id)
    if stream is not None:
        return text_response(files[stream] or "")
    return json_response({k: v or "" for k, v in files.items()})


async def _proxy(rt: Runtime, peer: str, run_id: str, stream: str | None) -> Response:
    base = (await rt.peer_apis()).get(peer)
    if not base:
        raise UnavailableError(f"the API of peer {peer!r}, which ran {run_id!r}, is not known")
    url = f"{base.rstrip('/')}/runs/{quote(run_id, safe='')}/output"
    if stream:
        url += f"?stream={stream}"
    try:
        status, content_type, body = await rt.fetch(url, rt.ctx.wait_timeout)
    except (OSError, TimeoutError) as exc:
        raise UnavailableError(f"peer {peer!r}, which ran {run_id!r}, is unreachable: "
                               f"{exc or type(exc).__name__}") from None
    if status >= 500:
        raise UnavailableError(f"peer {peer!r} answered {status} for the output of {run_id!r}")
    if status == 404:
        raise _output_gone(run_id)
    if status != 200:
        raise UnavailableError(f"peer {peer!r} answered {status} for the output of {run_id!r}")
    if stream is not None:
        return Response(status=200, body=body, content_type=content_type or "text/plain")
    try:
        return json_response(json.loads(body))
    except ValueError:
        raise UnavailableError(f"peer {peer!r} sent output that is not JSON") from None


async def cancel_run(rt: Runtime, req: Request) -> Response:
    """`POST /runs/{id}/cancel` -> 202 with the run; 409 when it is not active."""
    run_id = req.params["id"]
    run = await load_run(rt, run_id)
    # Without a key a finished run is refused here, with no log entry; with one, the state
    # decides (a retry of an applied cancel must get the first answer again).
    if req.idempotency_key() is None and run.get("status") not in _ACTIVE:
        raise ConflictError(f"run {run_id!r} is not active (status {run.get('status')})",
                            field="id")
    args = {"run_id": run_id, "at": rt.now_iso()}
    result = await rt.propose("cancel_run", args, req.idempotency_key())
    check_result(result, run=run_id)
    if run.get("peer") == rt.ctx.self_id and rt.ctx.cancel_local_run is not None:
        # The worker also reacts to the applied command; asking directly just saves a beat,
        # so a failure here is logged, not answered: the cancel is already committed.
        try:
            await rt.ctx.cancel_local_run(run_id)
        except Exception:
            log.exception("cancel_local_run(%s) failed", run_id)
    return json_response(await load_run(rt, run_id), status=202)
