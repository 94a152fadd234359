"""Group commit (`api.group_commit`): concurrent single job writes become one `batch` entry,
each write still answered with its own result and honouring its own idempotency key; a
lone write stays a plain `put_job`. Over a real state machine behind FakeNode."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from raftcron.api.group_commit import GroupCommit
from raftcron.state.machine import StateMachine
from tests.support.fake_node import FakeNode

AT = "2030-01-01T00:00:00Z"


class Rt:
    """What `GroupCommit` needs of the API runtime: `propose` through the node."""

    def __init__(self, node: FakeNode) -> None:
        self.node = node
        self.extras: dict[str, Any] = {}

    async def propose(self, op: str, args: dict, key: str | None) -> dict:
        return await self.node.propose(op, args, key=key)


def put(name: str, **job: Any) -> dict:
    return {"job": {"name": name, "schedule": "0 * * * *", **job}, "expanded": "0 * * * *",
            "at": AT, "create_only": False}


@pytest.fixture
def rt(tmp_path: Path):
    sm = StateMachine(tmp_path / "state.db")
    yield Rt(FakeNode(sm, "p1"))
    sm.close()


async def test_group_commit_concurrent_writes_share_one_entry(rt: Rt) -> None:
    gc = GroupCommit()
    results = await asyncio.gather(*(gc.propose_put(rt, put(f"j{i}"), f"key-{i}")
                                     for i in range(20)))
    assert [op for op, _, _ in rt.node.proposed] == ["batch"]
    assert all(r["ok"] and r["created"] for r in results)
    # Each write keeps its own key: a retry of one answers its first outcome, applies nothing.
    again = await gc.propose_put(rt, put("j3", description="changed"), "key-3")
    assert again == results[3]
    spec = {row[0]: row[1] for row in rt.node.state.dump()["jobs"]}["j3"]
    assert "changed" not in spec


async def test_group_commit_a_lone_write_is_a_plain_put_job(rt: Rt) -> None:
    result = await GroupCommit().propose_put(rt, put("solo"), None)
    assert result["ok"] and [op for op, _, _ in rt.node.proposed] == ["put_job"]


async def test_group_commit_one_refused_write_does_not_refuse_the_others(rt: Rt) -> None:
    await rt.node.propose("put_job", {**put("f"), "managed_by": "file:f.toml"})
    gc = GroupCommit()
    a, f = await asyncio.gather(gc.propose_put(rt, put("a"), None),
                                gc.propose_put(rt, put("f"), None))
    assert a["ok"] and f["ok"] is False and f["error"] == "managed"
