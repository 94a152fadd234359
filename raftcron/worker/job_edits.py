"""Which jobs changed while a run fired ahead waited for its time.

A run the leader committed ahead of its slot (`planning.ahead`) is prepared (its job read)
before it waits for its time. A job edited, paused or deleted in that moment must not start
with what was read before: `JobEdits` counts the applied commands that change each job, so
the worker, once the time has come, knows whether to look again: a paused job's run is
cancelled ("paused before its slot": its slot falls in the pause), a deleted job's run is gone
from the copy and is not started, an edited job's run starts with the job as it is now.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

#: Why a run fired ahead of its time did not start: its job was paused before the slot.
PAUSED_BEFORE_SLOT = "the job was paused before this slot's time"


class JobEdits:
    """Applied changes per job (`on_command`), and whether each job is paused after its last."""

    def __init__(self) -> None:
        self._count: Counter[str] = Counter()
        self._paused: dict[str, bool] = {}

    def on_command(self, op: str, args: Mapping[str, Any], result: Mapping[str, Any]) -> None:
        if not result.get("ok"):
            return
        if op == "put_job":
            job = args.get("job") or {}
            name, paused = str(job.get("name")), bool(job.get("paused"))
        elif op == "set_paused":
            name, paused = str(args.get("name")), bool(args.get("paused"))
        elif op == "delete_job":
            name, paused = str(args.get("name")), False
        else:
            return
        self._count[name] += 1
        self._paused[name] = paused

    def mark(self, job: str) -> int:
        """A mark to compare with later (`changed_since`)."""
        return self._count[job]

    def changed_since(self, job: str, mark: int) -> bool:
        return self._count[job] != mark

    def paused(self, job: str) -> bool:
        """True when the last change applied paused the job (meaningful once it changed)."""
        return self._paused.get(job, False)
