"""The cluster config file (TOML) -> `ClusterConfig`; and, re-exported, the file loaders.

`load_cluster_config(path)` reads a file like `configs/cluster.toml`. Unknown keys are refused
with the key named; relative paths are taken from the config file's directory. The secret
and the tokens may be written in the file, but `RAFTCRON_SECRET`, `RAFTCRON_TOKEN`,
`RAFTCRON_READ_TOKEN` and `RAFTCRON_ADMIN_TOKEN` in the environment win, and none ever
appears in `repr()`/`str()` of the config.

`data_dir` may contain `{host}` and `{port}` (this peer's raft address), so one file serves
every peer: `data_dir = "/var/lib/raftcron/{port}"`; `ClusterConfig.data_dir_for(self_id)`
fills them in. Command-line flags override the file; that merge is the daemon's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from raftcron.config.files import (
    as_config_error,
    distributed_cronjob_name,
    is_distributed_cronjob_body,
    job_from_distributed_cronjob,
    load_job_file,
    load_jobs_dir,
    load_jobs_dir_files,
    load_node_file,
    load_nodes_dir,
    read_document,
)
from raftcron.config.tokens import NamedToken, parse_tokens
from raftcron.config.tuning import CONFIG_KEYS, RaftTuning
from raftcron.errors import ConfigError, ValidationError
from raftcron.model import Node, node_from_dict
from raftcron.model import checks as c
from raftcron.model.job import USER_RE, email, url
from raftcron.model.job_windows import blackout_expr
from raftcron.model.privilege import ROOT_NAMES
from raftcron.model.sizes import DEFAULT_OUTPUT_LIMIT, output_limit
from raftcron.schedule import validate_tz

__all__ = [
    "ClusterConfig", "LogFormat", "NotifyConfig", "SchedulerConfig", "apply_env",
    "distributed_cronjob_name", "is_distributed_cronjob_body", "job_from_distributed_cronjob",
    "load_cluster_config", "load_job_file", "load_jobs_dir", "load_jobs_dir_files",
    "load_node_file", "load_nodes_dir", "parse_peer_address",
]

SECRET_ENV = "RAFTCRON_SECRET"
TOKEN_ENV = "RAFTCRON_TOKEN"
READ_TOKEN_ENV = "RAFTCRON_READ_TOKEN"
ADMIN_TOKEN_ENV = "RAFTCRON_ADMIN_TOKEN"
#: config field -> the environment variable that overrides it.
_ENV_SECRETS = (("secret", SECRET_ENV), ("token", TOKEN_ENV), ("read_token", READ_TOKEN_ENV),
                ("admin_token", ADMIN_TOKEN_ENV))
#: API port = raft port + this, when `api` is not given (7101 -> 8101).
API_PORT_OFFSET = 1000

TOP_KEYS = (
    "peers", "self", "api", "data_dir", "roles", "capacity", "jobs_dir", "nodes_dir",
    "log_format", "insecure", "secret", "token", "nodes", "raft", "scheduler", "notify",
    "read_token", "admin_token", "allow_privileged_jobs", "unprivileged_users", "tokens",
    "reads_need_token", "blackouts", "concurrency_groups",
)
#: `[blackouts.NAME]`: a cluster-wide blackout window.
BLACKOUT_KEYS = ("schedule", "tz")
#: [raft] tuning (`raftcron.config.tuning` owns their meaning), in seconds except the entry count.
RAFT_KEYS = tuple(CONFIG_KEYS)
RAFT_COUNTS = ("log_compaction_entries",)
SCHEDULER_KEYS = ("lease", "max_run_age", "catchup_cap", "output_limit")
NOTIFY_KEYS = ("webhook", "email", "smtp_host", "smtp_port", "smtp_from", "webhook_secret")
#: The environment variable that overrides `[notify] webhook_secret`.
WEBHOOK_SECRET_ENV = "RAFTCRON_WEBHOOK_SECRET"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


@dataclass(frozen=True, kw_only=True)
class SchedulerConfig:
    """`[scheduler]`: leases of executing peers, run retention, catch-up bound."""

    lease: timedelta = timedelta(seconds=15)       # a silent executing peer's run is lost after
    max_run_age: timedelta = timedelta(days=30)    # runs older than this are pruned
    catchup_cap: int = 100                         # at most this many missed slots per job
    #: Bytes each output file of a run may grow to, unless its job sets `output_limit`.
    output_limit: int = DEFAULT_OUTPUT_LIMIT
    #: `[blackouts.NAME]` of the file: (name, cron expression, zone), by name.
    blackouts: tuple[tuple[str, str, str], ...] = ()
    #: `[concurrency_groups]` of the file: (name, limit), by name.
    concurrency_groups: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, kw_only=True)
class NotifyConfig:
    """`[notify]`: global targets (told about every job) and the SMTP relay for email."""

    webhook: str | None = None
    email: list[str] = field(default_factory=list)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str | None = None
    #: Signs the cluster webhook's bodies (HMAC-SHA256, `X-Raftcron-Signature`).
    webhook_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, kw_only=True)
class ClusterConfig:
    """One peer's settings. Every field has a default, so `ClusterConfig()` is flags-only."""

    peers: list[str] = field(default_factory=list)  # raft addresses "host:port"
    self_id: str | None = None                      # the file's `self`
    api: str | None = None                          # "host:port"; None: raft port + 1000
    data_dir: Path | None = None                    # may hold {host}/{port}: data_dir_for()
    roles: list[str] = field(default_factory=list)
    capacity: int = 4
    jobs_dir: Path | None = None
    nodes_dir: Path | None = None
    log_format: LogFormat = LogFormat.TEXT
    insecure: bool = False
    secret: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    read_token: str | None = field(default=None, repr=False)   # when set, reads need a token
    admin_token: str | None = field(default=None, repr=False)  # privileged jobs need it
    tokens: tuple[NamedToken, ...] = ()  # [tokens.NAME]: named tokens with roles (tokens.py)
    reads_need_token: bool = False       # reads need a token (any role)
    allow_privileged_jobs: bool = False  # without an admin token: accept privileged jobs
    unprivileged_users: list[str] = field(default_factory=list)  # any writer may run as these
    nodes: list[Node] = field(default_factory=list)
    raft: dict[str, float | int] = field(default_factory=dict)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    source: Path | None = None                      # the file it was read from

    def data_dir_for(self, self_id: str) -> Path | None:
        """`data_dir` with `{host}` and `{port}` of `self_id` filled in."""
        if self.data_dir is None:
            return None
        host, port = parse_peer_address(self_id, field="self")
        return Path(str(self.data_dir).format(host=host, port=port))

    def api_for(self, self_id: str) -> str:
        """`api`, or by default the raft host with the raft port + 1000."""
        if self.api is not None:
            return self.api
        host, port = parse_peer_address(self_id, field="self")
        if port + API_PORT_OFFSET > 65535:
            raise ValidationError(f"api: raft port {port} + {API_PORT_OFFSET} is not a port; "
                                  "set api explicitly", field="api")
        return c.format_host_port(host, port + API_PORT_OFFSET)


