"""`POST /jobs/{name}/run`: a manual run, placed like a scheduled one and fired through Raft.

The API chooses everything the command carries (run id, slot = now, attempt 1, the peer and
target from `placement.choose_targets` over the reachable peers and healthy nodes), so apply
stays deterministic. A manual record is not fenced by the job's cursor and does not count
toward `max_runs`. A retry with the same Idempotency-Key returns the run of the first try.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from raftcron.api.cluster import view
from raftcron.api.http import Request, Response, json_response
from raftcron.api.jobview import load_job
from raftcron.api.results import check_result
from raftcron.api.runs import load_run
from raftcron.durations import format_time
from raftcron.errors import ConflictError, UnavailableError
from raftcron.planning.job_plan import JobPlan
from raftcron.planning.placement import choose_targets, loads

if TYPE_CHECKING:
    from raftcron.api.context import Runtime
    from raftcron.db.reader import ReadDb

#: Assignments this recent count toward the tie-break (fewest recent assignments wins).
RECENT_WINDOW = timedelta(minutes=10)


async def run_now(rt: Runtime, req: Request) -> Response:
    """`POST /jobs/{name}/run` -> 202 with the new run; 404 no job; 409 nowhere to run it."""
    name = req.params["name"]
    now = rt.ctx.clock.now()
    since = format_time(now - RECENT_WINDOW)

    def gather(read: ReadDb) -> tuple[dict, list, list, dict]:
        job = load_job(read, name)
        nodes, _ = read.list_nodes(limit=1000)
        return job, read.active_runs(), nodes, read.recent_assignments(since)

    job, active, nodes, recent = await rt.db(gather, rt.ctx.read)
    extra = (rt.ctx.extra_status() or {}) if rt.ctx.extra_status is not None else {}
    cluster = view(rt.ctx.self_id, rt.status(), nodes, extra)
    pairs = choose_targets(JobPlan.of(job), cluster.peers, cluster.nodes, loads(active), recent,
                           "any", slot=now)
    if not pairs:
        raise ConflictError(f"no eligible peer or node can run job {name!r} now", field="roles")
    peer, target = pairs[0]
    stamp = format_time(now)
    record = {
        "run_id": uuid.uuid4().hex, "job": name, "slot": stamp, "attempt": 1, "peer": peer,
        "target": target, "status": "pending", "reason": "manual", "manual": True,
        "retry_of": None, "fired_at": stamp,
    }
    result = await rt.propose("fire", {"runs": [record], "at": stamp}, req.idempotency_key())
    check_result(result, job=name)
    accepted = result.get("accepted") or []
    if not accepted:
        why = ", ".join(sorted(set((result.get("fence_reasons") or {}).values()))) or "refused"
        raise ConflictError(f"the manual run of {name!r} was refused: {why}", field="name")
    run_id = accepted[0]
    try:
        run = await load_run(rt, run_id)
    except LookupError:
        # Applied here but pruned or deleted since: the write happened, report what we sent.
        raise UnavailableError(f"run {run_id!r} was accepted but cannot be read back") from None
    return json_response(run, status=202)
