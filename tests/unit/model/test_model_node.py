"""Node validation: distcrond's shape, SSH host:port parsing, refusals naming their field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from raftcron.errors import ValidationError
from raftcron.model import ConnectionType, Node, node_from_dict, node_to_dict

DISTCROND_REMOTE = {
    "roles": ["role1", "role2"],
    "connection_type": "ssh",
    "connection_options": {
        "ssh_user": "mhelmich",
        "ssh_host": "your.remote.host:22",
        "ssh_private_key_file": "/home/mhelmich/.ssh/id_rsa",
    },
}


def test_node_from_dict_reads_distcronds_ssh_node() -> None:
    node = node_from_dict(DISTCROND_REMOTE, name="node_remote")
    assert node == Node(
        name="node_remote", roles=["role1", "role2"], connection_type=ConnectionType.SSH,
        ssh_user="mhelmich", ssh_host="your.remote.host", ssh_port=22,
        ssh_private_key_file="/home/mhelmich/.ssh/id_rsa",
    )
    assert node.known_hosts is None and node.insecure_no_host_key_check is False
    assert node.capacity == 4 and node.max_sessions == 8
    assert node.connect_timeout == timedelta(seconds=10)


def test_node_from_dict_reads_a_local_node() -> None:
    node = node_from_dict({"roles": ["role1"], "connection_type": "local"}, name="here")
    assert node.connection_type is ConnectionType.LOCAL
    assert node.ssh_host is None and node.ssh_port is None


@pytest.mark.parametrize(
    ("ssh_host", "host", "port"),
    [("db1", "db1", 22), ("db1:2222", "db1", 2222), ("10.0.0.7:22", "10.0.0.7", 22),
     ("[::1]:2200", "::1", 2200), ("::1", "::1", 22), ("[fe80::1]", "fe80::1", 22)],
)
def test_node_from_dict_splits_the_port_off_ssh_host(ssh_host: str, host: str, port: int) -> None:
    node = node_from_dict({"name": "n", "connection_type": "ssh", "ssh_user": "u",
                           "ssh_host": ssh_host})
    assert (node.ssh_host, node.ssh_port) == (host, port)
    assert node_from_dict(node_to_dict(node)) == node


def test_node_from_dict_takes_ssh_port_separately() -> None:
    node = node_from_dict({"name": "n", "connection_type": "ssh", "ssh_user": "u",
                           "ssh_host": "db1", "ssh_port": 2022})
    assert node.ssh_port == 2022


def test_node_to_dict_is_flat_and_round_trips() -> None:
    node = node_from_dict(DISTCROND_REMOTE, name="r")
    out = node_to_dict(node)
    assert out["ssh_host"] == "your.remote.host" and out["ssh_port"] == 22
    assert "connection_options" not in out
    assert out["connect_timeout"] == "10s"
    assert node_from_dict(out) == node


def ssh(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "n", "connection_type": "ssh", "ssh_user": "u",
                            "ssh_host": "h"}
    for key, value in fields.items():
        if value is ...:
            body.pop(key, None)
        else:
            body[key] = value
    return body


BAD: list[tuple[Any, str]] = [
    (ssh(name=...), "name"),
    (ssh(name="bad name"), "name"),
    (ssh(connection_type="telnet"), "connection_type"),
    (ssh(ssh_host=...), "ssh_host"),
    (ssh(ssh_user=...), "ssh_user"),
    (ssh(ssh_user="two words"), "ssh_user"),
    (ssh(ssh_host="h:0"), "ssh_host"),
    (ssh(ssh_host="h:99999"), "ssh_host"),
    (ssh(ssh_host="h:ssh"), "ssh_host"),
    (ssh(ssh_host="[::1"), "ssh_host"),
    (ssh(ssh_host="bad host"), "ssh_host"),
    (ssh(ssh_host="h:22", ssh_port=2222), "ssh_port"),
    (ssh(ssh_port="22"), "ssh_port"),
    (ssh(known_hosts="/k", insecure_no_host_key_check=True), "insecure_no_host_key_check"),
    (ssh(insecure_no_host_key_check="yes"), "insecure_no_host_key_check"),
    (ssh(capacity=0), "capacity"),
    (ssh(max_sessions=True), "max_sessions"),
    (ssh(connect_timeout="0s"), "connect_timeout"),
    (ssh(roles=["a", "a"]), "roles.1"),
    (ssh(rolez=["a"]), "rolez"),
    ({"name": "n", "connection_type": "local", "ssh_host": "h"}, "ssh_host"),
    ({"name": "n", "connection_options": {"ssh_host": "h"}}, "connection_options.ssh_host"),
    ({"name": "n", "connection_type": "ssh", "connection_options": {"ssh_user": "u"}},
     "ssh_host"),
    ({"name": "n", "connection_type": "ssh",
      "connection_options": {"ssh_user": "u", "ssh_hots": "h"}}, "connection_options.ssh_hots"),
    ({**DISTCROND_REMOTE, "name": "n", "ssh_user": "other"}, "connection_options.ssh_user"),
    ({"name": "n", "connection_options": "h"}, "connection_options"),
    (["n"], "node"),
]


@pytest.mark.parametrize(("body", "field"), BAD, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD)])
def test_node_from_dict_refusal_names_the_field(body: Any, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        node_from_dict(body)
    assert exc.value.field == field
    assert exc.value.message.startswith(field)


def test_node_from_dict_ignores_read_only_fields() -> None:
    body = {**node_to_dict(node_from_dict(ssh())), "healthy": True, "load": 0.5, "running": 2}
    assert node_from_dict(body) == node_from_dict(ssh())


def test_node_from_dict_refuses_a_name_that_disagrees() -> None:
    with pytest.raises(ValidationError) as exc:
        node_from_dict(ssh(name="a"), name="b")
    assert exc.value.field == "name"


def test_node_from_dict_takes_back_what_the_api_serves() -> None:
    # A client may PUT back the body GET /nodes/{name} gave it (health fields included).
    import json

    from raftcron.db.queries import node_dict

    spec = node_to_dict(node_from_dict(ssh()))
    row = {"spec": json.dumps(spec), "healthy": 0, "health_reason": "connect refused",
           "health_at": None, "created_at": None, "updated_at": None}
    assert node_from_dict(node_dict(row)) == node_from_dict(ssh())
