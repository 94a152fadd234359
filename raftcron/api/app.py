"""The aiohttp application: the only module importing aiohttp.

One middleware does what every request needs, in this order: authorise the request for its
route (`api/auth.py`, before the body is read), read and parse the body (size cap, media
type, JSON), honour `?consistency=strong` and `?min_index=N` on reads, call the handler,
map raftcron errors to JSON answers through `api/errors.py`, and stamp `X-Raftcron-Index`
on every response. A catch-all logs anything unexpected and answers 500
`{"error": "internal error"}`; there should be no known way to reach it.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
from aiohttp import web

from raftcron.api import openapi, output_stream
from raftcron.api.auth import admit, bearer
from raftcron.api.context import ApiContext, Fetched, Runtime
from raftcron.api.errors import error_response, internal_error
from raftcron.api.http import MAX_INDEX, MAX_WAIT, HttpError, Request, Response
from raftcron.api.readindex import strong_read_barrier
from raftcron.api.routes import ROUTES, Route
from raftcron.api.runs import PROXIED_HEADER
from raftcron.errors import ConfigError, RaftcronError, UnavailableError, ValidationError

log = logging.getLogger("raftcron.api")

#: Largest request body: enough for a 1 MiB script as base64 plus the rest of the job.
MAX_BODY = 2 * 1024 * 1024
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
INDEX_HEADER = "X-Raftcron-Index"
RUNTIME: web.AppKey[Runtime] = web.AppKey("raftcron_runtime", Runtime)
ROUTE_KEY = "raftcron_route"
_BARRIER_ARGS = frozenset({"consistency", "min_index", "timeout"})


def _is_json(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime == "application/json":
        return True
    return mime.startswith("application/") and mime.endswith("+json")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


async def _body(request: web.Request) -> Any:
    """The parsed JSON body, or None when there is none."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise HttpError(413, f"body: larger than {MAX_BODY} bytes", field="body")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise HttpError(413, f"body: larger than {MAX_BODY} bytes", field="body") from None
    if not raw.strip():
        return None
    content_type = request.headers.get("Content-Type")
    # `curl -d '{...}'` sends form-urlencoded by default: read it as JSON rather than make
    # every operator remember `-H 'Content-Type: application/json'`.
    if content_type is not None and not _is_json(content_type) and not content_type.startswith(
        "application/x-www-form-urlencoded"
    ):
        raise HttpError(415, f"body: expected application/json, got {content_type!r}",
                        field="body")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ValidationError("body: not UTF-8", field="body") from None
    except RecursionError:
        raise ValidationError("body: JSON nested too deeply", field="body") from None
    except ValueError as exc:
        raise ValidationError(f"body: malformed JSON: {exc}", field="body") from None


async def _read_barrier(rt: Runtime, req: Request) -> None:
    """`?consistency=strong` and `?min_index=N` (bounded by `?timeout=`) on reads."""
    consistency = req.choice_arg("consistency", ("none", "weak", "strong"))
    min_index = req.int_arg("min_index", minimum=0, maximum=MAX_INDEX)
    timeout = req.float_arg("timeout", default=rt.ctx.wait_timeout, maximum=MAX_WAIT)
    if consistency == "strong":
        # A read index, not a no-op through the log: a read never appends an entry.
        await strong_read_barrier(rt, timeout)
    if min_index is not None and rt.applied_index() < min_index:
        reached = await rt.ctx.node.wait_applied(min_index, timeout)
        if not reached:
            raise UnavailableError(
                f"min_index: this peer has applied index {rt.applied_index()}, "
                f"not yet {min_index}, after waiting {timeout:g}s",
                field="min_index",
            )


