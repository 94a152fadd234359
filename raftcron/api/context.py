"""What one peer's API needs from the rest of the daemon, and the runtime around it.

`ApiContext` is built by the daemon (the composition root) and handed to `create_app`. The
API never opens the SQLite copy for writing and never touches pysyncobj: reads go through
`ReadDb`, right on the loop when an index bounds them (`Runtime.quick`, `Runtime.page`: a
thread hop costs more than such a read) and on a small thread pool otherwise (`Runtime.db`:
a slow query never blocks the event loop); writes go through `Node.propose`, which answers
once the command is applied on this peer.

`Runtime` is what every handler receives: the context plus the thread pool and an HTTP
fetcher for proxying to other peers. It holds no aiohttp objects, so handlers are plain
async functions of `(Runtime, Request) -> Response`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from raftcron.api.auth import Tokens
from raftcron.config.tokens import NamedToken, TokenRole
from raftcron.durations import format_time
from raftcron.model.privilege import Identity

if TYPE_CHECKING:
    from raftcron.clock import Clock
    from raftcron.db.reader import ReadDb
    from raftcron.metrics.prom import PeerMetrics
    from raftcron.model.ports import ApiNode


T = TypeVar("T")
#: The largest page a list reads on the event loop (`Runtime.page`): the default `limit`.
QUICK_PAGE = 100

#: (status, content type, body) of a GET to another peer's API.
Fetched = tuple[int, str, bytes]
Fetcher = Callable[[str, float], Awaitable[Fetched]]


#: Which configured token a peer shows first when it proxies a read: the least powerful.
_CREDENTIAL_ORDER = {TokenRole.READER: 0, TokenRole.WRITER: 1, TokenRole.ADMIN: 2}


@dataclass
class ApiContext:
    """Everything the API reads from or writes through (docs/api.md, modules.md api/)."""

    self_id: str
    read: ReadDb
    node: ApiNode
    clock: Clock
    data_dir: Path
    token: str | None
    #: This peer's own API address, and the fallback for a peer that has not announced its
    #: own into the state (raft port + 1000): see `Runtime.peer_apis`.
    peer_apis: dict[str, str]
    cancel_local_run: Callable[[str], Awaitable[bool]] | None = None
    extra_status: Callable[[], dict] | None = None
    #: When set, creating or changing a privileged job needs this token (`privilege.py`).
    admin_token: str | None = None
    #: When set, every read but liveness/readiness needs a token (`api/auth.py`).
    read_token: str | None = None
    #: The `[tokens.NAME]` tokens with their roles (`config/tokens.py`).
    named_tokens: tuple[NamedToken, ...] = ()
    #: Every read but liveness/readiness needs a token of any role.
    reads_need_token: bool = False
    #: Without an admin token: accept privileged jobs from any writer (else refuse them).
    allow_privileged_jobs: bool = False
    #: Users any writer's job may run as (never root): `privilege.py`.
    unprivileged_users: frozenset[str] = frozenset()
    #: The user this peer runs as (a job without `user` runs as it).
    identity: Identity = field(default_factory=Identity.current)
    #: Default bound of a `?min_index=` wait and of a write's propose, in seconds.
    wait_timeout: float = 10.0
    #: Threads reading the SQLite copy (ReadDb keeps one connection per thread).
    read_threads: int = 4
    #: The daemon's metrics (its worker and scheduler record into them); when None, /metrics
    #: builds its own for this app on first use (state only, no events).
    metrics: PeerMetrics | None = None
    #: The cluster config's blackout windows (name, cron expression, zone): `api/blackouts.py`.
    config_blackouts: tuple[tuple[str, str, str], ...] = ()
    #: The cluster config's concurrency group limits (name, limit): `api/groups.py`.
    config_groups: tuple[tuple[str, int], ...] = ()

    _tokens: Tokens | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def tokens(self) -> Tokens:
        """The tokens as `api/auth.py` checks them: built once (and again only if a token
        field changes)."""
        cached = self._tokens
        if (cached is None or cached.write is not self.token or cached.read is not self.read_token
                or cached.admin is not self.admin_token or cached.named is not self.named_tokens
                or cached.reads_need_token is not self.reads_need_token):
            cached = self._tokens = Tokens(write=self.token, read=self.read_token,
                                           admin=self.admin_token, named=self.named_tokens,
                                           reads_need_token=self.reads_need_token)
        return cached

    def peer_credential(self) -> str | None:
        """The token this peer shows another peer's API when it proxies a read: the least
        powerful one configured that may read (peers share their configuration)."""
        entries = sorted(self.tokens.entries, key=lambda t: _CREDENTIAL_ORDER[t.role])
        return entries[0].value if entries else None


@dataclass
class Runtime:
    """The context plus the per-app resources handlers share."""

    ctx: ApiContext
    pool: ThreadPoolExecutor
    fetch: Fetcher
    extras: dict[str, Any] = field(default_factory=dict)

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking `ReadDb` call on the API's own read pool and await its result."""
        return await self.ctx.read.call(fn, *args, executor=self.pool, **kwargs)

    async def quick(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A read an index bounds, run right on the loop (`ReadDb.quick`); on the read pool
        when SQLite is busy or the read defers itself."""
        return await self.ctx.read.quick(fn, *args, executor=self.pool, **kwargs)

    async def page(self, size: int, ordered: bool, fn: Callable[..., T], /, *args: Any,
                   **kwargs: Any) -> T:
        """A list read of `size` items at most: on the loop (`quick`) when `ordered` (an index
        yields its rows in the list's order, so the read stops after the page) and `size` is
        at most `QUICK_PAGE`; on the read pool otherwise (a filter that sorts every match, or
        a thousand rows, takes milliseconds)."""
        if ordered and size <= QUICK_PAGE:
            return await self.quick(fn, *args, **kwargs)
        return await self.db(fn, *args, **kwargs)

    async def propose(self, op: str, args: dict, key: str | None) -> dict:
        """Propose a command; returns `apply`'s result once applied on this peer.

        Raises `UnavailableError` (no leader, timeout) as `Node.propose` does.
        """
        return await self.ctx.node.propose(op, args, key=key, timeout=self.ctx.wait_timeout)

    async def peer_apis(self) -> dict[str, str]:
        """Peer id -> API base URL: what each peer announced into the replicated state
        (put_peer, from its `--api`), else the configured fallback; this peer's own is
        always its configured address."""
        return self.merge_peer_apis(await self.db(self.ctx.read.peer_apis))

    def merge_peer_apis(self, announced: dict[str, str]) -> dict[str, str]:
        """`peer_apis` from what the state holds (`ReadDb.peer_apis`), already read."""
        merged = {**self.ctx.peer_apis, **announced}
        if self.ctx.self_id in self.ctx.peer_apis:
            merged[self.ctx.self_id] = self.ctx.peer_apis[self.ctx.self_id]
        return merged

    def now_iso(self) -> str:
        """The proposer's time, carried in the command (apply never reads the clock)."""
        return format_time(self.ctx.clock.now())

    def status(self) -> dict:
        """This peer's node status (role, leader, indices, peers)."""
        return dict(self.ctx.node.status())

    def applied_index(self) -> int:
        """This peer's applied index, as reported by the node."""
        cheap = getattr(self.ctx.node, "applied_index", None)  # Node's property: no status()
        if isinstance(cheap, int) and not isinstance(cheap, bool):
            return cheap
        try:
            return int(self.ctx.node.status().get("applied_index") or 0)
        except (TypeError, ValueError):
            return 0
