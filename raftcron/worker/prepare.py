"""Preparing the worker's runs: from a run record to its executor and `RunSpec`.

The runs of one `fire` arrive together; each one asks for its preparation, and all the asks of
one loop iteration are served by one thread hop that reads each job (and target node) from
this peer's copy once, and checks each run in the copy: a run the copy no longer holds as
`pending` and assigned here (lost, cancelled, finished meanwhile) is not prepared, so it is
never started (admission.py states the whole rule). At hundreds of runs per second the hops,
one per run, not the reads, were what delayed the spawns.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from raftcron.errors import ValidationError
from raftcron.executor.base import Executor, RunSpec
from raftcron.model import Node, node_from_dict
from raftcron.worker.run_spec import build_run_spec, run_id_of

if TYPE_CHECKING:
    from raftcron.db.reader import ReadDb

_NODE_FIELDS = frozenset(f.name for f in dataclasses.fields(Node))


class Preparer:
    """Prepares runs for the worker. Use from one event loop."""

    def __init__(self, *, read: ReadDb, executors: Mapping[str, Executor], self_id: str) -> None:
        self.read = read
        self.executors = executors
        self.self_id = self_id
        self._queue: list[tuple[Mapping[str, Any], asyncio.Future[Any]]] = []

    async def prepare(self, run: Mapping[str, Any]) -> tuple[Executor, RunSpec] | None:
        """Executor and spec of `run`, batched with the other runs asked for in this loop
        iteration; None when this peer's copy no longer holds it as pending and assigned here.
        Raises `ValidationError` (naming the field) when the run cannot run here.

        One thread hop per batch instead of one per run: at hundreds of runs per second the
        hops, not the reads, were what delayed the spawns."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._queue.append((run, fut))
        if len(self._queue) == 1:
            # Runs after every task step already queued in this iteration (the other runs of
            # the same fire), so they all join this batch.
            loop.call_soon(self._flush)
        return await fut

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        if batch:
            asyncio.get_running_loop().create_task(self._prepare_batch(batch))

    async def _prepare_batch(self, batch: list[tuple[Mapping[str, Any], asyncio.Future[Any]]],
                             ) -> None:
        try:
            results = await self.read.call(self._prepare_all, [run for run, _ in batch])
        except asyncio.CancelledError:
            for _, fut in batch:
                fut.cancel()
            raise
        except Exception as exc:  # the thread itself failed: each run fails alone
            results = [exc] * len(batch)
        for (_, fut), result in zip(batch, results, strict=True):
            if fut.done():
                continue  # its run was cancelled meanwhile
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                fut.set_result(result)

    def _prepare_all(self, runs: list[Mapping[str, Any]]) -> list[Any]:
        """`_prepare` each run (in a thread), each job read once; an error is returned in
        place of that run's result, so one bad run does not fail the others, and None in
        place of a run no longer pending here."""
        jobs: dict[str, Any] = {}
        out: list[Any] = []
        for run in runs:
            try:
                row = self._pending_row(run)
                # The copy's row adds what the fire record lacks (triggered_by).
                out.append(None if row is None else self._prepare(
                    {**run, "triggered_by": row.get("triggered_by")}, jobs))
            except Exception as exc:
                out.append(exc)
        return out

    def _pending_row(self, run: Mapping[str, Any]) -> dict | None:
        """The copy's row of `run` if it holds it as pending and assigned here, else None. One
        primary-key read per run: reading this peer's pending runs per batch instead grew
        with the backlog, so an overloaded peer spent more per start the further behind it
        was."""
        row = self.read.get_run(run_id_of(run))
        if row is not None and row.get("status") == "pending" and (
                row.get("peer") == self.self_id):
            return row
        return None

    def _prepare(self, run: Mapping[str, Any], jobs: dict[str, Any] | None = None,
                 ) -> tuple[Executor, RunSpec]:
        """Executor and spec of `run` (runs in a thread: it reads the copy). `jobs` caches
        the jobs already read in this batch."""
        name = str(run.get("job"))
        if jobs is None:
            jobs = {}
        if name not in jobs:
            jobs[name] = self.read.get_job(name)
        job = jobs[name]
        if job is None:
            raise ValidationError(f"job {run.get('job')!r} no longer exists", field="job")
        target_name = run.get("target")
        node: Node | None = None
        kind = "local"
        if target_name and target_name != self.self_id:
            data = self.read.get_node(target_name)
            if data is None:
                raise ValidationError(f"target node {target_name!r} does not exist", field="target")
            node = node_from_dict({k: v for k, v in data.items() if k in _NODE_FIELDS})
            kind = str(node.connection_type)
        executor = self.executors.get(kind)
        if executor is None:
            raise ValidationError(f"this peer has no {kind} executor", field="target")
        return executor, build_run_spec(run, job, self_id=self.self_id, target=node)
