"""The full output files of runs follow the runs' retention (docs/jobs.md).

Each peer keeps the whole output of the runs it executed in `<data_dir>/output/<run_id>.stdout`
and `.stderr`; only the tails are replicated. When the leader prunes runs through Raft
(`prune_runs`), every peer applies it, and this janitor deletes the files of the pruned runs at
once. Runs can also vanish without naming themselves (`delete_job` deletes a job's runs; a
prune applied from a snapshot brings no per-command call), so a periodic sweep deletes every
file whose run is no longer in the copy — only files older than `min_age`, so a run whose
`fire` this peer has not applied yet never loses its output.

File I/O runs off the event loop; errors are logged, never raised into the node's listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raftcron.executor.output import STREAMS
from raftcron.model.commands import Command

if TYPE_CHECKING:
    from raftcron.db.reader import ReadDb

log = logging.getLogger(__name__)

DEFAULT_SWEEP_INTERVAL = 600.0
DEFAULT_MIN_AGE = 300.0


def output_files(output_dir: Path) -> dict[str, list[Path]]:
    """run id -> its output files in `output_dir`."""
    found: dict[str, list[Path]] = {}
    suffixes = tuple(f".{s}" for s in STREAMS)
    with contextlib.suppress(FileNotFoundError), os.scandir(output_dir) as it:
        for entry in it:
            if entry.is_file() and entry.name.endswith(suffixes):
                found.setdefault(entry.name.rsplit(".", 1)[0], []).append(Path(entry.path))
    return found


def delete_outputs(output_dir: Path, run_ids: Iterable[str]) -> int:
    """Delete the output files of `run_ids`; returns how many files went."""
    deleted = 0
    for run_id in run_ids:
        if not isinstance(run_id, str) or not run_id or "/" in run_id or run_id in (".", ".."):
            continue
        for stream in STREAMS:
            with contextlib.suppress(FileNotFoundError):
                (output_dir / f"{run_id}.{stream}").unlink()
                deleted += 1
    return deleted


def sweep(output_dir: Path, run_exists: Callable[[str], bool], *, min_age: float,
          now: float) -> int:
    """Delete the files of runs the copy no longer has, if older than `min_age` seconds."""
    gone: list[str] = []
    for run_id, paths in output_files(output_dir).items():
        try:
            newest = max(p.stat().st_mtime for p in paths)
        except FileNotFoundError:
            continue
        if now - newest >= min_age and not run_exists(run_id):
            gone.append(run_id)
    return delete_outputs(output_dir, gone)


class OutputJanitor:
    """Keeps `output_dir` in step with the runs in the copy (see the module docstring)."""

    def __init__(self, *, read: ReadDb, output_dir: Path,
                 sweep_interval: float = DEFAULT_SWEEP_INTERVAL,
                 min_age: float = DEFAULT_MIN_AGE) -> None:
        self.read = read
        self.output_dir = output_dir
        self.sweep_interval = sweep_interval
        self.min_age = min_age
        self.deleted = 0
        self._task: asyncio.Task[None] | None = None

    def on_applied(self, index: int, command: Command, result: Any) -> None:
        """Node apply listener: a `prune_runs` (alone or in a batch) deletes its runs' files."""
        run_ids = list(self._pruned(command, result))
        if run_ids:
            asyncio.get_running_loop().create_task(self._delete(run_ids))

    def _pruned(self, command: Command, result: Any) -> Iterable[str]:
        if not isinstance(result, dict):
            return
        if command.op == "batch":
            for child, child_result in zip(command.children, result.get("results") or [],
                                           strict=False):
                yield from self._pruned(child, child_result)
        elif command.op == "prune_runs" and result.get("ok"):
            yield from result.get("deleted") or ()

    async def _delete(self, run_ids: list[str]) -> None:
        try:
            self.deleted += await asyncio.to_thread(delete_outputs, self.output_dir, run_ids)
        except OSError:
            log.exception("could not delete the output of pruned runs")

    async def sweep_once(self) -> int:
        """One sweep for orphaned files; returns how many files were deleted."""
        def exists(run_id: str) -> bool:
            return self.read.get_run(run_id) is not None

        n = await asyncio.to_thread(sweep, self.output_dir, exists, min_age=self.min_age,
                                    now=time.time())
        self.deleted += n
        return n

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception:  # a sweep must never take the peer down
                log.exception("output sweep failed")
            await asyncio.sleep(self.sweep_interval)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
