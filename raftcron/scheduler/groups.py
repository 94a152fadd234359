"""The leader's concurrency group limits: the API's (the state's `concurrency_groups`, read
again after `put_group`/`delete_group`), else the cluster config's `[concurrency_groups]`.

`gate(sched)` is one plan's `planning.groups.Gate` (with the groups' loads read from the
state only when some job in the table has a group); `limits()` is what the release pass
uses.
"""

from __future__ import annotations

from typing import Any

from raftcron.planning.groups import Gate
from raftcron.scheduler.state_cache import StateCache


class ClusterGroups(StateCache[dict[str, int]]):
    ops = frozenset({"put_group", "delete_group"})
    reader = "list_groups"

    def __init__(self, config: tuple[tuple[str, int], ...] = ()) -> None:
        super().__init__()
        self._config = dict(config)

    def load(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        return {str(r["name"]): int(r["limit"]) for r in rows}

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
