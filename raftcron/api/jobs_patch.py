"""`PATCH /jobs/{name}`: change some fields of a job (JSON merge patch, RFC 7396).

The body is a JSON object merged into the stored job: a field left out stays as it is, a
field given replaces it (an object such as `env`, `labels` or `notify` is merged key by key
the same way), and `null` removes it, so the field takes its default (`"retries": null` ->
0; `"env": {"A": null}` removes the variable A). The result is then exactly a `PUT` of the
merged job: validated as a whole (any bad field: 400 naming it, nothing changed), the same
token rules (a privileged `user`, set or kept, needs the admin token: 403 naming `user`),
`"***"` for an `env` value keeps the stored one, a file-managed job is refused (409), the
`Idempotency-Key` is honoured, and the job's `version` goes up by one. A job that does not
exist is 404 (a patch does not create). The answer is the job, as `GET /jobs/{name}`.

The merge reads the job on the peer that answers; a patch races a concurrent write to the
same job like two PUTs do (the later wins), field by field only within one patch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from raftcron import model
from raftcron.api import group_commit, nextfire
from raftcron.api.http import Request, Response, json_response
from raftcron.api.jobs import _refuse_managed, job_view, put_args, restore_redacted
from raftcron.api.results import check_result
from raftcron.errors import JobNotFoundError, ValidationError
from raftcron.model.job import FIELDS

if TYPE_CHECKING:
    from raftcron.api.context import Runtime

#: The media type RFC 7396 names (plain application/json is accepted too).
MEDIA_TYPE = "application/merge-patch+json"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: `patch` applied to `target` (neither is changed)."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def merged_job(stored: dict, patch: dict, name: str) -> model.Job:
    """The stored job's fields with `patch` merged in, validated as a whole."""
    if "name" in patch and patch["name"] != name:
        raise ValidationError(
            f"name: the body says {patch['name']!r} but the path says {name!r}; a job "
            "cannot be renamed", field="name")
    base = {k: stored[k] for k in FIELDS if k in stored}
    merged = merge_patch(base, patch)
    merged["name"] = name
    return model.job_from_dict(merged, name=name)


async def patch_job(rt: Runtime, req: Request) -> Response:
    """`PATCH /jobs/{name}` -> 200 with the job; 404 if there is none."""
    name = req.params["name"]
    patch = req.object_body()
    key = req.idempotency_key()
    stored = await rt.quick(rt.ctx.read.get_job, name)
    if stored is None:
        raise JobNotFoundError(name)
    job = restore_redacted(merged_job(stored, patch, name), stored)
    args = put_args(rt, req, job, create_only=False)
    _refuse_managed(req, name, stored)
    args = nextfire.add_to_put(rt, args, stored)
    result = await group_commit.group(rt).propose_put(rt, args, key)
    check_result(result, job=name)
    return json_response(await job_view(rt, name, req))
