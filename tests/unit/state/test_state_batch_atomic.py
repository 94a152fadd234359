"""An atomic `batch` (command version 3, `POST /jobs:batch`): every entry applies or none
does, and the refusal names the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from raftcron.model.commands import version_of
from raftcron.state.machine import StateMachine
from tests.support.state import Log

T0 = "2024-05-01T10:00:00Z"


def put(name: str, **extra) -> dict:
    return {"op": "put_job", "key": None,
            "args": {"job": {"name": name, "schedule": "0 * * * *"}, "expanded": "0 * * * *",
                     "at": T0, **extra}}


@pytest.fixture
def sm(tmp_path: Path):
    machine = StateMachine(tmp_path / "state.db")
    yield machine
    machine.close()


def test_state_atomic_batch_applies_every_entry(sm) -> None:
    result = Log(sm)("batch", {"commands": [put("a"), put("b")], "atomic": True})
    assert result["ok"] and [r["created"] for r in result["results"]] == [True, True]
    assert [row[0] for row in sm.dump()["jobs"]] == ["a", "b"]


def test_state_atomic_batch_with_one_refused_entry_applies_none(sm) -> None:
    log = Log(sm)
    log("put_job", {**put("f", managed_by="file:f.toml")["args"]})
    result = log("batch", {"commands": [put("a"), put("f"), put("c")], "atomic": True})
    assert result["ok"] is False and result["error"] == "managed"
    assert result["index"] == 1 and result["field"] == "commands[1].name"
    assert [row[0] for row in sm.dump()["jobs"]] == ["f"]
    # The same batch, not atomic (version 2): the others apply.
    result = log("batch", {"commands": [put("a"), put("f"), put("c")]})
    assert [r["ok"] for r in result["results"]] == [True, False, True]


def test_commands_atomic_batch_needs_version_3() -> None:
    assert version_of("batch", {"commands": [put("a")]}) == 1
    assert version_of("batch", {"commands": [put("a")], "atomic": True}) == 3
