"""`FakeNode`: the Raft node's surface over a real `StateMachine`, for tests above the node.

A proposal is applied at once, at the next index, and the apply listeners are told, as
`raftcron.raft.node.Node` does once an entry is applied on this peer. Everything above the
node (validation, commands, apply, SQLite reads) is the real code. Knobs make proposals fail
the way a real cluster can: no leader at all, or the next N proposals lost, optionally after
being applied (the outcome a client cannot know).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from raftcron.errors import UnavailableError
from raftcron.model import commands
from raftcron.state.machine import StateMachine

SELF = "127.0.0.1:7101"
OTHER = "127.0.0.1:7102"
THIRD = "127.0.0.1:7103"

Listener = Callable[[int, commands.Command, dict], None]


def default_peers(self_id: str = SELF) -> list[dict[str, Any]]:
    """Three peers, all reachable, `self_id` first."""
    others = [p for p in (SELF, OTHER, THIRD) if p != self_id][:2]
    return [{"id": self_id, "self": True, "reachable": True, "last_contact": 0.0}] + [
        {"id": p, "self": False, "reachable": True, "last_contact": 0.1} for p in others]


class FakeNode:
    """Applies each proposal to `state` at once; see the module docstring.

    Records: `proposed` every call of `propose` (failed ones too), `proposals` the ones that
    were applied, in order. Knobs: `unavailable` (every proposal raises UnavailableError),
    `fail_next` (the next N raise; applied first when `fail_after_apply`), `leader` / `term` /
    `peers` / `commit_ahead` (what `status()` says), `leader_changes`.
    """

    def __init__(self, state: StateMachine, self_id: str = SELF,
                 peers: list[dict[str, Any]] | None = None) -> None:
        self.state = state
        self.self_id = self_id
        self.leader: str | None = self_id
        self.term = 1
        self.unavailable = False
        self.fail_next = 0
        self.fail_after_apply = False
        #: How far the commit index the node reports is ahead of what it applied.
        self.commit_ahead = 0
        #: The count the real node keeps of leaders seen (a metric).
        self.leader_changes = 0
        self.peers = peers if peers is not None else default_peers(self_id)
        self.apply_listeners: list[Listener] = []
        self.proposed: list[tuple[str, dict, str | None]] = []
        self.proposals: list[tuple[str, dict, str | None]] = []
        #: What `Node.caught_up` says: False while a backlog is being replayed.
        self.caught_up = True
        #: How many `wait_applied` calls have started (a test can wait for a reader to wait).
        self.waits = 0
        self._changed: asyncio.Event | None = None

    @property
    def index(self) -> int:
        return self.state.applied_index

    @property
    def applied_index(self) -> int:
        return self.state.applied_index

    @property
    def is_leader(self) -> bool:
        return self.leader == self.self_id

    @is_leader.setter
    def is_leader(self, value: bool) -> None:
        self.leader = self.self_id if value else None

    @property
    def firing(self) -> bool:
        """A fake's clock always agrees with the majority: it fires while it leads."""
        return self.is_leader

    def add_apply_listener(self, fn: Listener) -> None:
        self.apply_listeners.append(fn)

    async def propose(self, op: str, args: dict, *, key: str | None = None,
                      timeout: float = 5.0) -> dict:
        self.proposed.append((op, args, key))
        if self.unavailable:
            raise UnavailableError("no leader/quorum (fake)")
        if self.fail_next > 0:
            self.fail_next -= 1
            if self.fail_after_apply:
                self.apply(op, args, key)
            raise UnavailableError("leader changed (fake)")
        self.proposals.append((op, args, key))
        return self.apply(op, args, key)

    def apply(self, op: str, args: dict, key: str | None = None, *,
              notify: bool = True) -> dict:
        """Apply one command at the next index (as if it came through the log; a command
        "from elsewhere" when a test calls it); `notify=False` keeps the listeners out."""
        payload = commands.encode(op, args, key)
        result = self.state.apply(self.state.applied_index + 1, payload)
        if notify:
            command = commands.decode(payload)
            for fn in list(self.apply_listeners):
                fn(self.state.applied_index, command, result)
        if self._changed is not None:
            self._changed.set()
        return result

    async def wait_applied(self, index: int, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self.waits += 1
        while self.state.applied_index < index:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._changed = asyncio.Event()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return self.state.applied_index >= index
        return True

    def status(self) -> dict:
        return {
            "id": self.self_id, "role": "leader" if self.is_leader else "follower",
            "leader": self.leader, "term": self.term,
            "commit_index": self.state.applied_index + self.commit_ahead,
            "applied_index": self.state.applied_index, "peers": [dict(p) for p in self.peers],
        }

    def set_peer(self, peer: str, **fields: Any) -> None:
        for p in self.peers:
            if p["id"] == peer:
                p.update(fields)
