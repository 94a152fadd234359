"""Job routes: list, create, read, replace, delete, pause, resume.

Writes validate with `model.job_from_dict` (unknown fields refused, each error naming its
field), expand the schedule with `schedule.parse` (so the H fields are fixed once, by the
proposer, and every peer stores the same expansion) and propose `put_job`. The answer is
sent after the command is applied on this peer, so the caller reads its own write here.

Who may write what: a privileged job (root, or another user than the daemon's) needs the
admin token (`raftcron.model.privilege`, 403 naming `user`). Secrets: `env` values are answered as
`"***"` to a caller without a valid token (`jobview.redact`); a write that sends `"***"` for
a key keeps the value stored under that key, so a redacted GET can be PUT back unchanged (a
`"***"` for a key the job does not have yet is refused: 400 naming `env.KEY`).

A job a file in `--jobs-dir` defines (`managed_by` "file:<file>") cannot be replaced or
deleted here: 409 naming the file (the state refuses it too, so a stale copy changes nothing).
Pause, resume and run-now are operational and allowed on it.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Any

from raftcron import model, schedule
from raftcron.api import actor, blackouts, dependencies, group_commit, nextfire
from raftcron.api.http import HttpError, Request, Response, json_response, page
from raftcron.api.jobview import (
    REDACTED,
    after_now,
    load_job,
    next_run,
    public,
    redact,
    with_next_runs,
)
from raftcron.api.results import check_result
from raftcron.durations import format_time, parse_time
from raftcron.errors import ConflictError, JobNotFoundError, ValidationError
from raftcron.model import JobStatus, privilege

if TYPE_CHECKING:
    from raftcron.api.context import Runtime
    from raftcron.db.reader import ReadDb

_JOB_STATUSES = tuple(JobStatus)


async def list_jobs(rt: Runtime, req: Request) -> Response:
    """`GET /jobs?status=&role=&label=k:v&limit=&cursor=` -> a page of jobs, each with its
    `next_run` and `last_run`."""
    status = req.choice_arg("status", _JOB_STATUSES)
    role = req.arg("role") or None
    label = req.label_arg()
    limit = req.limit()
    cursor = req.arg("cursor") or None
    # Only the name order (the primary key) stops after a page: a filter reads every match.
    ordered = status is None and role is None and label is None
    items, next_cursor, last_runs = await rt.page(
        limit, ordered, _page_with_last_runs, rt.ctx.read,
        status=status, role=role, label=label, limit=limit, cursor=cursor,
    )
    now = rt.ctx.clock.now()
    ahead = after_now(now)
    reveal = req.sees_secrets
    out = []
    for item in items:
        entry = redact(public(item), reveal=reveal)
        entry["next_run"] = next_run(item, now, ahead)
        entry["last_run"] = last_runs.get(item["name"])
        out.append(entry)
    return json_response(page(out, next_cursor))


def _page_with_last_runs(read: ReadDb, **filters: Any) -> tuple[list[dict], str | None, dict]:
    """One page of jobs and the newest run of each (two statements)."""
    items, next_cursor = read.list_jobs(**filters)
    return items, next_cursor, read.last_runs([item["name"] for item in items])


async def job_view(rt: Runtime, name: str, req: Request) -> dict:
    """The job as answered to `req` (env values redacted unless it carries a token)."""
    job = await rt.quick(load_job, rt.ctx.read, name)
    return redact(with_next_runs(job, rt.ctx.clock.now()), reveal=req.sees_secrets)


async def get_job(rt: Runtime, req: Request) -> Response:
    """`GET /jobs/{name}` -> the job with `status`, `next_runs`, `last_run`, `counts`."""
    return json_response(await job_view(rt, req.params["name"], req))


async def keep_redacted(rt: Runtime, job: model.Job) -> model.Job:
    """`restore_redacted` with the stored job read from this peer's copy (only when `job`
    holds a `"***"`)."""
    if not _redacted_keys(job) and job.notify.webhook_secret != REDACTED:
        return job
    return restore_redacted(job, await rt.quick(rt.ctx.read.get_job, job.name))


def _redacted_keys(job: model.Job) -> list[str]:
    return [k for k, v in job.env.items() if v == REDACTED]


def restore_redacted(job: model.Job, stored: dict | None) -> model.Job:
    """`job` with each `"***"` (an `env` value, `notify.webhook_secret`) replaced by the value
    `stored` (the job as the copy holds it, None: none) has for it: a client may send back
    what it read. A `"***"` with nothing stored under it is a 400 naming the field."""
    hidden = _redacted_keys(job)
    secret_hidden = job.notify.webhook_secret == REDACTED
    if not hidden and not secret_hidden:
        return job
    stored_env = (stored or {}).get("env") or {}
    env = dict(job.env)
    for key in hidden:
        if key not in stored_env:
            raise ValidationError(
                f"env.{key}: {REDACTED!r} stands for a hidden value, and job {job.name!r} has "
                "none stored under this key: send the value itself", field=f"env.{key}")
        env[key] = stored_env[key]
    notify = job.notify
    if secret_hidden:
        kept = ((stored or {}).get("notify") or {}).get("webhook_secret")
        if not kept:
            raise ValidationError(
                f"notify.webhook_secret: {REDACTED!r} stands for a hidden value, and job "
                f"{job.name!r} has none stored: send the secret itself",
                field="notify.webhook_secret")
        notify = dataclasses.replace(notify, webhook_secret=kept)
    return dataclasses.replace(job, env=env, notify=notify)


def _from_body(body: dict, name: str | None) -> model.Job:
    """Validate a job body. The seed-002 form (`executable`, `type`) is accepted too."""
    if "executable" in body:
        from raftcron.config import (
            cluster as config,  # only the seed-002 form needs the config layer
        )

        return config.job_from_distributed_cronjob(body)
    return model.job_from_dict(body, name=name)


def put_args(rt: Runtime, req: Request, job: model.Job, *, create_only: bool,
             now: datetime | None = None) -> dict:
    """The `put_job` command arguments for a validated job (docs/api.md, modules.md).
    `now`: the proposer's time (read from its clock when not given; a batch reads it once)."""
    job_dict = model.job_to_dict(job)
    ctx = rt.ctx
    decision = privilege.decide(job_dict.get("user"), ctx.identity, is_admin=req.admin,
                                admin_configured=ctx.tokens.admin_configured,
                                allow_privileged=ctx.allow_privileged_jobs,
                                unprivileged_users=ctx.unprivileged_users)
    if not decision.allowed:
        raise HttpError(403, decision.message or "user: needs the admin token", field="user")
    now = now or rt.ctx.clock.now()
    start_at = job_dict.get("start_at")
    anchor = parse_time(start_at, field="start_at") if start_at else now
    expanded = schedule.parse(
        job_dict["schedule"], tz=job_dict.get("tz") or "UTC", name=job_dict["name"], anchor=anchor
    ).expanded
    args = actor.stamp(rt, req, {"job": job_dict, "expanded": expanded, "at": format_time(now),
                                 "create_only": create_only})
    blackouts.check_job_version(rt, args)
    return args


