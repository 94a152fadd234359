"""The raft journal's files on a full disk: a loud exit 70 instead of a SIGBUS.

pysyncobj (0.3.17) keeps its journal in a file it writes through a memory mapping, grown
with `mmap.resize`, which extends the file sparsely: no disk block is reserved for the new
part. When the disk is full, the first write to such a page cannot be backed and the kernel
kills the whole process with SIGBUS: status -7, nothing in the log, no supervisor told why.

`install()` swaps the two file classes pysyncobj's `FileJournal` builds (module globals of
`pysyncobj.journal`, looked up when a journal is opened) for subclasses that:

- `ReservedFile`: reserve every byte the journal file grows by (`os.posix_fallocate`, which
  glibc emulates by writing zeros where a file system has no fallocate) before anything is
  written through the mapping, so a full disk is an `OSError` at the growth, never a fault;
- `GuardedMetaStorer`: the term/vote/commit-index file, written as pysyncobj does.

Either failing to write means the journal on disk no longer matches the log in memory
(pysyncobj appends to its in-memory log before the file write, and retries a failing tick for
ever), so the peer stops at once through `watchdog.exit_now`: one CRITICAL line naming the
file and the error, exit status 70. Restarted once there is room, it replays its journal and
catches up from the others like after any crash.
"""

from __future__ import annotations

import os
from typing import Any

import pysyncobj.journal as pysyncobj_journal

from raftcron.watchdog import EXIT_STATUS, exit_now


def journal_failed(path: str, exc: OSError) -> None:
    """The one reaction to a journal file that cannot be written: stop now (never returns)."""
    exit_now(f"cannot write the raft journal {path}: {exc}; exiting with status {EXIT_STATUS} "
             "(free some space and restart: the peer catches up from the others)")


class ReservedFile(pysyncobj_journal.ResizableFile):
    """pysyncobj's journal file, every growth reserved on disk before it is written."""

    def __init__(self, fileName: str, *args: Any, **kwargs: Any) -> None:
        self._path = fileName
        try:
            super().__init__(fileName, *args, **kwargs)
            self._reserve(0, self._mapping.size())
        except OSError as exc:
            journal_failed(fileName, exc)

    @property
    def _mapping(self) -> Any:
        return self._ResizableFile__mm  # type: ignore[attr-defined]

    def _reserve(self, offset: int, length: int) -> None:
        if length > 0:
            os.posix_fallocate(self._ResizableFile__f.fileno(),  # type: ignore[attr-defined]
                               offset, length)

    def write(self, offset: int, values: bytes) -> None:
        """pysyncobj's `write`, with the new part of a grown file reserved first."""
        try:
            size = len(values)
            while offset + size > self._mapping.size():
                current = self._mapping.size()
                wanted = max(int(current * self._ResizableFile__resizeFactor),  # type: ignore[attr-defined]
                             offset + size)
                try:
                    self._mapping.resize(wanted)
                except (SystemError, OSError):
                    self._ResizableFile__extand(wanted - current)  # type: ignore[attr-defined]
                self._reserve(current, self._mapping.size() - current)
            self._mapping[offset:offset + size] = values
        except OSError as exc:
            journal_failed(self._path, exc)


class GuardedMetaStorer(pysyncobj_journal.MetaStorer):
    """pysyncobj's meta file writer; a failed write stops the peer like the journal's."""

    def storeMeta(self, meta: Any) -> None:  # pysyncobj's name
        try:
            super().storeMeta(meta)
        except OSError as exc:
            journal_failed(self.getPath(), exc)


def install() -> None:
    """Make every journal opened from now on use the classes above (idempotent)."""
    pysyncobj_journal.ResizableFile = ReservedFile  # type: ignore[misc]
    pysyncobj_journal.MetaStorer = GuardedMetaStorer  # type: ignore[misc]