def _adapt(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    need, handler = route.required, route.handler  # looked up once, not per request

    async def handle(request: web.Request) -> web.StreamResponse:
        rt = request.app[RUNTIME]
        role, actor = admit(need, bearer(request.headers), rt.ctx.tokens)
        method = request.method
        body = await _body(request) if method in WRITE_METHODS else None
        query = request.query
        req = Request(
            method=method,
            path=request.path,
            params=request.match_info,
            query={k: query.getall(k) for k in query} if query else {},
            headers=request.headers,
            body=body,
            role=role,
            actor=actor,
        )
        # The barrier's own parameters are validated only when one is given, so a plain
        # read does not pay for three lookups.
        if method == "GET" and req.query and not _BARRIER_ARGS.isdisjoint(req.query):
            await _read_barrier(rt, req)
        resp = await handler(rt, req)
        if method in WRITE_METHODS:
            # Who changed what: the token's name (never its value), for the operator's log.
            log.info("api %s %s -> %d by %s", method, request.path, resp.status,
                     f"token {actor!r}" if actor else "no token")
        if hasattr(resp.body, "__aiter__"):
            return await _stream(request, rt, resp)
        return _to_aiohttp(resp)

    handle.__name__ = route.handler.__name__
    return handle


async def _stream(request: web.Request, rt: Runtime, resp: Response) -> web.StreamResponse:
    """Send a body that is an async iterator of bytes as it comes (chunked): a followed
    output (`api/output_stream.py`). Once the headers are out an error cannot become an
    answer any more, so it ends the stream (logged); a client going away just ends it."""
    out = web.StreamResponse(status=resp.status,
                             headers={**resp.headers, "Content-Type": resp.content_type,
                                      INDEX_HEADER: str(rt.applied_index())})
    await out.prepare(request)
    chunks = resp.body
    try:
        async for chunk in chunks:
            await out.write(chunk)
        await out.write_eof()
    except (TimeoutError, ConnectionError, aiohttp.ClientError):
        pass
    except RaftcronError as exc:
        log.warning("stream of %s ended: %s", request.path, exc)
    except Exception:  # the status is sent: end the stream rather than write a 500 into it
        log.exception("stream of %s failed", request.path)
    finally:
        await chunks.aclose()
    return out


def _to_aiohttp(resp: Response) -> web.Response:
    headers = dict(resp.headers)
    headers["Content-Type"] = resp.content_type
    if isinstance(resp.body, io.IOBase):
        # An open file (GET /backup): aiohttp streams it in chunks off the loop and closes it.
        return web.Response(status=resp.status, body=resp.body, headers=headers)
    return web.Response(status=resp.status, body=resp.encoded(), headers=headers)


def _http_exception(exc: web.HTTPException) -> Response:
    if exc.status == 404:
        return error_response(HttpError(404, "no such route", field="path"))
    if exc.status == 405:
        allowed = sorted(getattr(exc, "allowed_methods", ()) or ())
        err = HttpError(405, f"method not allowed (allowed: {', '.join(allowed)})",
                        field="method", headers={"Allow": ",".join(allowed)})
        return error_response(err)
    if exc.status == 413:
        return error_response(HttpError(413, f"body: larger than {MAX_BODY} bytes", field="body"))
    return error_response(HttpError(exc.status, exc.reason or "request refused"))


@web.middleware
async def _middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    rt = request.app[RUNTIME]
    try:
        response = await handler(request)
    except RaftcronError as exc:
        response = _to_aiohttp(error_response(exc))
    except web.HTTPException as exc:
        response = _to_aiohttp(_http_exception(exc))
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("internal error answering %s %s", request.method, request.path)
        response = _to_aiohttp(internal_error())
    try:
        response.headers[INDEX_HEADER] = str(rt.applied_index())
    except Exception:  # the index is advisory; never turn an answer into a 500 for it
        log.exception("could not read the applied index")
    return response


class _Fetcher:
    """GETs to other peers' APIs (output proxying, read index), on one lazy session."""

    def __init__(self, credential: str | None = None) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._headers = {PROXIED_HEADER: "1"}
        if credential:  # the other peer may require a token for every read
            self._headers["Authorization"] = f"Bearer {credential}"

    async def __call__(self, url: str, timeout: float) -> Fetched:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.get(
                url, headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as resp:
                return resp.status, resp.headers.get("Content-Type", ""), await resp.read()
        except aiohttp.ClientError as exc:
            raise OSError(str(exc) or type(exc).__name__) from None

    async def open_stream(self, url: str, timeout: float
                          ) -> tuple[int, AsyncGenerator[bytes, None]]:
        """A streaming GET: its status and its body's chunks as they arrive (`timeout`
        bounds the connect and each read; the peer sends heartbeats well within it)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        try:
            resp = await self._session.get(
                url, headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=None, connect=timeout,
                                              sock_read=max(timeout, 60.0)))
        except aiohttp.ClientError as exc:
            raise OSError(str(exc) or type(exc).__name__) from None
        if resp.status != 200:
            resp.release()  # only the status is wanted (the caller answers it)

        async def chunks() -> AsyncGenerator[bytes, None]:
            try:
                async for chunk in resp.content.iter_any():
                    yield chunk
            except aiohttp.ClientError as exc:
                log.warning("proxied stream %s ended: %s", url, exc)
            finally:
                resp.close()  # not back to the pool: the other peer then stops following

        return resp.status, chunks()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def create_app(ctx: ApiContext) -> web.Application:
    """The API of one peer as an aiohttp application (routes in `api/routes.py`)."""
    pool = ThreadPoolExecutor(max_workers=ctx.read_threads, thread_name_prefix="raftcron-api")
    fetcher = _Fetcher(ctx.peer_credential())
    rt = Runtime(ctx=ctx, pool=pool, fetch=fetcher)
    rt.extras["openapi"] = openapi.build_document(ROUTES)
    rt.extras[output_stream.OPENER] = fetcher.open_stream
    app = web.Application(middlewares=[_middleware], client_max_size=MAX_BODY)
    app[RUNTIME] = rt
    for route in ROUTES:
        app.router.add_route(route.method, route.path, _adapt(route))

    async def _cleanup(_app: web.Application) -> None:
        await fetcher.close()
        pool.shutdown(wait=False, cancel_futures=True)

    app.on_cleanup.append(_cleanup)
    return app


class ApiServer:
    """A running API: `url`, `port`, and `close()`."""

    def __init__(self, runner: web.AppRunner, host: str, port: int) -> None:
        self._runner = runner
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def close(self) -> None:
        await self._runner.cleanup()


async def serve(ctx: ApiContext, host: str, port: int) -> ApiServer:
    """Start the API on `host:port` (port 0: an ephemeral port, see `ApiServer.port`)."""
    runner = web.AppRunner(create_app(ctx), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(f"api: cannot listen on {host}:{port}: {exc.strerror or exc}",
                          field="api") from None
    bound = runner.addresses[0][1] if runner.addresses else port
    return ApiServer(runner, host, int(bound))
