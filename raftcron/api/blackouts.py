"""Cluster-wide blackout windows: `GET /blackouts`, `GET/PUT/DELETE /blackouts/{name}`; and the
version check for jobs that use what command version 4 added.

A window is `{"name", "schedule", "tz", "description"}`: a cron expression (five or six
fields, or a macro) in an IANA zone. Windows written through the API live in the replicated
state (`put_blackout`); those of the cluster config (`[blackouts.NAME]`) are this peer's,
listed with `"source": "config"` and refused (409) to PUT or DELETE: they change with the file.
The leader applies both to every job's slots (`planning/blackouts.py`).

Until every reachable peer reads command version 4, a window write and a job using what
version 4 added (`model.window_commands.job_version`) are refused with 409 naming the peers
in the way (an older leader would not apply them alike).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from raftcron.api import nextfire
from raftcron.api.http import HttpError, Request, Response, json_response, page
from raftcron.api.results import check_result
from raftcron.errors import ConflictError, ValidationError
from raftcron.model import checks as c
from raftcron.model.commands import version_of
from raftcron.model.job_windows import blackout_expr
from raftcron.model.window_commands import V4
from raftcron.raft.version_gate import cluster_reads
from raftcron.schedule import validate_tz

if TYPE_CHECKING:
    from raftcron.api.context import Runtime

FIELDS = ("name", "schedule", "tz", "description")
READ_ONLY = frozenset({"source", "version", "created_at", "updated_at"})


def require_version(rt: Runtime, version: int, what: str) -> None:
    """409 unless the cluster reads command `version` (`raft.version_gate.cluster_reads`)."""
    if version <= 1 or nextfire.gate(rt).reads(version):
        return
    try:
        blocking = cluster_reads(rt.status(), version)[1]
    except Exception:  # no status (closing): say so without the peers
        blocking = []
    who = f": {', '.join(blocking)}" if blocking else ""
    raise ConflictError(f"{what} needs every peer to read command version {version}; upgrade "
                        f"the peers that do not yet{who}", field="version")


def check_job_version(rt: Runtime, args: dict[str, Any]) -> None:
    """The `put_job` args' version (a list schedule, blackout or queue_all: 4) is readable."""
    require_version(rt, version_of("put_job", args),
                    "a job with several schedules, blackout windows, queue_all, max_parallel, "
                    "keep_going, a concurrency_group or an output_limit")


def _missing(name: str) -> HttpError:
    return HttpError(404, f"no blackout window named {name!r}", field="name")


def _config(rt: Runtime) -> list[dict[str, Any]]:
    return [{"name": n, "schedule": e, "tz": tz, "description": "", "source": "config"}
            for n, e, tz in getattr(rt.ctx, "config_blackouts", ())]


async def list_blackouts(rt: Runtime, req: Request) -> Response:
    """`GET /blackouts` -> every window (config first, then the state's), one page."""
    configured = _config(rt)
    names = {w["name"] for w in configured}
    stored = [w for w in await rt.db(rt.ctx.read.list_blackouts) if w["name"] not in names]
    return json_response(page([*configured, *stored], None))


async def _find(rt: Runtime, name: str) -> dict[str, Any]:
    for w in _config(rt):
        if w["name"] == name:
            return w
    found = await rt.db(rt.ctx.read.get_blackout, name)
    if found is None:
        raise _missing(name)
    return found


async def get_blackout(rt: Runtime, req: Request) -> Response:
    """`GET /blackouts/{name}` -> the window; 404 if none."""
    return json_response(await _find(rt, req.params["name"]))


def _refuse_config(rt: Runtime, name: str) -> None:
    if any(w["name"] == name for w in _config(rt)):
        raise ConflictError(f"blackout window {name!r} is defined by the cluster config; edit "
                            "the file", field="name")


def window_args(body: Any, name: str) -> dict[str, Any]:
    """The `put_blackout` arguments (without `at`) for a request body, validated."""
    data = c.mapping(body, "body")
    c.check_keys(data, FIELDS, ignored=READ_ONLY)
    c.name(name, "name")
    if data.get("name") is not None and data["name"] != name:
        raise ValidationError(f"name: the body says {data['name']!r} but the path says "
                              f"{name!r}", field="name")
    tz = c.string(data.get("tz") if data.get("tz") is not None else "UTC", "tz", max_len=64)
    validate_tz(tz)
    if data.get("schedule") is None:
        raise ValidationError("schedule: a blackout window needs a schedule", field="schedule")
    expr = blackout_expr(data["schedule"], tz=tz, field="schedule")
    description = c.string(data.get("description") or "", "description", allow_empty=True,
                           max_len=1024)
    return {"name": name, "schedule": expr, "tz": tz, "description": description}


async def put_blackout(rt: Runtime, req: Request) -> Response:
    """`PUT /blackouts/{name}` -> 201 created / 200 replaced; 409 for a config window."""
    name = req.params["name"]
    args = {**window_args(req.object_body(), name), "at": rt.now_iso()}
    _refuse_config(rt, name)
    require_version(rt, V4, "a blackout window")
    result = check_result(await rt.propose("put_blackout", args, req.idempotency_key()))
    return json_response(await _find(rt, name), status=201 if result.get("created") else 200)


async def delete_blackout(rt: Runtime, req: Request) -> Response:
    """`DELETE /blackouts/{name}` -> 200; 404 if none; 409 for a config window."""
    name = req.params["name"]
    _refuse_config(rt, name)
    if req.idempotency_key() is None and await rt.db(rt.ctx.read.get_blackout, name) is None:
        raise _missing(name)
    require_version(rt, V4, "a blackout window")
    result = await rt.propose("delete_blackout", {"name": name, "at": rt.now_iso()},
                              req.idempotency_key())
    if result.get("error") == "not_found":
        raise _missing(name)
    check_result(result)
    return json_response({"name": name, "deleted": True})
