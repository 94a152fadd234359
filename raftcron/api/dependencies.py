"""Write-time checks of `after` and `on_failure`, and the backfill routes.

- `check_graph`: before a job (or a `jobs:batch`) is proposed, its `after` and `on_failure`
  must name existing jobs (or jobs of the same batch) and close no cycle; a 400 names the
  jobs (`planning.dependencies.check_graph`). A job deleted later leaves its dependents
  waiting (their `after` is never complete) until they are changed.
- `POST /jobs/{name}/backfill {"from", "to", "cap"}`: every slot of the job's schedule in
  `[from, to]` (`to` not in the future), oldest first, at most `cap` (default 1,000): over
  it, a 400 says how many slots the range holds. The API computes the slots, the `backfill`
  command carries them, and the leader fires them one after the other under the job's
  concurrency policy (`scheduler.triggers`). 202 with the backfill.
- `GET /jobs/{name}/backfills`: the job's backfills, oldest first, with how many slots fired.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from raftcron import schedule
from raftcron.api import nextfire
from raftcron.api.http import Request, Response, json_response
from raftcron.api.jobview import load_job
from raftcron.api.results import check_result
from raftcron.durations import format_time, parse_time
from raftcron.errors import ConflictError, ValidationError
from raftcron.model.commands_v4 import VERSION
from raftcron.planning.dependencies import DEFAULT_CAP, MAX_CAP, TooManySlots, backfill_slots
from raftcron.planning.dependencies import check_graph as check_jobs

if TYPE_CHECKING:
    from raftcron.api.context import Runtime

BACKFILL_FIELDS = ("from", "to", "cap")


async def check_graph(rt: Runtime, jobs: Iterable[Mapping[str, Any]]) -> None:
    """400 when a job's `after`/`on_failure` names a missing job or itself, or closes a cycle."""
    jobs = list(jobs)
    if not any(j.get("after") or j.get("on_failure") for j in jobs):
        return  # nothing to check, nothing read
    graph = dict(await rt.db(rt.ctx.read.graph_jobs))
    for job in jobs:  # a batch may name its own jobs
        graph[str(job["name"])] = (list(job.get("after") or ()), list(job.get("on_failure") or ()))
    for job in jobs:
        check_jobs(str(job["name"]), list(job.get("after") or ()),
                   list(job.get("on_failure") or ()), graph)


async def start_backfill(rt: Runtime, req: Request) -> Response:
    """`POST /jobs/{name}/backfill` -> 202 `{id, job, total, done, slots}`."""
    name = req.params["name"]
    body = req.object_body()
    unknown = sorted(set(body) - set(BACKFILL_FIELDS))
    if unknown:
        raise ValidationError(f"{unknown[0]}: unknown field", field=unknown[0])
    for key in ("from", "to"):
        if not isinstance(body.get(key), str):
            raise ValidationError(f"{key}: an ISO 8601 time is required", field=key)
    start = parse_time(body["from"], field="from")
    end = parse_time(body["to"], field="to")
    cap = body.get("cap", DEFAULT_CAP)
    if type(cap) is not int or not 1 <= cap <= MAX_CAP:
        raise ValidationError(f"cap: expected an integer from 1 to {MAX_CAP}", field="cap")
    now = rt.ctx.clock.now()
    if end > now:
        raise ValidationError("to: must not be in the future (a backfill runs past slots)",
                              field="to")
    job = await rt.db(load_job, rt.ctx.read, name)
    created = job.get("start_at") or job.get("created_at")
    sched = schedule.parse(job.get("expanded_schedule") or job["schedule"],
                           tz=job.get("tz") or "UTC", name=name,
                           anchor=parse_time(created) if created else None)
    try:
        slots = backfill_slots(sched, start, end, cap)
    except TooManySlots as exc:
        raise ValidationError(exc.message, field="to") from None
    if not slots:
        raise ValidationError("to: the job's schedule has no slot from `from` to `to`",
                              field="to")
    if not nextfire.gate(rt).reads(VERSION):
        raise ConflictError(f"backfill needs every peer to read command version {VERSION}; "
                            "upgrade the cluster first", field="name")
    args = {"id": uuid.uuid4().hex, "job": name, "slots": [format_time(s) for s in slots],
            "at": rt.now_iso()}
    result = await rt.propose("backfill", args, req.idempotency_key())
    check_result(result, job=name)
    return json_response({"id": result.get("id", args["id"]), "job": name,
                          "total": len(slots), "done": 0, "slots": args["slots"]}, status=202)


async def list_backfills(rt: Runtime, req: Request) -> Response:
    """`GET /jobs/{name}/backfills` -> `{"items": [...]}`, oldest first."""
    name = req.params["name"]
    await rt.db(load_job, rt.ctx.read, name)  # 404 for an unknown job
    items = await rt.db(rt.ctx.read.backfills, job=name)
    return json_response({"items": items})