def parse_peer_address(text: object, *, field: str = "peers") -> tuple[str, int]:
    """`"host:port"` (or `"[::1]:port"`) -> `(host, port)`; ValidationError naming `field`."""
    host, port = c.host_port(text, field, need_port=True)
    assert port is not None
    return host, port


def apply_env(config: ClusterConfig, environ: Mapping[str, str] | None = None) -> ClusterConfig:
    """The secret and tokens from the environment, where set and non-empty, win over the file."""
    env = os.environ if environ is None else environ
    changes: dict[str, Any] = {k: env[v] for k, v in _ENV_SECRETS if env.get(v)}
    if env.get(WEBHOOK_SECRET_ENV):
        changes["notify"] = replace(config.notify, webhook_secret=env[WEBHOOK_SECRET_ENV])
    return replace(config, **changes) if changes else config


def load_cluster_config(
    path: str | Path, *, environ: Mapping[str, str] | None = None,
) -> ClusterConfig:
    """Read and validate a cluster config file; ConfigError naming the file and the key."""
    path = Path(path)
    if path.suffix != ".toml":
        raise ConfigError("a cluster config is a .toml file", file=str(path))
    data = read_document(path)
    try:
        config = _build(data, base=path.parent, environ=environ)
    except ValidationError as exc:
        raise as_config_error(exc, file=path) from None
    return apply_env(replace(config, source=path), environ)


