"""The peers a client talks to: the `--api` list, and one failed attempt at one of them.

`split_peers` turns `"http://a:8101,b:8101"` into base URLs; `Retry` is what one attempt
raises when another peer may answer instead (`raftcron.client.http.Client.request`).
"""

from __future__ import annotations

from collections.abc import Sequence

from raftcron.errors import RaftcronError, ValidationError


class Retry(Exception):
    """One attempt at one peer that another peer may answer instead: the error to report if
    none does, and whether the request may have reached the peer (a write then has an
    unknown outcome)."""

    def __init__(self, error: RaftcronError, *, delivered: bool) -> None:
        super().__init__(error.message)
        self.error = error
        self.delivered = delivered


def split_peers(base: str | Sequence[str]) -> list[str]:
    """`"http://a:8101,http://b:8101"` (or a list) -> the peers' base URLs, in order; a URL
    without a scheme gets `http://`."""
    items = base.split(",") if isinstance(base, str) else list(base)
    urls = []
    for item in items:
        url = item.strip().rstrip("/")
        if url:
            urls.append(url if "://" in url else f"http://{url}")
    if not urls:
        raise ValidationError("api: no peer URL given", field="api")
    return urls
