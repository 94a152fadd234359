"""The loop side of what the raft thread reports: applied commands, snapshots, leadership.

Every call here runs on the asyncio loop (the raft thread posts them through the `Mailbox`).
A listener that raises is logged and skipped: one bad listener never stops the others, nor
the peer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("raftcron.raft.node")

ApplyListener = Callable[[int, Any, dict], None]
LeadershipListener = Callable[[bool], None]
SnapshotListener = Callable[[int], None]

__all__ = ["ApplyListener", "LeadershipListener", "Listeners", "SnapshotListener"]


class Listeners:
    """The registered listeners, and the leadership value last delivered to them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.apply: list[ApplyListener] = []
        self.snapshot: list[SnapshotListener] = []
        self.leadership: list[LeadershipListener] = []
        self.delivered_leader = False

    def add_leadership(self, fn: LeadershipListener, is_leader: Callable[[], bool]) -> None:
        """Register `fn`; if this peer already leads, `fn(True)` soon after, on the loop."""
        self.leadership.append(fn)
        if self.delivered_leader:
            self._loop.call_soon(self._late_leadership, fn, is_leader)

    def _late_leadership(self, fn: LeadershipListener, is_leader: Callable[[], bool]) -> None:
        if self.delivered_leader and is_leader():
            _call(fn, True)

    def dispatch_apply(self, index: int, command: Any, result: dict) -> None:
        for fn in list(self.apply):
            try:
                fn(index, command, result)
            except Exception:
                log.exception("apply listener %r failed at index %d", fn, index)

    def dispatch_snapshot(self, index: int) -> None:
        for fn in list(self.snapshot):
            _call(fn, index)

    def deliver_leadership(self, value: bool, is_leader: Callable[[], bool],
                           term: Callable[[], int]) -> None:
        """Tell every leadership listener `value`, once per change; a `True` that is stale by
        the time it arrives (`is_leader()` is False again) is dropped: its `False` follows."""
        if value and not is_leader():
            return
        if value == self.delivered_leader:
            return
        self.delivered_leader = value
        log.info("leadership %s (term %d)", "acquired" if value else "lost", term())
        for fn in list(self.leadership):
            _call(fn, value)


def _call(fn: Callable[[Any], None], arg: Any) -> None:
    try:
        fn(arg)
    except Exception:
        log.exception("listener %r failed", fn)
