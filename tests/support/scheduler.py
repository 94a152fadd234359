"""A real state machine behind a fake node, for driving the scheduler tick by tick.

(No tests of its own: the name keeps it among the scheduler's test files.)

`FakeNode.propose` applies the command to a real `StateMachine` at the next index and calls
the apply listeners, as `node.Node` does once an entry is applied on this peer; the scheduler
reads the same copy through a real `ReadDb`. Commands from "elsewhere" (the API, a worker)
go through `Harness.external`, which is not counted among the scheduler's proposals.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from raftcron import schedule
from raftcron.clock import FakeClock
from raftcron.db.reader import ReadDb
from raftcron.durations import format_time
from raftcron.errors import UnavailableError
from raftcron.model import job_from_dict, job_to_dict
from raftcron.model.commands import decode, encode
from raftcron.scheduler.loop import Scheduler, SchedulerSettings
from raftcron.state.machine import StateMachine

T0 = datetime(2024, 1, 1, tzinfo=UTC)
A, B, C = "127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103"


class FakeNode:
    def __init__(self, sm: StateMachine, self_id: str = A) -> None:
        self.sm = sm
        self.index = sm.applied_index
        self.is_leader = True
        self.listeners: list[Callable[[int, Any, dict], None]] = []
        self.proposals: list[tuple[str, dict, str | None]] = []
        self.fail_next = 0
        self.peers = [{"id": A, "self": True, "reachable": True, "last_contact": 0.0},
                      {"id": B, "self": False, "reachable": True, "last_contact": 0.1},
                      {"id": C, "self": False, "reachable": True, "last_contact": 0.1}]

    def add_apply_listener(self, fn: Callable[[int, Any, dict], None]) -> None:
        self.listeners.append(fn)

    async def propose(self, op: str, args: dict, *, key: str | None = None,
                      timeout: float = 5.0) -> dict:
        if self.fail_next:
            self.fail_next -= 1
            raise UnavailableError("no quorum (test)")
        self.proposals.append((op, args, key))
        return self.apply(op, args, key)

    def apply(self, op: str, args: dict, key: str | None = None) -> dict:
        payload = encode(op, args, key)
        self.index += 1
        result = self.sm.apply(self.index, payload)
        command = decode(payload)
        for fn in self.listeners:
            fn(self.index, command, result)
        return result

    def status(self) -> dict:
        return {"id": A, "role": "leader", "leader": A, "peers": [dict(p) for p in self.peers]}

    def set_peer(self, peer: str, **fields: Any) -> None:
        for p in self.peers:
            if p["id"] == peer:
                p.update(fields)


class Harness:
    """A state copy, a fake node, a read-only view, a fake clock and a scheduler."""

    def __init__(self, tmp_path: Path, clock: FakeClock | None = None, **settings: Any) -> None:
        self.sm = StateMachine(tmp_path / "state.db")
        self.node = FakeNode(self.sm)
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
