"""`GET /backup` streamed into a file, trying the next peer of the `--api` list when one
cannot be reached or answers 503 (`Client.download_backup`)."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from raftcron.errors import RaftcronError, UnavailableError


class Client(Protocol):
    """What the download needs of `client.http.Client` (its peers and its HTTP plumbing)."""

    token: str | None
    peers: Sequence[str]
    timeout: float
    _current: int

    @property
    def base_url(self) -> str: ...

    def _url(self, path: str, query: dict[str, Any] | None, base: str | None = None) -> str: ...

    def _http_error(self, exc: urllib.error.HTTPError, url: str,
                    not_found: Any) -> RaftcronError: ...

    def _finish(self, status: int, headers: Any, raw: bytes) -> tuple[int, str, bytes]: ...


def download(client: Client, dest: Path, *, consistency: str | None = None) -> int:
    """GET /backup into the file `dest` (created or truncated), in chunks; returns the
    bytes written. Sends the token even though this is a read: the route needs it. A
    peer that cannot be reached or answers 503 is skipped for the next one."""
    headers = {"Accept": "application/vnd.sqlite3, application/json"}
    if client.token:
        headers["Authorization"] = f"Bearer {client.token}"
    # Opened first: a file we cannot write is the caller's OSError, not "cannot reach".
    with open(dest, "wb") as out:
        resp = None
        for attempt in range(len(client.peers)):
            index = (client._current + attempt) % len(client.peers)
            url = client._url("/backup", {"consistency": consistency}, client.peers[index])
            req = urllib.request.Request(url, method="GET", headers=headers)
            try:
                resp = urllib.request.urlopen(req, timeout=client.timeout)
            except urllib.error.HTTPError as exc:
                error = client._http_error(exc, url, None)
                if exc.code != 503 or attempt == len(client.peers) - 1:
                    raise error from None
                continue
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                if attempt == len(client.peers) - 1:
                    reason = getattr(exc, "reason", exc)
                    raise UnavailableError(
                        f"cannot reach {client.peers[index]}: {reason}") from None
                continue
            client._current = index
            break
        assert resp is not None
        with resp:
            client._finish(resp.status, resp.headers, b"")
            size = 0
            while True:
                try:
                    chunk = resp.read(1 << 20)
                except (OSError, http.client.HTTPException) as exc:
                    raise UnavailableError(
                        f"{client.base_url}: backup cut off after {size} bytes: {exc}"
                    ) from None
                if not chunk:
                    return size
                out.write(chunk)
                size += len(chunk)
