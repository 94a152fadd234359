"""Where a run's output goes: the whole of it to files, the last bytes of it to the outcome.

Shared by every executor. An `OutputSink` takes the bytes of stdout and stderr as they
arrive, appends them to `<output_dir>/<run_id>.stdout` and `<output_dir>/<run_id>.stderr`
(mode 0600: output may hold anything the job printed), and keeps the last
`tail_bytes` of each stream in memory. `close()` returns the two tails decoded as UTF-8
with replacement, cut on a character boundary and never longer than `tail_bytes` bytes once
encoded, plus the total number of bytes written.

A file is created when the first bytes of its stream arrive: a run that prints nothing on a
stream has no file for it (`GET /runs/{id}/output` reads a missing file of a run that is
running, or that finished having printed nothing, as empty). Creating two files per run on
the event loop cost about as much as the fork/exec itself, and most cron jobs print nothing.

Each file stops growing at `limit` bytes (the job's `output_limit`, or the daemon's): the
rest of that stream is dropped from the file but still counted and still feeds the tail, and
`truncated` is set (reported as the run's `output_truncated`).

Only the tails are replicated (`run_finished`); the files stay on the executing peer and are
served by `GET /runs/{id}/output`. Memory per run is bounded by twice the tail cap,
whatever the job prints.

Usage by an executor::

    sink = OutputSink(output_dir, spec.run_id, spec.output_tail)
    sink.write_stdout(chunk) ...        # or: await pump(reader, sink.write_stdout)
    stdout_tail, stderr_tail, total = sink.close()
    sink.truncated                      # True when a file stopped at the limit
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

from raftcron.errors import ValidationError
from raftcron.model import MAX_OUTPUT_TAIL
from raftcron.model.sizes import DEFAULT_OUTPUT_LIMIT
from raftcron.model.tails import decode_tail

STREAMS = ("stdout", "stderr")
_CHUNK = 64 * 1024


def output_dir(data_dir: Path) -> Path:
    """Where a peer keeps the whole output of the runs it executed: `<data_dir>/output`."""
    return Path(data_dir) / "output"


def output_path(output_dir: Path, run_id: str, stream: str) -> Path:
    """The file holding the whole `stream` ("stdout" or "stderr") of `run_id`.

    Raises `ValidationError(field="run_id")` for an id that is not a plain file name, so a
    crafted id can never name a file outside `output_dir`.
    """
    if stream not in STREAMS:
        raise ValidationError(f"stream must be one of {STREAMS}, got {stream!r}", field="stream")
    if (
        not isinstance(run_id, str)
        or not run_id
        or run_id in (".", "..")
        or "/" in run_id
        or "\\" in run_id
        or "\0" in run_id
    ):
        raise ValidationError(f"run_id {run_id!r} is not a valid run id", field="run_id")
    return Path(output_dir) / f"{run_id}.{stream}"


class _Tail:
    """The last `limit` bytes written, in bounded memory."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buf = bytearray()

    def add(self, data: bytes) -> None:
        if self.limit <= 0:
            return
        if len(data) >= self.limit:
            self.buf[:] = data[-self.limit :]
            return
        self.buf += data
        excess = len(self.buf) - self.limit
        if excess > 0:
            del self.buf[:excess]


class OutputSink:
    """Collects one run's stdout and stderr: full files on disk, bounded tails in memory.

    `tail_bytes` is clamped to [0, MAX_OUTPUT_TAIL]; each file holds at most `limit` bytes
    (None: `DEFAULT_OUTPUT_LIMIT`). Writes after `close()` are ignored (a late chunk from a
    dying process must not raise). Not thread-safe: one event loop.
    """

    def __init__(self, output_dir: Path, run_id: str, tail_bytes: int,
                 limit: int | None = None) -> None:
        self.run_id = run_id
        self.tail_bytes = max(0, min(int(tail_bytes), MAX_OUTPUT_TAIL))
        self.paths = {s: output_path(output_dir, run_id, s) for s in STREAMS}
        #: A stream's file, once its first bytes came.
        self._files: dict[str, BinaryIO] = {}
        self._tails = {s: _Tail(self.tail_bytes) for s in STREAMS}
        self.total_bytes = 0
        self.limit = DEFAULT_OUTPUT_LIMIT if limit is None else max(0, int(limit))
        self._written = dict.fromkeys(STREAMS, 0)
        #: Some output was left out of a file because it reached `limit`.
        self.truncated = False
        #: The first error writing the files (disk full...); the tails are kept regardless.
        self.error: OSError | None = None
        self._closed = False

    def write_stdout(self, data: bytes) -> None:
        self._write("stdout", data)

    def write_stderr(self, data: bytes) -> None:
        self._write("stderr", data)

    def _write(self, stream: str, data: bytes) -> None:
        if self._closed or not data:
            return
        room = self.limit - self._written[stream]
        if len(data) > room:
            self.truncated = True
        if self.error is None and room > 0:
            try:
                f = self._files.get(stream)
                if f is None:
                    f = self._files[stream] = _open_private(self.paths[stream])
                f.write(data[:room] if len(data) > room else data)
                self._written[stream] += min(len(data), room)
            except OSError as exc:
                self.error = exc
        self._tails[stream].add(data)
        self.total_bytes += len(data)

    def close(self) -> tuple[str, str, int]:
        """Flush and close the files; return `(stdout_tail, stderr_tail, total_bytes)`.

        Idempotent: a second call returns the same values.
        """
        if not self._closed:
            self._closed = True
            for f in self._files.values():
                try:
                    f.close()
                except OSError as exc:
                    self.error = self.error or exc
        return (
            decode_tail(self._tails["stdout"].buf, self.tail_bytes),
            decode_tail(self._tails["stderr"].buf, self.tail_bytes),
            self.total_bytes,
        )


def effective_limit(job_limit: int | None, default: int) -> int:
    """The cap on a run's output files: its job's `output_limit`, else the executor's."""
    return default if job_limit is None else job_limit


def _open_private(path: Path) -> BinaryIO:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except FileNotFoundError:  # the first output of this peer: make its directory
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, flags, 0o600)
    # Unbuffered: every chunk read from the pipe reaches the file at once, so
    # `GET /runs/{id}/output` (and a follower of it) sees a running job's output as it comes.
    # Chunks are whole pipe reads (up to 64 KiB), so this is one write(2) per read.
    return os.fdopen(fd, "wb", buffering=0)


class ByteReader(Protocol):
    """Anything with `async read(n) -> bytes` that returns b"" at end of stream.

    `asyncio.StreamReader` and asyncssh's `SSHReader` (opened with `encoding=None`) both are.
    """

    async def read(self, n: int = -1) -> bytes: ...


async def pump(reader: ByteReader, write: Callable[[bytes], None]) -> None:
    """Copy `reader` into `write` until end of stream, in chunks of 64 KiB.

    Run one per stream, concurrently (`asyncio.gather`), so a process that fills one pipe
    while the other is not read never blocks.
    """
    while True:
        chunk = await reader.read(_CHUNK)
        if not chunk:
            return
        write(chunk)
