"""Harness for the worker tests (it holds no tests itself).

A real StateMachine and ReadDb on a tmp SQLite file, a fake node that applies proposals at once
(and tells its apply listeners, as the real one does), and a fake executor whose runs end when
the test says so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from raftcron.clock import FakeClock
from raftcron.db.reader import ReadDb
from raftcron.durations import format_time
from raftcron.errors import UnavailableError
from raftcron.executor.base import RunOutcome, RunSpec
from raftcron.model import RunStatus, commands
from raftcron.state.machine import StateMachine
from raftcron.worker.runner import Worker

SELF = "127.0.0.1:7101"
OTHER = "127.0.0.1:7102"
T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
WORKER_OPS = frozenset({"run_started", "run_finished", "run_lost", "batch"})


class FakeNode:
    """Applies each proposal to the state machine at once; can fail the next N proposals."""

    def __init__(self, state: StateMachine) -> None:
        self.state = state
        self.index = state.applied_index
        self.apply_listeners: list[Any] = []
        self.proposals: list[tuple[str, dict, str | None]] = []
        self.fail_next = 0
        #: What `Node.caught_up` says: False while a backlog is being replayed.
        self.caught_up = True

    async def propose(
        self, op: str, args: dict, *, key: str | None = None, timeout: float = 5.0
    ) -> dict:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise UnavailableError("no leader (test)")
        return self.apply(op, args, key=key)

    def apply(self, op: str, args: dict, *, key: str | None = None, notify: bool = True) -> dict:
        payload = commands.encode(op, args, key)
        self.index += 1
        result = self.state.apply(self.index, payload)
        self.proposals.append((op, args, key))
        if notify:
            command = commands.decode(payload)
            for fn in list(self.apply_listeners):
                fn(self.index, command, result)
        return result

    def worker_proposals(self) -> list[tuple[str, dict, str | None]]:
        return [p for p in self.proposals if p[0] in WORKER_OPS]


class FakeExecutor:
    """Records each spec, calls on_started at once, and ends a run when `release` says so."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.specs: list[RunSpec] = []
        self.gate = asyncio.Event()
        self.cancel_events: dict[str, asyncio.Event] = {}
        self.cancelled: list[str] = []

    def release(self) -> None:
        self.gate.set()

    async def run(self, spec: RunSpec, *, on_started: Any = None) -> RunOutcome:
        self.specs.append(spec)
        cancel = self.cancel_events[spec.run_id] = asyncio.Event()
        started = self.clock.now()
        if on_started is not None:
            on_started(started)
        gate = asyncio.ensure_future(self.gate.wait())
        stop = asyncio.ensure_future(cancel.wait())
        try:
            await asyncio.wait({gate, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gate.cancel()
            stop.cancel()
            del self.cancel_events[spec.run_id]
        status = RunStatus.CANCELLED if cancel.is_set() else RunStatus.SUCCEEDED
        return RunOutcome(
            status=status,
            exit_code=0 if status == "succeeded" else None,
            stdout_tail=f"out {spec.run_id}",
            stderr_tail="",
            reason=None,
            started_at=started,
            finished_at=self.clock.now(),
            output_bytes=7,
        )

    async def cancel(self, run_id: str) -> bool:
        event = self.cancel_events.get(run_id)
        if event is None:
            return False
        self.cancelled.append(run_id)
        event.set()
        return True


@dataclass
class Env:
    tmp_path: Path
    state: StateMachine
    read: ReadDb
    node: FakeNode
    clock: FakeClock
    workers: list[Worker] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.tmp_path / "data"

    def worker(self, executors: dict[str, Any], **kw: Any) -> Worker:
        worker = Worker(
            node=self.node,
            read=self.read,
            clock=self.clock,
            self_id=SELF,
            data_dir=self.data_dir,
            executors=executors,
            **kw,
        )
        self.node.apply_listeners.append(worker.on_applied)
        self.workers.append(worker)
        return worker

    def detach(self, worker: Worker) -> None:
        self.node.apply_listeners.remove(worker.on_applied)

    def put_job(self, name: str = "job", command: Any = ("true",), **fields: Any) -> None:
        job = {
            "name": name,
            "schedule": "@every 1h",
            "type": "command",
            "command": list(command) if isinstance(command, tuple) else command,
            "paused": False,
            **fields,
        }
        result = self.node.apply(
            "put_job", {"job": job, "expanded": "@every 1h", "at": format_time(self.clock.now())}
        )
        assert result["ok"], result

    def record(
        self, run_id: str, *, job: str = "job", peer: str = SELF, target: str | None = None
    ) -> dict:
        return {
            "run_id": run_id,
            "job": job,
            "slot": format_time(T0),
            "attempt": 1,
            "peer": peer,
            "target": target,
            "status": "pending",
            "reason": None,
            "manual": True,
            "retry_of": None,
            "fired_at": format_time(self.clock.now()),
        }

    def fire(self, *records: dict, notify: bool = True) -> dict:
        result = self.node.apply(
            "fire", {"runs": list(records), "at": format_time(self.clock.now())}, notify=notify
        )
        assert result["ok"] and len(result["accepted"]) == len(records), result
        return result

    def run(self, run_id: str) -> dict:
        run = self.read.get_run(run_id)
        assert run is not None, run_id
        return run

    def status_is(self, run_id: str, *statuses: str) -> bool:
        return self.run(run_id)["status"] in statuses

    async def close(self) -> None:
        for worker in self.workers:
            await worker.stop()
        self.read.close()
        self.state.close()


def make_env(tmp_path: Path) -> Env:
    state = StateMachine(tmp_path / "state.db")
    return Env(
        tmp_path=tmp_path,
        state=state,
        read=ReadDb(tmp_path / "state.db"),
        node=FakeNode(state),
        clock=FakeClock(T0),
    )


async def settle(worker: Worker, timeout: float = 20.0) -> None:
    """Wait until the worker's reporter has nothing pending or in flight."""
    assert await worker.reporter.wait_idle(timeout), "reports did not settle"
