"""The fence: which scheduled slots a job's cursor admits, and what accepting one changes.

A committed slot is never fired again (docs/guarantees.md): a scheduled record (not manual, not a
retry) is admitted only if its slot is strictly later than the job's cursor *as it was before
the command*; accepting it moves the cursor to the newest accepted slot, and a `pending` record
counts toward `max_runs` once per slot (a `hosts = "all"` fan-out of one slot counts once).

One rule with two users: `state.runs.fire`, the replicated truth, and the leader's mirror of it
in `scheduler.job_table`. Slots are any one ordered type (the state's fixed-width time strings,
the mirror's datetimes), so both run this same code.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

Slot = TypeVar("Slot", bound=Any)

__all__ = ["CursorFence"]


class CursorFence(Generic[Slot]):
    """The fence of one job for the records of one command."""

    def __init__(self, cursor: Slot | None, fired_count: int) -> None:
        self.base = cursor  # the cursor before the command: the fence for all its records
        self.cursor = cursor  # after the records accepted so far
        self.fired_count = fired_count
        self._counted: set[Slot] = set()

    def admits(self, slot: Slot) -> bool:
        """Is `slot` after the cursor as it was before this command?"""
        return self.base is None or slot > self.base

    def reaches_max(self, slot: Slot, max_runs: int | None) -> bool:
        """Would a pending record at `slot` exceed `max_runs`? (A slot already counted by
        this command does not count again.)"""
        return (max_runs is not None and self.fired_count >= max_runs
                and slot not in self._counted)

    def accept(self, slot: Slot, *, pending: bool) -> None:
        """Record an admitted slot: the cursor moves forward, a pending slot counts once."""
        if self.cursor is None or slot > self.cursor:
            self.cursor = slot
        if pending and slot not in self._counted:
            self._counted.add(slot)
            self.fired_count += 1
