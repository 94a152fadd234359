"""The dashboard: `GET /` and its assets under `/static/` (files in `raftcron/api/static/`).

Plain HTML, CSS and vanilla JS (no build step) that read the JSON API, one summary request
per view refresh (`api/dashboard_api.py`) and the followed output of a run
(`api/output_stream.py`); no external assets, and a Content Security Policy that forbids
loading any. Views: the jobs list, a job's page and its edit form, a run's page, the cluster.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from raftcron.api.http import HttpError, Request, Response

if TYPE_CHECKING:
    from raftcron.api.context import Runtime


#: The only files served, with their media types (no directory listing, no traversal).
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "jobs.js": "text/javascript; charset=utf-8",
    "job.js": "text/javascript; charset=utf-8",
    "run.js": "text/javascript; charset=utf-8",
    "cluster.js": "text/javascript; charset=utf-8",
    "forms.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _asset(name: str) -> Response:
    if name not in ASSETS:
        raise HttpError(404, f"no dashboard asset named {name!r}", field="file")
    data = resources.files("raftcron.api").joinpath("static", name).read_bytes()
    return Response(status=200, body=data, content_type=ASSETS[name], headers=dict(_HEADERS))


async def index(rt: Runtime, req: Request) -> Response:
    """`GET /` -> the dashboard page."""
    return _asset("index.html")


async def static_file(rt: Runtime, req: Request) -> Response:
    """`GET /static/{file}` -> a dashboard asset; 404 for anything else."""
    return _asset(req.params["file"])
