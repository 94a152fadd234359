"""Feeding commands to a real `StateMachine` in index order (shared by the state/db tests)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from raftcron.db.reader import ReadDb
from raftcron.model.commands import encode
from raftcron.state.machine import StateMachine


class Log:
    """`log(op, args, key)` applies the command at the next index and returns the result."""

    def __init__(self, sm: StateMachine) -> None:
        self.sm, self.index = sm, sm.applied_index

    def __call__(self, op: str, args: dict[str, Any], key: str | None = None) -> dict:
        self.index += 1
        return self.sm.apply(self.index, encode(op, args, key))


@contextlib.contextmanager
def open_state(root: Path) -> Iterator[tuple[Log, ReadDb, StateMachine]]:
    """A fresh state file under `root`: its `Log`, a `ReadDb` on it and the machine; both
    closed on the way out."""
    sm = StateMachine(root / "state.db")
    read = ReadDb(root / "state.db")
    try:
        yield Log(sm), read, sm
    finally:
        read.close()
        sm.close()
