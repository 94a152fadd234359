"""`<data_dir>/started.log`: the ids of runs this peer may have started, durable before spawn.

The worker appends a run's id here, and waits for the fsync, before it spawns the process. On
restart the file answers the one question the replicated state cannot: "might this pending
run already have been started here?". An id in the file: possibly started, so it is reported
lost (never run twice). An id not in the file: certainly never started, so it may start now.

Appends are group-committed: ids recorded within one write share one fsync, so the cost does
not grow with the rate of runs. `rewrite(keep)` replaces the file atomically (temp file,
fsync, rename, fsync of the directory) so it does not grow forever; a crash at any point
leaves either the old file or the new one. A torn last line (a crash mid-append, before the
fsync returned, so before any spawn) is ignored by `load`.

Appends and rewrites are serialized by one lock; file I/O runs in a worker thread so the event
loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from pathlib import Path

FILE_NAME = "started.log"


class StartedLog:
    """The started-runs file of one peer. Use from one event loop."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / FILE_NAME
        self._lock = asyncio.Lock()
        self._pending: list[tuple[str, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        #: Lines in the file (recorded since the last rewrite, plus the ones it kept).
        self.lines = 0

    def load(self) -> set[str]:
        """The ids in the file (a torn, unterminated last line is not one)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return set()
        complete = data[: data.rfind(b"\n") + 1]
        ids = {line for line in complete.decode("utf-8", "replace").splitlines() if line}
        self.lines = len(ids)
        return ids

    async def record(self, run_id: str) -> None:
        """Append `run_id`; returns once it is on disk (fsync), and not before."""
        if "\n" in run_id or not run_id:
            raise ValueError(f"run id {run_id!r} cannot be logged")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._pending.append((run_id, fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        await fut

    async def _flush(self) -> None:
        """Write what is queued, one fsync per round, until nothing is. Every run of a round
        is released in the same loop iteration (waiters taking the lock in turn would be
        released one iteration each: a thousand iterations for a fire of a thousand)."""
        while self._pending:
            # The lock is taken per round, so a rewrite waiting for it is not starved by a
            # steady stream of runs.
            async with self._lock:
                # One turn of the loop first: the other runs of the same fire, prepared
                # together, queue their ids meanwhile.
                await asyncio.sleep(0)
                batch, self._pending = self._pending, []
                if not batch:
                    continue
                try:
                    await asyncio.to_thread(self._append, [rid for rid, _ in batch])
                except Exception as exc:  # every waiter hears of it (OSError: disk trouble)
                    for _, f in batch:
                        if not f.done():
                            f.set_exception(exc)
                else:
                    self.lines += len(batch)
                    for _, f in batch:
                        if not f.done():
                            f.set_result(None)

    def compact_soon(self, live: int, keep: Callable[[], Iterable[str]],
                     running: asyncio.Task | None) -> asyncio.Task | None:
        """Start a `rewrite` keeping `keep()` when the file holds more than twice the `live`
        ids (plus 1,000) and none is under way; the task under way (or the new one). The ids
        are read under the log's lock, so a run recorded meanwhile stays in."""
        if self.lines <= 2 * live + 1000 or (
                running is not None and not running.done()):
            return running
        return asyncio.get_running_loop().create_task(self.rewrite(keep))

    async def rewrite(self, keep: Iterable[str] | Callable[[], Iterable[str]]) -> None:
        """Replace the file's content by `keep`, atomically.

        Pass a callable to have the ids read only once the lock is held: an id recorded while
        this rewrite waited for the lock is then never dropped by it.
        """
        async with self._lock:
            ids = sorted(set(keep() if callable(keep) else keep))
            await asyncio.to_thread(self._replace, ids)
            self.lines = len(ids)

    def _append(self, ids: list[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(f"{rid}\n" for rid in ids).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _replace(self, ids: list[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            _write_all(fd, "".join(f"{rid}\n" for rid in ids).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
