"""Node validation and the canonical node form: `node_from_dict` and `node_to_dict`.

Use them through `raftcron.model`. Two shapes are read: the flat one (`ssh_host`, `ssh_user`,
... at the top, as `node_to_dict` writes it) and distcrond's, with the SSH settings nested
under `connection_options`. A key whose value is null is treated as absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from raftcron.durations import format_duration
from raftcron.model import checks as c
from raftcron.model.job import USER_RE
from raftcron.model.types import ConnectionType, Node

#: The fields of a node, in canonical order.
FIELDS = (
    "name", "roles", "connection_type", "ssh_user", "ssh_host", "ssh_port",
    "ssh_private_key_file", "known_hosts", "insecure_no_host_key_check", "capacity",
    "max_sessions", "connect_timeout",
)
#: What may appear under distcrond's `connection_options`.
SSH_FIELDS = (
    "ssh_user", "ssh_host", "ssh_port", "ssh_private_key_file", "known_hosts",
    "insecure_no_host_key_check",
)
#: Added by the server to what it returns (GET /nodes); accepted and ignored on input.
READ_ONLY_FIELDS = frozenset({
    "healthy", "health", "reason", "load", "running", "active_runs", "kind", "version",
    "created_at", "updated_at", "checked_at", "health_reason", "health_at",
})
MAX_CAPACITY = 10_000
MAX_SESSIONS = 1_000
#: An SSH connection that takes longer than this to open is down, not slow.
MAX_CONNECT_TIMEOUT = timedelta(minutes=10)


def node_from_dict(data: Any, *, name: str | None = None) -> Node:
    """See `raftcron.model.node_from_dict`."""
    data, where = _unnest_options(c.mapping(data, "node"))
    c.check_keys(data, (*FIELDS, "connection_options"), ignored=READ_ONLY_FIELDS)

    def at(key: str) -> str:
        return where.get(key, key)

    node_name = c.resource_name(data.get("name"), name, "node")
    ctype = c.choice(_or(data.get("connection_type"), "local"), ConnectionType, "connection_type")
    common: dict[str, Any] = {
        "name": node_name,
        "roles": c.string_list(_or(data.get("roles"), []), "roles", item=c.name),
        "connection_type": ctype,
        "capacity": c.integer(_or(data.get("capacity"), 4), "capacity", minimum=1,
                              maximum=MAX_CAPACITY),
        "max_sessions": c.integer(_or(data.get("max_sessions"), 8), "max_sessions", minimum=1,
                                  maximum=MAX_SESSIONS),
        "connect_timeout": c.duration(_or(data.get("connect_timeout"), "10s"),
                                      "connect_timeout", maximum=MAX_CONNECT_TIMEOUT),
    }
    if not common["connect_timeout"]:
        raise c.fail("connect_timeout", "must be longer than 0s")

    if ctype is ConnectionType.LOCAL:
        for key in SSH_FIELDS:
            if data.get(key) not in (None, False):
                raise c.fail(at(key), "only an 'ssh' node takes SSH settings "
                                      "(set connection_type = 'ssh')")
        return Node(**common)

    for key in ("ssh_host", "ssh_user"):
        if data.get(key) is None:
            raise c.fail(at(key), f"an 'ssh' node needs {key}")
    host, port = c.host_port(data["ssh_host"], at("ssh_host"), need_port=False)
    if data.get("ssh_port") is not None:
        given = c.integer(data["ssh_port"], at("ssh_port"), minimum=1, maximum=65535)
        if port is not None and port != given:
            raise c.fail(at("ssh_port"), f"{given} disagrees with the port in ssh_host ({port})")
        port = given
    insecure = c.boolean(_or(data.get("insecure_no_host_key_check"), False),
                         at("insecure_no_host_key_check"))
    known_hosts = c.opt_string(data.get("known_hosts"), at("known_hosts"))
    if insecure and known_hosts is not None:
        raise c.fail(at("insecure_no_host_key_check"),
                     "cannot skip host key checks and name a known_hosts file")
    return Node(
        **common,
        ssh_user=c.string(data["ssh_user"], at("ssh_user"), max_len=33,
                              pattern=USER_RE, what="a user name"),
        ssh_host=host,
        ssh_port=22 if port is None else port,
        ssh_private_key_file=c.opt_string(data.get("ssh_private_key_file"),
                                          at("ssh_private_key_file")),
        known_hosts=known_hosts,
        insecure_no_host_key_check=insecure,
    )


def node_to_dict(node: Node) -> dict[str, Any]:
    """See `raftcron.model.node_to_dict`. Keys in `FIELDS` order; nothing omitted."""
    return {
        "name": node.name,
        "roles": list(node.roles),
        "connection_type": node.connection_type.value,
        "ssh_user": node.ssh_user,
        "ssh_host": node.ssh_host,
        "ssh_port": node.ssh_port,
        "ssh_private_key_file": node.ssh_private_key_file,
        "known_hosts": node.known_hosts,
        "insecure_no_host_key_check": node.insecure_no_host_key_check,
        "capacity": node.capacity,
        "max_sessions": node.max_sessions,
        "connect_timeout": format_duration(node.connect_timeout),
    }


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _unnest_options(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Lift distcrond's `connection_options` to the top; remember where each key came from."""
    flat = dict(data)
    options = flat.pop("connection_options", None)
    if options is None:
        return flat, {}
    options = c.mapping(options, "connection_options")
    c.check_keys(options, SSH_FIELDS, prefix="connection_options")
    where: dict[str, str] = {}
    for key, value in options.items():
        if flat.get(key) is not None:
            raise c.fail(f"connection_options.{key}",
                         f"given both here and as the top-level {key!r}")
        flat[key] = value
        where[key] = f"connection_options.{key}"
    return flat, where
