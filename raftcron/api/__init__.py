"""The HTTP API of one peer: JSON resources, the dashboard, /metrics, /openapi.json.

`create_app(ctx)` builds the aiohttp application; `serve(ctx, host, port)` runs it and
returns an `ApiServer` (`url`, `port`, `await close()`). Routes are listed once in
`api/routes.py`; errors map to statuses in one table in `api/errors.py`.
"""

from __future__ import annotations

from raftcron.api.app import ApiServer, create_app, serve
from raftcron.api.context import ApiContext

__all__ = ["ApiContext", "ApiServer", "create_app", "serve"]
