"""A small typed HTTP client of the raftcron API (stdlib only), used by the CLI and the tests.

Every method mirrors one route. A 4xx/5xx answer raises the matching `raftcron.errors` type
with the server's message and field: 400/413/415/422 -> `ValidationError`, 401/403 ->
`AuthError`, 404 -> `JobNotFoundError`/`RunNotFoundError`/`NodeNotFoundError` (or
`NotFoundError` for anything else), 409 -> `ConflictError`, 503 -> `UnavailableError`.

`base_url` may list several peers, comma-separated: a call that one peer cannot answer
(connection refused, timeout, 503 no leader) goes to the next. Writes carry an
`Idempotency-Key` (one per logical write) and are retried with that same key, at the next peer,
a bounded number of times: the server applies a key at most once, so a retry never applies
twice. A write that was sent but never confirmed raises `OutcomeUnknownError` (it may have been
applied); one that reached no peer raises `UnavailableError`. Reads try each peer once.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from raftcron.client import backup
from raftcron.client.peers import Retry, split_peers
from raftcron.errors import (
    AuthError,
    ConflictError,
    HttpStatusError,
    JobNotFoundError,
    NodeNotFoundError,
    NotFoundError,
    OutcomeUnknownError,
    RaftcronError,
    RunNotFoundError,
    UnavailableError,
    ValidationError,
)

DEFAULT_API = "http://127.0.0.1:8101"
#: Tries of a write (the first included) and the longest pause between two.
WRITE_ATTEMPTS = 5
MAX_BACKOFF = 2.0
#: Jobs per `POST /jobs:batch` (the server's limit).
BATCH = 1000


NotFound = Callable[[], RaftcronError] | None


def _error(status: int, body: Any, fallback: str, not_found: NotFound) -> RaftcronError:
    message = fallback
    field = None
    if isinstance(body, dict):
        message = str(body.get("error") or fallback)
        field = body.get("field")
    if status in (400, 413, 415, 422):
        return ValidationError(message, field=field)
    if status in (401, 403):
        return AuthError(message, field=field)
    if status == 404:
        if not_found is not None and field in ("name", "id"):
            return not_found()
        return NotFoundError(message, field=field)
    if status == 409:
        return ConflictError(message, field=field)
    if status == 503:
        return UnavailableError(message, field=field)
    return HttpStatusError(status, message, field=field)


class Client:
    """`Client("http://a:8101,http://b:8101", token=...)`: one or more peers, tried in turn;
    `last_index` is the last X-Raftcron-Index; `base_url` the peer that answered last."""

    def __init__(self, base_url: str | Sequence[str] = DEFAULT_API, token: str | None = None,
                 timeout: float = 10.0, *, write_attempts: int = WRITE_ATTEMPTS) -> None:
        self.peers = split_peers(base_url)
        self._current = 0
        self.token = token
        self.timeout = timeout
        self.write_attempts = max(1, write_attempts)
        self.last_index: int | None = None
        self.last_status: int | None = None
        #: The Idempotency-Key of the last write (the same on every retry of it).
        self.last_key: str | None = None

    @property
    def base_url(self) -> str:
        return self.peers[self._current]

    # -- transport -------------------------------------------------------------------------

    def _url(self, path: str, query: dict[str, Any] | None, base: str | None = None) -> str:
        url = (base or self.base_url) + path
        params = [(k, str(v).lower() if isinstance(v, bool) else str(v))
                  for k, v in (query or {}).items() if v is not None]
        return url + ("?" + urllib.parse.urlencode(params) if params else "")

    def _once(self, method: str, url: str, body: bytes | None, headers: dict[str, str],
              not_found: NotFound, base: str) -> tuple[int, str, bytes]:
        """One attempt at one peer. `Retry` when another peer may do better: it could not
        be reached (not delivered), it stopped answering after the request was sent, or it
        answered 503 (no leader, or a commit it could not confirm: delivered)."""
        req = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return self._finish(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as exc:
            error = self._http_error(exc, url, not_found)
            if exc.code == 503:
                raise Retry(error, delivered=True) from None
            raise error from None
        except urllib.error.URLError as exc:
            # urllib wraps only what fails while connecting and sending: nothing was answered
            # and, the connection having failed, nothing was processed.
            raise Retry(UnavailableError(f"cannot reach {base}: {exc.reason}"),
                         delivered=False) from None
        except (OSError, http.client.HTTPException) as exc:
            # The request went out; the answer did not come (timeout, reset, closed).
            raise Retry(UnavailableError(f"{base} stopped answering: "
                                          f"{exc or type(exc).__name__}"),
                         delivered=True) from None

    def _http_error(self, exc: urllib.error.HTTPError, url: str,
                    not_found: NotFound) -> RaftcronError:
        status, ctype, raw = self._finish(exc.code, exc.headers, exc.read())
        try:
            parsed = json.loads(raw) if "json" in ctype else None
        except ValueError:
            parsed = None
        return _error(status, parsed, f"HTTP {status} from {url}", not_found)

    def _finish(self, status: int, headers: Any, raw: bytes) -> tuple[int, str, bytes]:
        self.last_status = status
        index = headers.get("X-Raftcron-Index") if headers is not None else None
        if index is not None and index.isdigit():
            self.last_index = int(index)
        return status, (headers.get("Content-Type", "") if headers is not None else ""), raw

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None,
                body: Any = None, not_found: NotFound = None,
                headers: dict[str, str] | None = None) -> Any:
        """One call: JSON in, JSON (or text) out; errors raised as described above.

        Tries the peers in turn from the one that answered last: a read once at each, a
        write `write_attempts` times in all (at least once at each peer), pausing after
        each full round, every try with the same Idempotency-Key. A write no peer
        answered raises `OutcomeUnknownError` if any try may have reached a peer, else
        `UnavailableError` (nothing was applied).
        """
        send = {"Accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            send["Content-Type"] = "application/json"
        write = method != "GET"
        if write:
            # One key per logical write, reused on every retry and peer: applied at most once.
            send.setdefault("Idempotency-Key", uuid.uuid4().hex)
            self.last_key = send["Idempotency-Key"]
        if self.token:  # reads too: a read token may be required, and it reveals env values
            send["Authorization"] = f"Bearer {self.token}"
        count = len(self.peers)
        attempts = max(self.write_attempts, count) if write else count
        delay = 0.1
        delivered = False
        last: RaftcronError | None = None
        for attempt in range(attempts):
            index = (self._current + attempt) % count
            if attempt and attempt % count == 0:
                time.sleep(delay)  # a whole round failed: back off before the next
                delay = min(delay * 2, MAX_BACKOFF)
            base = self.peers[index]
            try:
                _status, ctype, raw = self._once(method, self._url(path, query, base), data,
                                                 send, not_found, base)
            except Retry as retry:
                delivered = delivered or retry.delivered
                last = retry.error
                continue
            self._current = index
            if "json" in ctype:
                return json.loads(raw) if raw else None
            return raw.decode("utf-8", errors="replace")
        assert last is not None
        if write and delivered:
            raise OutcomeUnknownError(
                f"{method} {path}: no peer confirmed the write ({last.message}); it may or "
                "may not have been applied", field=last.field)
        raise last

    def _get(self, path: str, not_found: NotFound = None, **query: Any) -> Any:
        return self.request("GET", path, query=query, not_found=not_found)

    @staticmethod
    def _q(name: str) -> str:
        return urllib.parse.quote(name, safe="")

    # -- cluster ---------------------------------------------------------------------------

    def status(self, **read: Any) -> dict:
        return self._get("/status", **read)

    def healthz(self) -> dict:
        return self._get("/healthz")

    def readyz(self) -> dict:
        return self._get("/readyz")

    def metrics(self) -> str:
        return self._get("/metrics")

    def openapi(self) -> dict:
        return self._get("/openapi.json")

    # -- jobs ------------------------------------------------------------------------------

    def list_jobs(self, *, status: str | None = None, role: str | None = None,
                  label: str | None = None, limit: int | None = None,
                  cursor: str | None = None, **read: Any) -> dict:
        """One page: `{"items": [...], "next_cursor": ...}`."""
        return self._get("/jobs", status=status, role=role, label=label, limit=limit,
                         cursor=cursor, **read)

    def iter_jobs(self, **filters: Any) -> Iterator[dict]:
        """Every job matching `filters`, following `next_cursor`."""
        return self._all(self.list_jobs, filters)

    def get_job(self, name: str, **read: Any) -> dict:
        return self._get(f"/jobs/{self._q(name)}", lambda: JobNotFoundError(name), **read)

    def job_history(self, name: str, *, limit: int | None = None,
                    cursor: str | None = None) -> dict:
        """A page of the job's audit history, newest first (`{"items", "next_cursor"}`)."""
        return self._get(f"/jobs/{self._q(name)}/history", lambda: JobNotFoundError(name),
                         limit=limit, cursor=cursor)

    def create_job(self, job: dict) -> dict:
        """POST /jobs (the name in the body); ConflictError if it exists."""
        return self.request("POST", "/jobs", body=job)

    def put_job(self, name: str, job: dict) -> tuple[dict, bool]:
        """PUT /jobs/{name}: returns (job, created)."""
        out = self.request("PUT", f"/jobs/{self._q(name)}", body=job)
        return out, self.last_status == 201

    def patch_job(self, name: str, patch: dict) -> dict:
        """PATCH /jobs/{name} (JSON merge patch: null resets a field); the job after it."""
        return self.request("PATCH", f"/jobs/{self._q(name)}", body=patch,
                            not_found=lambda: JobNotFoundError(name))

    def apply_jobs(self, jobs: list[dict], *, create_only: bool = False) -> list[dict]:
        """POST /jobs:batch in batches of `BATCH` (each batch all or nothing): create or
        replace every job (only create with `create_only`: an existing job refuses its
        batch); `[{"name", "created", "version"}]` in order. A refused batch raises (its
        error names `jobs[i].field` within that batch); earlier batches stay."""
        items: list[dict] = []
        for i in range(0, len(jobs), BATCH):
            body: dict[str, Any] = {"jobs": jobs[i:i + BATCH]}
            if create_only:
                body["create_only"] = True
            out = self.request("POST", "/jobs:batch", body=body)
            items += out.get("items") or []
        return items

    def delete_job(self, name: str) -> dict:
        return self.request("DELETE", f"/jobs/{self._q(name)}",
                            not_found=lambda: JobNotFoundError(name))

    def pause_job(self, name: str) -> dict:
        return self._job_action(name, "pause")

    def resume_job(self, name: str) -> dict:
        return self._job_action(name, "resume")

    def run_job(self, name: str) -> dict:
        """A manual run now; returns the run (status pending)."""
        return self._job_action(name, "run")

    def backfill_job(self, name: str, start: str, end: str, cap: int | None = None) -> dict:
        """POST /jobs/{name}/backfill: every slot from `start` to `end` (ISO 8601)."""
        body: dict[str, Any] = {"from": start, "to": end}
        if cap is not None:
            body["cap"] = cap
        return self.request("POST", f"/jobs/{self._q(name)}/backfill", body=body,
                            not_found=lambda: JobNotFoundError(name))

    def _job_action(self, name: str, action: str) -> dict:
        return self.request("POST", f"/jobs/{self._q(name)}/{action}",
                            not_found=lambda: JobNotFoundError(name))

    # -- runs ------------------------------------------------------------------------------

    def list_runs(self, *, job: str | None = None, status: str | None = None,
                  peer: str | None = None, since: str | None = None, until: str | None = None,
                  limit: int | None = None, cursor: str | None = None, **read: Any) -> dict:
        return self._get("/runs", job=job, status=status, peer=peer, since=since, until=until,
                         limit=limit, cursor=cursor, **read)

    def iter_runs(self, **filters: Any) -> Iterator[dict]:
        return self._all(self.list_runs, filters)

    def get_run(self, run_id: str, **read: Any) -> dict:
        return self._get(f"/runs/{self._q(run_id)}", lambda: RunNotFoundError(run_id), **read)

    def run_output(self, run_id: str, stream: str | None = None) -> dict | str:
        """The whole output: `{"stdout", "stderr"}`, or one stream's text."""
        return self._get(f"/runs/{self._q(run_id)}/output", lambda: RunNotFoundError(run_id),
                         stream=stream)

    def cancel_run(self, run_id: str) -> dict:
        return self.request("POST", f"/runs/{self._q(run_id)}/cancel",
                            not_found=lambda: RunNotFoundError(run_id))

    # -- nodes -----------------------------------------------------------------------------

    def list_nodes(self, **read: Any) -> dict:
        return self._get("/nodes", **read)

    def get_node(self, name: str) -> dict:
        return self._get(f"/nodes/{self._q(name)}", lambda: NodeNotFoundError(name))

    def node_history(self, name: str, *, limit: int | None = None,
                     cursor: str | None = None) -> dict:
        """A page of the node's audit history, newest first (`{"items", "next_cursor"}`)."""
        return self._get(f"/nodes/{self._q(name)}/history", lambda: NodeNotFoundError(name),
                         limit=limit, cursor=cursor)

    def put_node(self, name: str, node: dict) -> tuple[dict, bool]:
        out = self.request("PUT", f"/nodes/{self._q(name)}", body=node)
        return out, self.last_status == 201

    def delete_node(self, name: str) -> dict:
        return self.request("DELETE", f"/nodes/{self._q(name)}",
                            not_found=lambda: NodeNotFoundError(name))

    # -- blackout windows ------------------------------------------------------------------

    def list_blackouts(self, **read: Any) -> dict:
        return self._get("/blackouts", **read)

    def get_blackout(self, name: str) -> dict:
        return self._get(f"/blackouts/{self._q(name)}")

    def put_blackout(self, name: str, window: dict) -> tuple[dict, bool]:
        out = self.request("PUT", f"/blackouts/{self._q(name)}", body=window)
        return out, self.last_status == 201

    def delete_blackout(self, name: str) -> dict:
        return self.request("DELETE", f"/blackouts/{self._q(name)}")

    # -- concurrency groups ----------------------------------------------------------------

    def list_groups(self, **read: Any) -> dict:
        return self._get("/concurrency-groups", **read)

    def put_group(self, name: str, limit: int) -> tuple[dict, bool]:
        out = self.request("PUT", f"/concurrency-groups/{self._q(name)}", body={"limit": limit})
        return out, self.last_status == 201

    def delete_group(self, name: str) -> dict:
        return self.request("DELETE", f"/concurrency-groups/{self._q(name)}")

    # -- backup ----------------------------------------------------------------------------

    def download_backup(self, dest: Path, *, consistency: str | None = None) -> int:
        """GET /backup into the file `dest`, in chunks; the bytes written (`client.backup`)."""
        return backup.download(self, dest, consistency=consistency)

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _all(fetch: Callable[..., dict], filters: dict[str, Any]) -> Iterator[dict]:
        cursor = None
        while True:
            page = fetch(cursor=cursor, **filters)
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return
