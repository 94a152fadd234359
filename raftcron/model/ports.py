"""What the layers above need of this peer's Raft node: small protocols, one per need.

The daemon hands every consumer the one `raftcron.raft.node.Node`; each consumer names only
the part it uses, so its tests can hand it a `FakeNode` over a real state machine and the
layers stay one-way (nothing above `raft` imports it to get a type). `Node` satisfies every
protocol here structurally.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["ApiNode", "LeaderNode", "MetricsNode", "Proposer", "StatusSource", "WorkerNode"]


class Proposer(Protocol):
    """Writes: a command through the log."""

    async def propose(self, op: str, args: dict, *, key: str | None = None,
                      timeout: float = 5.0) -> dict:
        """Replicate `op(args)`; `apply`'s result once applied on this peer. Raises
        `UnavailableError` after `timeout` (the write may or may not be applied; retrying
        with the same `key` is safe)."""
        ...


class StatusSource(Protocol):
    """This peer's Raft view: id, role, leader, term, indices, peers (`/status`)."""

    def status(self) -> dict: ...


class LeaderNode(Proposer, StatusSource, Protocol):
    """The scheduler's and the prober's need: propose, whether this peer leads now, and
    whether it may fire (it leads and its clock agrees with the majority's)."""

    @property
    def is_leader(self) -> bool: ...

    @property
    def firing(self) -> bool: ...


class WorkerNode(Proposer, Protocol):
    """The worker's need: propose its reports, and whether this peer has caught up with the
    leader's commit index (a backlog being replayed is not caught up)."""

    @property
    def caught_up(self) -> bool: ...


class MetricsNode(StatusSource, Protocol):
    """/metrics' need: the status, and the count of leaders seen."""

    leader_changes: int


class ApiNode(Proposer, StatusSource, Protocol):
    """The API's need: writes, the status, and waiting for an index to be applied here."""

    async def wait_applied(self, index: int, timeout: float) -> bool: ...
