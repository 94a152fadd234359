"""The audit history recorded by apply (`state/history.py`, `model/audit.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from raftcron.model.audit import HISTORY_PER_RESOURCE, SECRET_MARK, changes
from raftcron.state.machine import StateMachine
from tests.support.records import job_body, put_job_args
from tests.support.state import Log, open_state

T0, T1, T2, T3 = ("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "2024-05-01T12:00:00Z",
                  "2024-05-01T13:00:00Z")


@pytest.fixture
def env(tmp_path: Path):
    with open_state(tmp_path) as opened:
        yield opened


def put(at: str, by: str | None = None, **extra: Any) -> dict[str, Any]:
    args = put_job_args(job_body("backup", **extra), at)
    return {**args, "by": by} if by is not None else args


def test_history_records_each_change_with_time_token_name_and_diff(env) -> None:
    log, read, _ = env
    log("put_job", put(T0, "ci", command="echo 1"))
    log("put_job", put(T1, "alice", command="echo 2", env={"DB_PASSWORD": "hunter2"}))
    log("set_paused", {"name": "backup", "paused": True, "at": T2, "by": "ops"})
    log("set_paused", {"name": "backup", "paused": False, "at": T3})
    items, cursor = read.history("job", "backup")
    assert cursor is None
    assert [(i["version"], i["op"], i["at"], i["by"]) for i in items] == [
        (4, "resume", T3, None), (3, "pause", T2, "ops"), (2, "update", T1, "alice"),
        (1, "create", T0, "ci")]
    update = items[2]["changes"]
    assert update["command"] == {"from": "echo 1", "to": "echo 2"}
    assert update["env"]["to"] == {"DB_PASSWORD": SECRET_MARK}
    assert "hunter2" not in str(items)
    assert items[1]["changes"]["paused"]["to"] is True  # absent before: the default
    assert items[3]["changes"] is None


def test_history_outlives_a_delete_and_keeps_the_last_version(env) -> None:
    log, read, _ = env
    log("put_job", put(T0))
    log("put_job", put(T1, command="echo changed"))
    log("delete_job", {"name": "backup", "at": T2, "by": "ops"})
    items, _ = read.history("job", "backup")
    assert [(i["op"], i["version"], i["by"]) for i in items[:1]] == [("delete", 2, "ops")]


def test_history_unchanged_and_refused_writes_record_nothing(env) -> None:
    log, read, _ = env
    log("put_job", put(T0))
    log("set_paused", {"name": "backup", "paused": False, "at": T1})  # already resumed
    log("put_job", {**put(T1), "create_only": True})  # refused: exists
    log("delete_job", {"name": "nope", "at": T1})  # refused: not found
    items, _ = read.history("job", "backup")
    assert [i["op"] for i in items] == ["create"]
    assert read.history("job", "nope") == ([], None)


def test_history_of_nodes_counts_versions(env) -> None:
    log, read, _ = env
    node = {"name": "db1", "connection_type": "ssh", "ssh_host": "10.0.0.9"}
    log("put_node", {"node": node, "at": T0, "by": "admin"})
    log("put_node", {"node": {**node, "capacity": 2}, "at": T1})
    log("delete_node", {"name": "db1", "at": T2, "by": "admin"})
    items, _ = read.history("node", "db1")
    assert [(i["op"], i["version"], i["at"]) for i in items] == [
        ("delete", 2, T2), ("update", 2, T1), ("create", 1, T0)]
    assert items[1]["changes"] == {"capacity": {"from": None, "to": 2}}


def test_history_is_bounded_per_job_and_paged_newest_first(env) -> None:
    log, read, _ = env
    for i in range(HISTORY_PER_RESOURCE + 5):
        log("put_job", put(T0, command=f"echo {i}"))
    first, cursor = read.history("job", "backup", limit=60)
    rest, end = read.history("job", "backup", limit=60, cursor=cursor)
    assert end is None
    versions = [i["version"] for i in first + rest]
    assert len(versions) == HISTORY_PER_RESOURCE
    assert versions == sorted(versions, reverse=True) and versions[0] == HISTORY_PER_RESOURCE + 5


def test_history_is_the_same_on_two_copies(tmp_path: Path) -> None:
    dumps = []
    for i in range(2):
        sm = StateMachine(tmp_path / f"c{i}.db")
        log = Log(sm)
        log("put_job", put(T0, "ci"))
        log("put_job", put(T1, command="x"))
        log("delete_job", {"name": "backup", "at": T2})
        dumps.append(sm.dump())
        sm.close()
    assert dumps[0] == dumps[1] and dumps[0]["history"]


@pytest.mark.parametrize(("old", "new", "expected"), [
    (None, {"a": 1}, {"a": {"from": None, "to": 1}}),
    ({"a": 1}, {"a": 1}, {}),
    ({"a": 1, "b": 2}, {"a": 1}, {"b": {"from": 2, "to": None}}),
    ({"env": {"K": "v"}}, {"env": {"K": "v", "N": "w"}},
     {"env": {"from": {"K": SECRET_MARK},
              "to": {"K": SECRET_MARK, "N": f"{SECRET_MARK} changed"}}}),
    ({"ssh_password": "a"}, {"ssh_password": "b"},
     {"ssh_password": {"from": SECRET_MARK, "to": SECRET_MARK}}),
    ({"env": None}, {"env": {"K": "v"}}, {"env": {"from": None, "to": {"K": SECRET_MARK}}}),
])
def test_changes_table(old, new, expected) -> None:
    assert changes(old, new) == expected