def _build(data: Mapping[str, Any], *, base: Path,
           environ: Mapping[str, str] | None = None) -> ClusterConfig:
    c.check_keys(data, TOP_KEYS)
    peers = c.string_list(_or(data.get("peers"), []), "peers", item=_peer)
    self_id = None if data.get("self") is None else _peer(data["self"], "self")
    if self_id is not None and peers and self_id not in peers:
        raise c.fail("self", f"{self_id!r} is not one of peers")
    api = None
    if data.get("api") is not None:
        api = c.string(data["api"], "api")
        c.host_port(api, "api", need_port=True)
    return ClusterConfig(
        peers=peers,
        self_id=self_id,
        api=api,
        data_dir=_data_dir(data.get("data_dir"), base),
        roles=c.string_list(_or(data.get("roles"), []), "roles", item=c.name),
        capacity=c.integer(_or(data.get("capacity"), 4), "capacity", minimum=1, maximum=10_000),
        jobs_dir=_path(data.get("jobs_dir"), "jobs_dir", base),
        nodes_dir=_path(data.get("nodes_dir"), "nodes_dir", base),
        log_format=c.choice(_or(data.get("log_format"), "text"), LogFormat, "log_format"),
        insecure=c.boolean(_or(data.get("insecure"), False), "insecure"),
        secret=c.opt_string(data.get("secret"), "secret"),
        token=c.opt_string(data.get("token"), "token"),
        read_token=c.opt_string(data.get("read_token"), "read_token"),
        admin_token=c.opt_string(data.get("admin_token"), "admin_token"),
        tokens=parse_tokens(data.get("tokens"), environ),
        reads_need_token=c.boolean(_or(data.get("reads_need_token"), False), "reads_need_token"),
        allow_privileged_jobs=c.boolean(_or(data.get("allow_privileged_jobs"), False),
                                        "allow_privileged_jobs"),
        unprivileged_users=c.string_list(_or(data.get("unprivileged_users"), []),
                                         "unprivileged_users", item=_unprivileged_user),
        nodes=_nodes(data.get("nodes")),
        raft=_raft(data.get("raft")),
        scheduler=replace(_scheduler(data.get("scheduler")),
                          blackouts=_blackouts(data.get("blackouts")),
                          concurrency_groups=_groups(data.get("concurrency_groups"))),
        notify=_notify(data.get("notify")),
    )


def _unprivileged_user(value: Any, field: str) -> str:
    name = c.string(value, field, max_len=32, pattern=USER_RE, what="a user name")
    if name in ROOT_NAMES:
        raise c.fail(field, "root is never unprivileged")
    return name


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _peer(value: Any, field: str) -> str:
    parse_peer_address(value, field=field)
    return str(value)


def _path(value: Any, field: str, base: Path) -> Path | None:
    if value is None:
        return None
    return base / Path(c.string(value, field)).expanduser()


def _data_dir(value: Any, base: Path) -> Path | None:
    path = _path(value, "data_dir", base)
    if path is not None:
        try:  # prove the template now, not when the peer starts
            str(path).format(host="h", port=1)
        except (KeyError, IndexError, ValueError):
            raise c.fail("data_dir", "only {host} and {port} may appear in braces") from None
    return path


def _nodes(value: Any) -> list[Node]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise c.fail("nodes", "expected [[nodes]] tables")
    nodes: list[Node] = []
    for i, entry in enumerate(value):
        try:
            node = node_from_dict(entry)
        except ValidationError as exc:
            raise as_config_error(exc, file=None, prefix=f"nodes.{i}") from None
        if any(n.name == node.name for n in nodes):
            raise c.fail(f"nodes.{i}.name", f"node {node.name!r} is defined twice")
        nodes.append(node)
    return nodes


