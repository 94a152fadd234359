"""`GET /metrics`: this peer's Prometheus metrics (docs/metrics.md lists them).

The exposition is prometheus_client's, from the daemon's `PeerMetrics` registry: Prometheus
text 0.0.4 by default, OpenMetrics when the Accept header asks for it. A scrape reads the
node's state and a few grouped counts from this peer's SQLite copy, so it runs on the API's
read threads, not on the event loop. An API without a daemon's metrics (the API tests) builds
its own registry on first use: the state metrics are all there, the event counters stay 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from raftcron.api.http import Request, Response
from raftcron.metrics.prom import PeerMetrics

if TYPE_CHECKING:
    from raftcron.api.context import Runtime


def _metrics(rt: Runtime) -> PeerMetrics:
    if rt.ctx.metrics is not None:
        return rt.ctx.metrics
    own = rt.extras.get("metrics")
    if own is None:
        own = rt.extras["metrics"] = PeerMetrics(self_id=rt.ctx.self_id, node=rt.ctx.node,
                                                 read=rt.ctx.read)
    return own


async def get_metrics(rt: Runtime, req: Request) -> Response:
    """`GET /metrics` -> the exposition, in the format the Accept header chose."""
    body, content_type = await rt.db(_metrics(rt).scrape, req.headers.get("Accept") or "")
    return Response(status=200, body=body, content_type=content_type)
