"""The watchdog: a peer missing a thread it needs stops, loudly, so its supervisor restarts it.

A peer whose raft thread has died still answers `/healthz` (the API runs on the main loop) but
never becomes ready and never applies anything again: a zombie no supervisor notices. The
watchdog turns that into an exit: it checks its probes every `interval` seconds from a thread
of its own, and the first probe that reports a problem makes it log one CRITICAL line naming
the thread and why, and leave the process with `EXIT_STATUS` (70, EX_SOFTWARE) at once (no
cleanup: the journal and the SQLite copy are crash-safe, and a restart replays from them).

What is watched (`raftcron.daemon.peer` registers them):

- `raft`: pysyncobj's tick thread is alive and completes a tick at least every
  `RAFT_STALL_LIMIT` seconds (`Node.raft_problem`). A tick stuck for that long, or one that
  fails every time (pysyncobj logs and retries a failing tick forever), is as dead.
- `event loop`: the main thread's asyncio loop ran a callback within `LOOP_STALL_LIMIT`.
  Shorter stalls are not fatal but are what a user meets as an API that does not answer: one
  over `LOOP_STALL_WARN` is logged at WARNING with where the loop thread is (sampled from this
  thread while it is blocked), and its whole length once the loop runs again.
- Short-lived threads that must not fail silently (the executor's reaper, one per child
  process) call `thread_died(name, reason)` themselves when they hit an unexpected error: the
  run would otherwise never finish.

Thread pools (the API's readers, `asyncio.to_thread`) are not watched: their threads never die
of a task's exception, which goes back to the caller's future. Long-lived asyncio tasks (the
scheduler, the worker's report loop, the output sweep, the node prober) catch and log every
exception per pass, so they do not die either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Exit status when a needed thread died (EX_SOFTWARE), the same as a log that cannot apply.
EXIT_STATUS = 70
#: A raft tick taking longer than this is a dead raft thread. Generous: loading a large
#: snapshot runs inside one tick and takes a few seconds for 100,000 jobs.
RAFT_STALL_LIMIT = 120.0
#: An event loop that ran nothing for this long is stuck.
LOOP_STALL_LIMIT = 120.0
#: An event loop blocked this long is logged (where, then how long), at most one stall per
#: `LOOP_STALL_LOG_EVERY` seconds (a peer under overload must not flood its log).
LOOP_STALL_WARN = 0.5
LOOP_STALL_LOG_EVERY = 30.0
#: Innermost frames named in a stall's warning.
STALL_FRAMES = 8

Probe = Callable[[], str | None]
_exit_lock = threading.Lock()


def thread_died(name: str, reason: str) -> None:
    """Log why `name` died at CRITICAL (and on stderr) and exit with `EXIT_STATUS` now.

    Callable from any thread; the first caller wins, the others wait for the exit."""
    exit_now(f"thread {name!r} died: {reason}; exiting with status {EXIT_STATUS} so a "
             "supervisor restarts this peer")


def exit_now(message: str, *, log_it: bool = True) -> None:
    """The one way a peer stops on a fatal problem: `message` at CRITICAL (unless the caller
    logged it already) and on stderr, handlers flushed, then `os._exit(EXIT_STATUS)` with no
    cleanup (the journal and the SQLite copy are crash-safe). Callable from any thread."""
    with _exit_lock:
        if log_it:
            with contextlib.suppress(Exception):
                log.critical("%s", message)
        with contextlib.suppress(Exception):
            sys.stderr.write(f"raftcron: fatal: {message}\n")
            sys.stderr.flush()
        for handler in logging.getLogger().handlers:
            with contextlib.suppress(Exception):
                handler.flush()
        os._exit(EXIT_STATUS)


class Watchdog:
    """Checks `probes` (name -> callable returning None or what is wrong) every `interval`
    seconds in a daemon thread; the first problem ends the process through `on_dead(name,
    reason)` (default `thread_died`). `stop()` before a clean shutdown, so the threads being
    stopped on purpose are not taken for dead ones."""

    def __init__(self, *, interval: float = 0.5,
                 on_dead: Callable[[str, str], None] = thread_died) -> None:
        self.interval = interval
        self._on_dead = on_dead
        self._probes: dict[str, Probe] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, name: str, probe: Probe) -> None:
        self._probes[name] = probe

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="raftcron-watchdog",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    def check(self) -> tuple[str, str] | None:
        """The first (name, problem) reported by a probe, or None when all is well."""
        for name, probe in list(self._probes.items()):
            try:
                problem = probe()
            except Exception:  # a probe that cannot tell is a bug: say so, go on
                log.exception("watchdog probe %r failed", name)
                continue
            if problem:
                return name, problem
        return None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            found = self.check()
            if found is not None and not self._stop.is_set():
                self._on_dead(*found)
                return


class LoopHeartbeat:
    """Marks the asyncio loop alive every `interval` seconds. `problem()` is the watchdog probe
    (None while the loop ran within `limit` seconds); on the way it reports a stall longer than
    `warn` seconds: where the loop thread is, from the watchdog's thread, and, from the loop
    once it runs again, how long the stall lasted. `stalls` counts the stalls over `warn`, and
    `on_stall(seconds)` (set by the daemon: the metrics) hears of each, on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, interval: float = 0.25,
                 limit: float = LOOP_STALL_LIMIT, warn: float = LOOP_STALL_WARN,
                 log_every: float = LOOP_STALL_LOG_EVERY) -> None:
        self._loop = loop
        self.interval = interval
        self.limit = limit
        self.warn = warn
        self.log_every = log_every
        self.last_beat = time.monotonic()
        self.stalls = 0
        self.on_stall: Callable[[float], None] | None = None
        self._thread_id: int | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._seen_beat = 0.0      # the beat whose stall the watchdog reported
        self._last_log = -log_every

    def start(self) -> None:
        """Call on the loop's thread."""
        self._thread_id = threading.get_ident()
        self._beat()

    def _beat(self) -> None:
        now = time.monotonic()
        late = now - self.last_beat - self.interval
        if late > self.warn:
            self.stalls += 1
            if self._seen_beat == self.last_beat:  # its start was logged: log its length
                log.warning("the event loop was blocked for %.2fs", late)
            if self.on_stall is not None:
                try:
                    self.on_stall(late)
                except Exception:  # a metrics bug must not stop the heartbeat
                    log.exception("recording an event-loop stall failed")
        self.last_beat = now
        self._handle = self._loop.call_later(self.interval, self._beat)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def problem(self) -> str | None:
        now = time.monotonic()
        beat = self.last_beat
        stalled = now - beat
        if stalled > self.limit:
            return f"the asyncio event loop has run nothing for {stalled:.0f}s"
        if (stalled - self.interval > self.warn and self._seen_beat != beat
                and now - self._last_log >= self.log_every):
            self._seen_beat, self._last_log = beat, now
            log.warning("the event loop has been blocked for %.2fs, in %s",
                        stalled - self.interval, self.where())
        return None

    def where(self) -> str:
        """The loop thread's innermost frames, innermost first (`file:line function`)."""
        frame = sys._current_frames().get(self._thread_id or -1)
        if frame is None:
            return "an unknown place"
        stack = traceback.extract_stack(frame)[-STALL_FRAMES:]
        return " <- ".join(f"{short_path(f.filename)}:{f.lineno} {f.name}"
                           for f in reversed(stack))


def short_path(filename: str) -> str:
    """`filename` from its package on (`raftcron/worker/runner.py`, `asyncio/events.py`)."""
    parts = filename.replace(os.sep, "/").split("/")
    for anchor in ("raftcron", "site-packages"):
        if anchor in parts[:-1]:
            at = len(parts) - 1 - parts[::-1].index(anchor)
            return "/".join(parts[at + (anchor == "site-packages"):])
    return "/".join(parts[-2:])
