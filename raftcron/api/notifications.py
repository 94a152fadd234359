"""`GET /notifications`: the replicated notification outbox, newest first.

Each entry: `id`, `job`, `event`, `run_id`, `kind` (webhook / email), `target` (a webhook's
URL without userinfo, query or fragment: `notify.decisions.redact_url`), `status` (pending /
delivered / failed), `attempts`, `error`, `created_at`, `updated_at`. Filters: `status`, `job`;
paged with `limit` and `cursor`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from raftcron.api.http import Request, Response, json_response, page
from raftcron.notify.decisions import redact_url

if TYPE_CHECKING:
    from raftcron.api.context import Runtime


async def list_notifications(rt: Runtime, req: Request) -> Response:
    """`GET /notifications` -> a page of the outbox, newest first."""
    items, next_cursor = await rt.db(rt.ctx.read.list_notifications, status=req.arg("status"),
                                     job=req.arg("job"), limit=req.limit(),
                                     cursor=req.arg("cursor"))
    for item in items:
        if item["kind"] == "webhook":
            item["target"] = redact_url(item["target"])
    return json_response(page(items, next_cursor))
