"""`POST /jobs:batch`: create or replace up to `MAX_BATCH` jobs in one Raft entry.

The body is `{"jobs": [job, ...]}`. Every job is validated as `PUT /jobs/{name}` validates
one (the model, the privilege rule, `"***"` env values kept from the stored job) before
anything is proposed; the first bad one is a 400 (403 for privilege) whose `field` names its
index and field (`jobs[3].schedule`), and nothing is applied. The jobs then go as one atomic
`batch` of `put_job` entries (command version 3: every entry applies or none does, so a job
a file in `--jobs-dir` defines refuses the whole batch with a 409 naming `jobs[i].name`).
Until every reachable peer reads version 3 the entry is a plain batch, refused up front for
a file-managed job, so it applies whole all the same. The `Idempotency-Key` header is the
batch's key: a retry answers the first outcome and applies nothing twice. A body over the
server's cap is a 413 (`api/app.py`).

`"create_only": true` in the body creates only: a job that exists already refuses the
whole batch (409 naming `jobs[i].name`; `raftcron import-crontab` sends it).

Answer: `{"items": [{"name", "created", "version"}]}` in the order sent.
"""

from __future__ import annotations

from typing import Any

from raftcron.api import nextfire
from raftcron.api.dependencies import check_graph
from raftcron.api.group_commit import put_entry
from raftcron.api.http import HttpError, Request, Response, json_response
from raftcron.api.jobs import _from_body, keep_redacted, put_args
from raftcron.api.results import check_result
from raftcron.errors import ConflictError, RaftcronError, ValidationError
from raftcron.model.commands import INTRODUCED

#: Jobs in one batch at most (the body cap may be reached first).
MAX_BATCH = 1000
#: The command version that added atomic batches.
ATOMIC_VERSION = INTRODUCED[("batch", "atomic")]


def _prefixed(exc: RaftcronError, i: int) -> RaftcronError:
    """`exc` with its field (or the job itself) under `jobs[i]`."""
    field = f"jobs[{i}]" + (f".{exc.field}" if exc.field else "")
    message = f"jobs[{i}]: {exc.message}"
    if isinstance(exc, HttpError):
        return HttpError(exc.status, message, field=field)
    if isinstance(exc, ConflictError):
        return ConflictError(message, field=field)
    return ValidationError(message, field=field)


def _jobs_list(body: dict) -> list[Any]:
    extra = sorted(set(body) - {"jobs", "create_only"})
    if extra:
        raise ValidationError(f"{extra[0]}: unknown field", field=extra[0])
    jobs = body.get("jobs")
    if not isinstance(jobs, list) or not jobs:
        raise ValidationError("jobs: expected a non-empty list of jobs", field="jobs")
    if len(jobs) > MAX_BATCH:
        raise ValidationError(f"jobs: at most {MAX_BATCH} jobs in one batch, got {len(jobs)}",
                              field="jobs")
    return jobs


async def _validated(rt: Any, req: Request, jobs: list[Any], create_only: bool) -> list[dict]:
    """Each job's `put_job` arguments; the first bad job raises, naming its index."""
    out: list[dict] = []
    seen: dict[str, int] = {}
    now = rt.ctx.clock.now()  # one time for the batch: its entries apply together
    for i, item in enumerate(jobs):
        try:
            if not isinstance(item, dict):
                raise ValidationError(f"expected a job object, got {type(item).__name__}")
            job = await keep_redacted(rt, _from_body(item, None))
            if job.name in seen:
                raise ValidationError(f"{job.name!r} is also jobs[{seen[job.name]}]",
                                      field="name")
            seen[job.name] = i
            out.append(put_args(rt, req, job, create_only=create_only, now=now))
        except RaftcronError as exc:
            raise _prefixed(exc, i) from None
    return await nextfire.add_to_puts(rt, out)


async def _refuse_managed(rt: Any, args: list[dict]) -> None:
    """409 for a file-managed job before anything is proposed (a plain batch would apply the
    others)."""
    managed = await rt.db(rt.ctx.read.managed_jobs)
    for i, a in enumerate(args):
        owner = managed.get(a["job"]["name"])
        if owner:
            raise ConflictError(
                f"jobs[{i}]: job {a['job']['name']!r} is defined by file "
                f"{owner.removeprefix('file:')} in --jobs-dir; edit the file",
                field=f"jobs[{i}].name")


async def _refuse_existing(rt: Any, args: list[dict]) -> None:
    """`create_only`: 409 naming the first job that exists, before anything is proposed."""
    for i, a in enumerate(args):
        if await rt.quick(rt.ctx.read.get_job, a["job"]["name"]) is not None:
            raise ConflictError(f"jobs[{i}]: a job named {a['job']['name']!r} already exists",
                                field=f"jobs[{i}].name")


def _refused(result: dict, i: int, name: str, rest: str) -> None:
    """Raise the state's refusal of entry `i` (job `name`) with its field under `jobs[i]`."""
    field = f"jobs[{i}]{rest}"
    code = result.get("error")
    if code == "exists":
        raise ConflictError(f"jobs[{i}]: a job named {name!r} already exists", field=field)
    message = f"jobs[{i}]: {result.get('message') or code}"
    if code == "invalid_args":
        raise ValidationError(message, field=field)
    raise ConflictError(message, field=field)


async def apply_jobs(rt: Any, req: Request) -> Response:
    """`POST /jobs:batch` -> 200 `{"items": [{"name", "created", "version"}]}`."""
    body = req.object_body()
    key = req.idempotency_key()
    create_only = body.get("create_only", False)
    if not isinstance(create_only, bool):
        raise ValidationError("create_only: expected true or false", field="create_only")
    args = await _validated(rt, req, _jobs_list(body), create_only)
    await check_graph(rt, [a["job"] for a in args])
    atomic = nextfire.gate(rt).reads(ATOMIC_VERSION)
    if key is None or not atomic:  # an atomic batch with a key: the state decides, once
        await _refuse_managed(rt, args)
        if create_only:
            await _refuse_existing(rt, args)
    batch: dict[str, Any] = {"commands": [put_entry(a) for a in args]}
    if atomic:
        batch["atomic"] = True
    result = await rt.propose("batch", batch, key)
    if isinstance(result, dict) and result.get("ok") is False:
        field = str(result.get("field") or "")
        if field.startswith("commands["):
            i = int(field[len("commands["):field.index("]")])
            _refused(result, i, args[i]["job"]["name"], field[field.index("]") + 1:])
        check_result(result)
    results = result.get("results") or []
    for i, res in enumerate(results):  # a plain batch (older peers) answers per entry
        if isinstance(res, dict) and res.get("ok") is False:
            _refused(res, i, args[i]["job"]["name"],
                     f".{res['field']}" if res.get("field") else "")
    items = [{"name": a["job"]["name"], "created": bool(r.get("created")),
              "version": r.get("version")} for a, r in zip(args, results, strict=False)]
    return json_response({"items": items})
