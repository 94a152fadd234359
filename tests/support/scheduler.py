"""A real state machine behind a fake node, for driving the scheduler tick by tick.

`FakeNode.propose` (tests/support/fake_node.py) applies the command to a real `StateMachine`
at the next index and calls the apply listeners, as the real node does once an entry is
applied on this peer; the scheduler reads the same copy through a real `ReadDb`. Commands
from "elsewhere" (the API, a worker) go through `Harness.external`, which is not counted among
the scheduler's proposals.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from raftcron import schedule
from raftcron.clock import FakeClock
from raftcron.db.reader import ReadDb
from raftcron.durations import format_time
from raftcron.model import job_from_dict, job_to_dict
from raftcron.scheduler.loop import Scheduler, SchedulerSettings
from raftcron.state.machine import StateMachine
from tests.support.fake_node import OTHER, SELF, THIRD, FakeNode
from tests.support.schedules import T0

A, B, C = SELF, OTHER, THIRD


class Harness:
    """A state copy, a fake node, a read-only view, a fake clock and a scheduler."""

    def __init__(self, tmp_path: Path, clock: FakeClock | None = None, **settings: Any) -> None:
        self.sm = StateMachine(tmp_path / "state.db")
        self.node = FakeNode(self.sm, A)
        self.read = ReadDb(tmp_path / "state.db")
        self.clock = clock or FakeClock(T0)
        self.scheduler = self.new_scheduler(**settings)

    def new_scheduler(self, **settings: Any) -> Scheduler:
        settings.setdefault("lease", timedelta(seconds=15))
        return Scheduler(node=self.node, read=self.read, clock=self.clock, self_id=A,
                         peers=[A, B, C], settings=SchedulerSettings(**settings))

    def close(self) -> None:
        self.read.close()
        self.sm.close()

    @property
    def now(self) -> str:
        return format_time(self.clock.now())

    def external(self, op: str, args: dict, key: str | None = None) -> dict:
        return self.node.apply(op, args, key)

    def put_job(self, name: str, expr: str, **fields: Any) -> dict:
        job = job_to_dict(job_from_dict({"name": name, "schedule": expr,
                                         "command": ["true"], **fields}))
        expanded = schedule.parse(expr, tz=job["tz"], name=name).expanded
        result = self.external("put_job", {"job": job, "expanded": expanded, "at": self.now})
        assert result["ok"], result
        return result

    def runs(self, job: str | None = None, status: str | None = None) -> list[dict]:
        items, _ = self.read.list_runs(job=job, status=status, limit=1000)
        return sorted(items, key=lambda r: (r["slot"], r["attempt"], r["id"]))

    def finish(self, run_id: str, status: str = "succeeded") -> dict:
        result = self.external("run_finished", {"run_id": run_id, "status": status,
                                                "exit_code": 0 if status == "succeeded" else 1,
                                                "at": self.now})
        assert result["ok"], result
        return result

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)


def slot(seconds: float) -> str:
    return format_time(T0 + timedelta(seconds=seconds))
