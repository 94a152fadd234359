"""The leader's cluster-wide blackout windows and group limits: the config's, the state's
(read again after the ops that change them), and what one plan of one job sees."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from raftcron.planning.job_plan import JobPlan
from raftcron.scheduler.blackouts import ClusterBlackouts
from raftcron.scheduler.groups import ClusterGroups


class FakeRead:
    def __init__(self) -> None:
        self.windows = [{"name": "api-w", "schedule": "* 2 * * *", "tz": "UTC"},
                        {"name": "cfg", "schedule": "* 9 * * *", "tz": "UTC"}]
        self.groups = [{"name": "db", "limit": 1}]
        self.reads = 0

    def list_blackouts(self) -> list[dict]:
        self.reads += 1
        return list(self.windows)

    def list_groups(self) -> list[dict]:
        self.reads += 1
        return list(self.groups)

    def group_loads(self) -> dict:
        return {"db": {"active": 1, "waiting": 0}}


def sched(read: FakeRead) -> Any:
    async def db(fn: Any, *args: Any) -> Any:
        return fn(*args)
    return SimpleNamespace(read=read, db=db)


def test_scheduler_blackouts_config_then_state_then_the_jobs_own() -> None:
    read = FakeRead()
    b = ClusterBlackouts((("cfg", "* 0 * * *", "UTC"),))
    asyncio.run(b.refresh(sched(read)))
    asyncio.run(b.refresh(sched(read)))
    assert read.reads == 1  # read once until a change
    names = [w.name for w in b.for_job(JobPlan.of({"name": "j", "blackout": ["* 5 * * *"],
                                                   "tz": "Europe/Berlin"}))]
    # The job's own first, then the config's; the state's window named like a config one
    # is left out (the config defines it).
    assert names == ["* 5 * * *", "cfg", "api-w"]
    b.on_applied(7, SimpleNamespace(op="put_blackout"), {"ok": True})
    read.windows = []
    asyncio.run(b.refresh(sched(read)))
    assert [w.name for w in b.cluster()] == ["cfg"] and read.reads == 2


def test_scheduler_groups_the_apis_limit_wins() -> None:
    read = FakeRead()
    g = ClusterGroups((("db", 3), ("other", 2)))
    gate = asyncio.run(g.gate(sched(read), True))
    assert g.limits() == {"db": 1, "other": 2}
    assert gate is not None
    out = gate.apply(JobPlan.of({"name": "j", "concurrency_group": "db"}),
                     [{"run_id": "r", "status": "pending"}])
    assert out[0]["status"] == "waiting"
    assert asyncio.run(g.gate(sched(read), False)) is None
    g.on_applied(9, SimpleNamespace(op="delete_group"), {"ok": True})
    read.groups = []
    asyncio.run(g.refresh(sched(read)))
    assert g.limits() == {"db": 3, "other": 2}
