"""Everything one peer needs to start, resolved from flags, the config file and the environment.

Precedence: flags over the config file over defaults; the secret and the tokens come from the
environment (`RAFTCRON_SECRET`, `RAFTCRON_TOKEN`, `RAFTCRON_READ_TOKEN`,
`RAFTCRON_ADMIN_TOKEN`) or the file, never from flags. A read token without a write token is
refused: reads would be closed while anyone could write. Every problem is a `ConfigError`
naming the flag or key, which the CLI turns into exit status 2.

Finding itself: without `--self`, the peer is the one entry of `--peers` whose host is an
address of this machine (it can bind a socket to it) and whose port is free to bind. None or
several such entries is an error that says so (three peers on 127.0.0.1 need `--self`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import pwd
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from raftcron.config.cluster import (
    API_PORT_OFFSET,
    ClusterConfig,
    NotifyConfig,
    SchedulerConfig,
    apply_env,
    load_cluster_config,
    parse_peer_address,
)
from raftcron.config.tokens import NamedToken, TokenRole, all_tokens
from raftcron.config.tuning import RaftTuning
from raftcron.errors import ConfigError, ValidationError
from raftcron.model import Node

ROLE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True, kw_only=True)
class DaemonSettings:
    self_id: str
    peers: list[str]
    api_host: str
    api_port: int
    data_dir: Path
    roles: list[str] = field(default_factory=list)
    capacity: int = 4
    jobs_dir: Path | None = None
    nodes_dir: Path | None = None
    nodes: list[Node] = field(default_factory=list)
    log_format: str = "text"
    insecure: bool = False
    secret: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    admin_token: str | None = field(default=None, repr=False)
    read_token: str | None = field(default=None, repr=False)
    #: The `[tokens.NAME]` tokens (`config/tokens.py`); values never in repr().
    named_tokens: tuple[NamedToken, ...] = ()
    reads_need_token: bool = False
    allow_privileged_jobs: bool = False
    unprivileged_users: frozenset[str] = frozenset()
    tuning: RaftTuning = field(default_factory=RaftTuning)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    #: raft id -> base URL of that peer's API (others: raft port + 1000 on the same host).
    peer_apis: dict[str, str] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return _url(self.api_host, self.api_port)


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _fail(field_name: str, message: str) -> ConfigError:
    return ConfigError(f"{field_name}: {message}", field=field_name)


def _address(text: str, flag: str) -> tuple[str, int]:
    try:
        return parse_peer_address(text, field=flag)
    except ValidationError as exc:
        raise ConfigError(exc.message, field=flag) from None


def resolve_settings(*, peers: str | None = None, self_id: str | None = None,
                     api: str | None = None, data_dir: str | None = None,
                     config: str | None = None, roles: str | None = None,
                     capacity: int | None = None, jobs_dir: str | None = None,
                     nodes_dir: str | None = None, log_format: str | None = None,
                     insecure: bool = False, allow_privileged_jobs: bool = False,
                     environ: Mapping[str, str] | None = None,
                     check_ports: bool = True) -> DaemonSettings:
    """Merge the sources into `DaemonSettings`; `ConfigError` naming the culprit otherwise."""
    env = os.environ if environ is None else environ
    cfg = load_cluster_config(config, environ=env) if config else apply_env(ClusterConfig(), env)

    if peers is not None:
        peer_list = [p.strip() for p in peers.split(",") if p.strip()]
        for p in peer_list:
            _address(p, "--peers")
    else:
        peer_list = list(cfg.peers)
    peer_list = list(dict.fromkeys(peer_list))
    if not peer_list:
        raise _fail("--peers", "no peers given (e.g. --peers 10.0.0.1:7100,10.0.0.2:7100,...)")

    me = self_id if self_id is not None else cfg.self_id
    if me is not None:
        _address(me, "--self")
        if me not in peer_list:
            raise _fail("--self", f"{me} is not one of --peers ({', '.join(peer_list)})")
    else:
        me = find_self(peer_list)
    host, port = _address(me, "--self")

    api_text = api if api is not None else cfg.api
    if api_text is None:
        if port + API_PORT_OFFSET > 65535:
            raise _fail("--api", f"raft port {port} + {API_PORT_OFFSET} is not a port; give --api")
        api_host, api_port = host, port + API_PORT_OFFSET
    else:
        api_host, api_port = _address(api_text, "--api")

    secret = cfg.secret or None
    if not secret and not (insecure or cfg.insecure):
        for what, h in (("--self", host), ("--api", api_host)):
            if not is_loopback(h):
                raise _fail(what, f"{h} is not a loopback address and no RAFTCRON_SECRET is set: "
                                  "peer traffic would be unauthenticated pickle. Set a secret, "
                                  "or pass --insecure")
    if check_ports:
        ensure_free(host, port, "--self", "raft")
        if (api_host, api_port) != (host, port):
            ensure_free(api_host, api_port, "--api", "API")
        else:
            raise _fail("--api", "the API cannot share the raft port")

    if data_dir is not None:
        data_path = Path(data_dir)
    else:
        data_path = cfg.data_dir_for(me) or Path("raftcron-data") / f"{host}_{port}"

    role_list = cfg.roles if roles is None else [r.strip() for r in roles.split(",") if r.strip()]
    for role in role_list:
        if not ROLE_RE.fullmatch(role):
            raise _fail("--roles", f"{role!r} is not a role name (letters, digits, '._-')")
    if capacity is not None and capacity < 1:
        raise _fail("--capacity", "must be at least 1")

    for i, user in enumerate(cfg.unprivileged_users):
        if uid_of(user) == 0:
            raise _fail(f"unprivileged_users.{i}", f"{user!r} is uid 0 on this machine")
    has_writer = bool(cfg.token) or any(t.role is TokenRole.WRITER for t in cfg.tokens)
    if cfg.read_token and not has_writer:
        raise _fail("read_token", "a read token needs a write token too (RAFTCRON_TOKEN, "
                                  "token or a writer in [tokens]): otherwise reads are closed "
                                  "while anyone may write")
    if cfg.reads_need_token and not has_writer:
        raise _fail("reads_need_token", "closing reads needs a writer token too (token or a "
                                        "writer in [tokens]): otherwise anyone may write")
    try:
        all_tokens(cfg.tokens, token=cfg.token, read_token=cfg.read_token,
                   admin_token=cfg.admin_token)
    except ValidationError as exc:
        raise ConfigError(exc.message, field=exc.field) from None

    peer_apis = {}
    for p in peer_list:
        if p == me:
            peer_apis[p] = _url(api_host, api_port)
        else:
            ph, pp = _address(p, "--peers")
            peer_apis[p] = _url(ph, pp + API_PORT_OFFSET)

    return DaemonSettings(
        self_id=me, peers=peer_list, api_host=api_host, api_port=api_port,
        data_dir=data_path.resolve(), roles=role_list,
        capacity=capacity if capacity is not None else cfg.capacity,
        jobs_dir=Path(jobs_dir) if jobs_dir is not None else cfg.jobs_dir,
        nodes_dir=Path(nodes_dir) if nodes_dir is not None else cfg.nodes_dir,
        nodes=list(cfg.nodes),
        log_format=str(log_format or cfg.log_format),
        insecure=bool(insecure or cfg.insecure),
        secret=secret, token=cfg.token or None, admin_token=cfg.admin_token or None,
        read_token=cfg.read_token or None, named_tokens=cfg.tokens,
        reads_need_token=cfg.reads_need_token,
        allow_privileged_jobs=bool(allow_privileged_jobs or cfg.allow_privileged_jobs),
        unprivileged_users=frozenset(cfg.unprivileged_users),
        tuning=RaftTuning.from_config(cfg.raft), scheduler=cfg.scheduler, notify=cfg.notify,
        peer_apis=peer_apis,
    )


def uid_of(user: str) -> int | None:
    """The uid of `user` (a name or a number) on this machine, None if it has none."""
    if user.isdigit():
        return int(user)
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        return None


def _resolve(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _can_bind(ip: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError:
            return False
    return True


def is_loopback(host: str) -> bool:
    """True if every address `host` resolves to is a loopback address."""
    addresses = _resolve(host)
    if not addresses:
        return False
    with contextlib.suppress(ValueError):
        return all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)
    return False


def is_local(host: str) -> bool:
    """True if `host` resolves to an address of this machine (a socket can bind to it)."""
    return any(_can_bind(ip, 0) for ip in _resolve(host))


def ensure_free(host: str, port: int, flag: str, what: str) -> None:
    """ConfigError naming `flag` if `host:port` cannot be bound (in use, or not local)."""
    addresses = _resolve(host)
    if not addresses:
        raise _fail(flag, f"cannot resolve {host!r}")
    if not any(_can_bind(ip, port) for ip in addresses):
        if not is_local(host):
            raise _fail(flag, f"{host} is not an address of this machine")
        raise _fail(flag, f"the {what} port {host}:{port} is already in use")


def find_self(peers: list[str]) -> str:
    """The one peer whose host is local and whose port is free; ConfigError otherwise."""
    local = [p for p in peers if is_local(_address(p, "--peers")[0])]
    free = [p for p in local if any(_can_bind(ip, _address(p, "--peers")[1])
                                    for ip in _resolve(_address(p, "--peers")[0]))]
    if len(free) == 1:
        return free[0]
    if not local:
        raise _fail("--self", "none of --peers is an address of this machine; give --self")
    if not free:
        raise _fail("--self", f"every local entry of --peers is in use ({', '.join(local)}): is "
                              "this peer already running? Give --self to say which one is this")
    raise _fail("--self", f"more than one of --peers is local and free ({', '.join(free)}); "
                          "give --self to say which one is this peer")