async def _stored(rt: Runtime, name: str) -> dict | None:
    """The job as this peer's copy holds it (None: no such job); read once per request."""
    return await rt.quick(rt.ctx.read.get_job, name)


def _precheck(req: Request, name: str, stored: dict | None, *, want: bool) -> None:
    """Refuse a plain miss or conflict without a log entry.

    Only without an Idempotency-Key: a retry of a write that was applied must get the stored
    result from the state, not an error from this check.
    """
    if req.idempotency_key() is not None:
        return
    if want and stored is None:
        raise JobNotFoundError(name)
    if not want and stored is not None:
        raise ConflictError(f"a job named {name!r} already exists", field="name")


def _refuse_managed(req: Request, name: str, stored: dict | None) -> None:
    """409 for a file-managed job, without a log entry (the state would refuse it anyway)."""
    if req.idempotency_key() is not None:
        return
    owner = (stored or {}).get("managed_by")
    if owner:
        raise ConflictError(f"job {name!r} is defined by file {owner.removeprefix('file:')} in "
                            "--jobs-dir; edit the file", field="name")


async def create_job(rt: Runtime, req: Request) -> Response:
    """`POST /jobs` -> 201 with the job; 409 if the name exists."""
    body = req.object_body()
    job = await keep_redacted(rt, _from_body(body, None))
    args = put_args(rt, req, job, create_only=True)
    stored = await _stored(rt, job.name)
    _precheck(req, job.name, stored, want=False)
    await dependencies.check_graph(rt, [args["job"]])
    args = nextfire.add_to_put(rt, args, stored)
    result = await group_commit.group(rt).propose_put(rt, args, req.idempotency_key())
    check_result(result, job=job.name)
    return json_response(await job_view(rt, job.name, req), status=201)


async def put_job(rt: Runtime, req: Request) -> Response:
    """`PUT /jobs/{name}` -> 201 when created, 200 when replaced."""
    name = req.params["name"]
    body = req.object_body()
    if "name" in body and body["name"] != name:
        raise ValidationError(
            f"name: the body says {body['name']!r} but the path says {name!r}", field="name"
        )
    job = _from_body(body, name)
    if job.name != name:
        raise ValidationError(f"name: expected {name!r}, got {job.name!r}", field="name")
    stored = await _stored(rt, name)
    job = restore_redacted(job, stored)
    args = put_args(rt, req, job, create_only=False)
    _refuse_managed(req, name, stored)
    await dependencies.check_graph(rt, [args["job"]])
    args = nextfire.add_to_put(rt, args, stored)
    result = await group_commit.group(rt).propose_put(rt, args, req.idempotency_key())
    check_result(result, job=name)
    status = 201 if result.get("created") else 200
    return json_response(await job_view(rt, name, req), status=status)


async def delete_job(rt: Runtime, req: Request) -> Response:
    """`DELETE /jobs/{name}` -> 200; 404 if there is no such job."""
    name = req.params["name"]
    stored = await _stored(rt, name)
    _precheck(req, name, stored, want=True)
    _refuse_managed(req, name, stored)
    args = actor.stamp(rt, req, {"name": name, "at": rt.now_iso()})
    result = await rt.propose("delete_job", args, req.idempotency_key())
    check_result(result, job=name)
    return json_response({"name": name, "deleted": True})


async def _set_paused(rt: Runtime, req: Request, paused: bool) -> Response:
    name = req.params["name"]
    _precheck(req, name, await _stored(rt, name), want=True)
    args = await nextfire.add_to_resume(rt, actor.stamp(rt, req, {
        "name": name, "paused": paused, "at": rt.now_iso()}))
    result = await rt.propose("set_paused", args, req.idempotency_key())
    check_result(result, job=name)
    return json_response(await job_view(rt, name, req))


async def pause_job(rt: Runtime, req: Request) -> Response:
    """`POST /jobs/{name}/pause` -> the job, now paused (no slot fires while paused)."""
    return await _set_paused(rt, req, True)


async def resume_job(rt: Runtime, req: Request) -> Response:
    """`POST /jobs/{name}/resume` -> the job, scheduled again."""
    return await _set_paused(rt, req, False)
