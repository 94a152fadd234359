"""The leader's concurrency group limits: the API's (the state's `concurrency_groups`, read
again after `put_group`/`delete_group`), else the cluster config's `[concurrency_groups]`.

`gate(sched)` is one plan's `planning.groups.Gate` (with the groups' loads read from the
state only when some job in the table has a group); `limits()` is what the release pass
uses.
"""

from __future__ import annotations

from typing import Any

from raftcron.planning.groups import Gate

OPS = frozenset({"put_group", "delete_group"})


class ClusterGroups:
    def __init__(self, config: tuple[tuple[str, int], ...] = ()) -> None:
        self._config = dict(config)
        self._state: dict[str, int] | None = None

    def on_applied(self, index: int, command: Any, result: Any) -> None:
        if getattr(command, "op", None) in OPS:
            self._state = None

    def forget(self) -> None:
        self._state = None

    async def refresh(self, sched: Any) -> None:
        if self._state is not None:
            return
        read = getattr(sched.read, "list_groups", None)
        rows = await sched.db(read) if read is not None else []
        self._state = {str(r["name"]): int(r["limit"]) for r in rows}

    def limits(self) -> dict[str, int]:
        return {**self._config, **(self._state or {})}

    async def gate(self, sched: Any, grouped: bool) -> Gate | None:
        """A gate for one plan, or None when no planned job has a group with a limit."""
        if not grouped:
            return None
        await self.refresh(sched)
        limits = self.limits()
        if not limits:
            return None
        return Gate(await sched.db(sched.read.group_loads), limits)
