"""A part of the replicated state the leader keeps parsed between plans.

`StateCache` is read from the leader's SQLite copy at its first use, and again after an
applied command whose op is in `ops` (`on_applied` is an apply listener) or after a change of
leadership (`forget`). Subclasses name the `ReadDb` method that lists the rows (`reader`) and
turn the rows into what the plans use (`load`). Used by the blackout windows and the
concurrency group limits.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

T = TypeVar("T")


class StateCache(Generic[T]):
    #: The ops after which the rows are read again.
    ops: frozenset[str] = frozenset()
    #: The `ReadDb` method that lists the rows (none: the table is empty).
    reader: str = ""

    def __init__(self) -> None:
        self._state: T | None = None  # None: read at the next use

    def on_applied(self, index: int, command: Any, result: Any) -> None:
        """Apply listener: a changed row is read again before the next plan."""
        if getattr(command, "op", None) in self.ops:
            self._state = None

    def forget(self) -> None:
        self._state = None

    async def refresh(self, sched: Any) -> None:
        """Read the rows if a change (or a new leadership) left them unknown."""
        if self._state is not None:
            return
        read = getattr(sched.read, self.reader, None)
        rows = await sched.db(read) if read is not None else []
        self._state = self.load(rows)

    def load(self, rows: list[dict[str, Any]]) -> T:
        raise NotImplementedError
