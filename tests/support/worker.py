"""Harness for the worker tests.

A real StateMachine and ReadDb on a tmp SQLite file, the fake node (tests/support/fake_node.py:
it applies proposals at once and tells its apply listeners, as the real one does), and a fake
executor whose runs end when the test says so.
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
from raftcron.executor.base import RunOutcome, RunSpec
from raftcron.model import RunStatus
from raftcron.state.machine import StateMachine
from raftcron.worker.runner import Worker
from tests.support.fake_node import SELF, FakeNode
from tests.support.records import run_record

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
WORKER_OPS = frozenset({"run_started", "run_finished", "run_lost", "batch"})


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
        """A manual run of `job` at T0 on `peer`, fired now."""
        return run_record(run_id, job, format_time(T0), peer=peer, target=target, manual=True,
                          fired_at=format_time(self.clock.now()))

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

    def worker_proposals(self) -> list[tuple[str, dict, str | None]]:
        """What the worker proposed (the node's proposals of the worker's ops)."""
        return [p for p in self.node.proposals if p[0] in WORKER_OPS]

    def proposed(self, op: str) -> list[dict]:
        """The arguments of every `op` the worker proposed, batch entries included."""
        out = []
        for name, args, _ in self.worker_proposals():
            if name == op:
                out.append(args)
            elif name == "batch":
                out += [e["args"] for e in args["commands"] if e["op"] == op]
        return out

    def marker_job(self) -> Path:
        """A job whose every run appends its id to a file: the file says what executed."""
        ran = self.tmp_path / "ran"
        self.put_job(command=f'echo "$RAFTCRON_RUN_ID" >> {ran}')
        return ran

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


def executed(ran: Path) -> list[str]:
    """The run ids a `marker_job` file holds, in order."""
    return ran.read_text().split() if ran.exists() else []


async def settle(worker: Worker, timeout: float = 20.0) -> None:
    """Wait until the worker's reporter has nothing pending or in flight."""
    assert await worker.reporter.wait_idle(timeout), "reports did not settle"
