"""The dashboard's summary reads: one request per view refresh.

- `GET /dashboard/jobs?q=&status=&label=&role=&limit=&cursor=`: a page of jobs matching the
  search (`q`: name or description, case-insensitive) and filters, each with `next_run`, its
  last 20 outcomes (`outcomes`, newest first), plus the number of jobs in each status
  (`counts`, over the cluster) and `total`. One read of the copy (`ReadDb.dashboard_jobs`).
- `GET /dashboard/jobs/{name}`: the job (as `GET /jobs/{name}`), its next ten fire times
  with jitter (`fire_times`: `{"slot", "fire_at"}`), its newest runs (`runs`) and its newest
  skipped or missed slots with their reasons (`missed`).
- `GET /dashboard/runs/{id}`: the run and its retry chain (`chain`, first attempt first).
- `GET /dashboard/cluster`: `/status` and `/nodes` in one answer (`status`, `nodes`), and
  each other peer's own `/status` as this peer fetches it (`peers`: its term, applied index,
  load as it sees them; `{"error"}` when it cannot be reached, which is the reachability).

Env values are redacted as everywhere else (`jobview.redact`).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from raftcron.api import nodes, status
from raftcron.api.http import Request, Response, json_response
from raftcron.api.jobview import load_job, next_run, next_runs, public, redact, with_next_runs
from raftcron.api.runs import load_run
from raftcron.durations import format_time, parse_time
from raftcron.errors import RaftcronError
from raftcron.model import JobStatus
from raftcron.planning.job_plan import JobPlan
from raftcron.schedule.jitter import jitter

if TYPE_CHECKING:
    from datetime import datetime

    from raftcron.api.context import Runtime
    from raftcron.db.reader import ReadDb

#: Fire times `GET /dashboard/jobs/{name}` shows.
FIRE_TIMES = 10
#: Runs, and skipped/missed slots, `GET /dashboard/jobs/{name}` shows.
JOB_RUNS = 50
MISSED = 20
_STATUSES = tuple(JobStatus)
#: Page size of the jobs list when `limit` is not given.
PAGE = 50
#: How long the cluster view waits for another peer's `/status`, in seconds.
PEER_TIMEOUT = 2.0


async def jobs_page(rt: Runtime, req: Request) -> Response:
    """`GET /dashboard/jobs` -> `{"items", "next_cursor", "counts", "total"}`."""
    filters = {
        "q": (req.arg("q") or "").strip() or None,
        "status": req.choice_arg("status", _STATUSES),
        "role": req.arg("role") or None,
        "label": req.label_arg(),
        "limit": req.int_arg("limit", default=PAGE, minimum=1, maximum=1000),
        "cursor": req.arg("cursor") or None,
    }
    answer = await rt.db(rt.ctx.read.dashboard_jobs, **filters)
    now = rt.ctx.clock.now()
    items = []
    for job in answer["items"]:
        entry = redact(public(job), reveal=req.sees_secrets)
        entry["next_run"] = next_run(job, now)
        items.append(entry)
    return json_response({**answer, "items": items})


def fire_times(job: dict, now: datetime, count: int = FIRE_TIMES) -> list[dict[str, str]]:
    """The next `count` slots of `job` and when each fires (slot + its jitter, as the leader
    computes it: `schedule.jitter`, bounded by the gap to the next slot)."""
    slots = next_runs(job, now, count=count + 1)
    try:
        plan = JobPlan.of(job)
    except RaftcronError:
        return [{"slot": s, "fire_at": s} for s in slots[:count]]
    out = []
    times = [parse_time(s) for s in slots]
    for i, slot in enumerate(times[:count]):
        nxt = times[i + 1] if i + 1 < len(times) else None
        delay = jitter(plan.name, slot, plan.jitter, nxt) if plan.jitter else None
        fire = slot + delay if delay else slot
        out.append({"slot": slots[i], "fire_at": format_time(fire)})
    return out


def _job_reads(read: ReadDb, name: str) -> tuple[dict, list[dict], list[dict]]:
    job = load_job(read, name)
    runs = read.job_runs(name, JOB_RUNS)
    missed, _ = read.list_runs(job=name, status=["skipped", "missed"], limit=MISSED)
    return job, runs, list(missed)


async def job_page(rt: Runtime, req: Request) -> Response:
    """`GET /dashboard/jobs/{name}` -> the job with `fire_times`, `runs`, `missed`."""
    job, runs, missed = await rt.db(_job_reads, rt.ctx.read, req.params["name"])
    now = rt.ctx.clock.now()
    out = redact(with_next_runs(job, now), reveal=req.sees_secrets)
    out["fire_times"] = fire_times(job, now)
    out["runs"] = runs
    out["missed"] = missed
    return json_response(out)


async def run_page(rt: Runtime, req: Request) -> Response:
    """`GET /dashboard/runs/{id}` -> the run with `chain` (its retry chain)."""
    run = await load_run(rt, req.params["id"])
    run["chain"] = await rt.db(rt.ctx.read.retry_chain, run["id"])
    return json_response(run)


async def _peer_status(rt: Runtime, peer: str, base: str | None) -> dict[str, Any]:
    """Another peer's own `/status` (its role, term, indices, load), or why not."""
    if not base:
        return {"error": "its API address is not known"}
    try:
        code, _, body = await rt.fetch(f"{base.rstrip('/')}/status", PEER_TIMEOUT)
        if code != 200:
            return {"error": f"answered {code}"}
        found = json.loads(body)
        return found if isinstance(found, dict) else {"error": "answered something else"}
    except (OSError, TimeoutError, ValueError) as exc:
        return {"error": f"unreachable: {exc or type(exc).__name__}"}


async def cluster(rt: Runtime, req: Request) -> Response:
    """`GET /dashboard/cluster` -> `{"status": GET /status, "nodes": GET /nodes items,
    "peers": {id: that peer's own GET /status, or {"error"}}}`."""
    st: Any = (await status.get_status(rt, req)).body
    listed: Any = (await nodes.list_nodes(rt, req)).body
    apis = await rt.peer_apis()
    others = [str(p.get("id")) for p in st.get("peers") or ()
              if isinstance(p, dict) and p.get("id") != rt.ctx.self_id]
    found = await asyncio.gather(*(_peer_status(rt, p, apis.get(p)) for p in others))
    peers = {rt.ctx.self_id: st, **dict(zip(others, found, strict=True))}
    return json_response({"status": st, "nodes": listed["items"], "peers": peers})