def _raft(value: Any) -> dict[str, float | int]:
    """Durations may be written as `"150ms"` or as seconds; the relations between them
    (heartbeat well under the election timeout, ...) are checked by `RaftTuning`."""
    if value is None:
        return {}
    data = c.mapping(value, "raft")
    c.check_keys(data, RAFT_KEYS, prefix="raft")
    out: dict[str, float | int] = {}
    for key, val in data.items():
        name = f"raft.{key}"
        if key in RAFT_COUNTS:
            out[key] = c.integer(val, name, minimum=1, maximum=10**9)
            continue
        number = isinstance(val, int | float) and not isinstance(val, bool)
        seconds = c.number(val, name) if number else c.duration(val, name).total_seconds()
        if seconds <= 0:
            raise c.fail(name, "must be longer than 0s")
        out[key] = seconds
    RaftTuning.from_config(out)
    return out


def _scheduler(value: Any) -> SchedulerConfig:
    if value is None:
        return SchedulerConfig()
    data = c.mapping(value, "scheduler")
    c.check_keys(data, SCHEDULER_KEYS, prefix="scheduler")
    lease = c.duration(_or(data.get("lease"), "15s"), "scheduler.lease")
    max_age = c.duration(_or(data.get("max_run_age"), "30d"), "scheduler.max_run_age")
    for name, delta in (("scheduler.lease", lease), ("scheduler.max_run_age", max_age)):
        if not delta:
            raise c.fail(name, "must be longer than 0s")
    return SchedulerConfig(
        lease=lease, max_run_age=max_age,
        catchup_cap=c.integer(_or(data.get("catchup_cap"), 100), "scheduler.catchup_cap",
                              minimum=0, maximum=1_000_000),
        output_limit=_or(output_limit(data.get("output_limit"), "scheduler.output_limit"),
                         DEFAULT_OUTPUT_LIMIT),
    )


def _blackouts(value: Any) -> tuple[tuple[str, str, str], ...]:
    """`[blackouts.NAME]` tables: `schedule` (a cron expression) and `tz` (default UTC)."""
    if value is None:
        return ()
    data = c.mapping(value, "blackouts")
    out = []
    for name in sorted(data):
        c.name(name, f"blackouts.{name}")
        table = c.mapping(data[name], f"blackouts.{name}")
        c.check_keys(table, BLACKOUT_KEYS, prefix=f"blackouts.{name}")
        tz = c.string(_or(table.get("tz"), "UTC"), f"blackouts.{name}.tz", max_len=64)
        try:
            validate_tz(tz)
        except ValidationError:
            raise c.fail(f"blackouts.{name}.tz", f"{tz!r} is not a known time zone") from None
        if table.get("schedule") is None:
            raise c.fail(f"blackouts.{name}.schedule", "a blackout window needs a schedule")
        expr = blackout_expr(table["schedule"], tz=tz, field=f"blackouts.{name}.schedule")
        out.append((name, expr, tz))
    return tuple(out)


def _groups(value: Any) -> tuple[tuple[str, int], ...]:
    """`[concurrency_groups]`: NAME = limit (a whole number 1-100,000)."""
    if value is None:
        return ()
    data = c.mapping(value, "concurrency_groups")
    out = []
    for name in sorted(data):
        c.name(name, f"concurrency_groups.{name}")
        out.append((name, c.integer(data[name], f"concurrency_groups.{name}", minimum=1,
                                    maximum=100_000)))
    return tuple(out)


def _notify(value: Any) -> NotifyConfig:
    if value is None:
        return NotifyConfig()
    data = c.mapping(value, "notify")
    c.check_keys(data, NOTIFY_KEYS, prefix="notify")
    emails = data.get("email")
    if isinstance(emails, str):
        emails = [emails]
    return NotifyConfig(
        webhook=None if data.get("webhook") is None else url(data["webhook"], "notify.webhook"),
        email=c.string_list(_or(emails, []), "notify.email", item=email),
        smtp_host=c.opt_string(data.get("smtp_host"), "notify.smtp_host", max_len=255),
        smtp_port=c.integer(_or(data.get("smtp_port"), 25), "notify.smtp_port", minimum=1,
                            maximum=65535),
        smtp_from=None if data.get("smtp_from") is None else email(data["smtp_from"],
                                                                   "notify.smtp_from"),
        webhook_secret=c.opt_string(data.get("webhook_secret"), "notify.webhook_secret"),
    )
