"""The leader's blackout windows: the cluster's (config and state) next to each job's own.

`ClusterBlackouts` keeps the parsed cluster-wide windows: those of the cluster config
(`[blackouts.NAME]`, from the settings) and those the state holds (`PUT /blackouts/{name}`),
read again after an applied `put_blackout`/`delete_blackout` (its `on_applied` is an apply
listener). `for_job(plan)` is what one plan of one job looks at: the job's own windows (in
its zone) first, then the cluster's by name. A window that does not parse (none should: the
API and the config check them) is logged and left out, never fatal.
"""

from __future__ import annotations

import logging
from typing import Any

from raftcron.errors import ValidationError
from raftcron.planning.blackouts import Window, job_windows, window
from raftcron.planning.job_plan import JobPlan

log = logging.getLogger(__name__)

#: The ops after which the state's windows are read again.
OPS = frozenset({"put_blackout", "delete_blackout"})


class ClusterBlackouts:
    def __init__(self, config: tuple[tuple[str, str, str], ...] = ()) -> None:
        self._config = _parse(config)
        self._state: list[Window] | None = None  # None: read at the next plan

    def on_applied(self, index: int, command: Any, result: Any) -> None:
        """Apply listener: a changed window is read again before the next plan."""
        if getattr(command, "op", None) in OPS:
            self._state = None

    def forget(self) -> None:
        self._state = None

    async def refresh(self, sched: Any) -> None:
        """Read the state's windows if a change (or a new leadership) left them unknown."""
        if self._state is not None:
            return
        read = getattr(sched.read, "list_blackouts", None)
        rows = await sched.db(read) if read is not None else []
        configured = {w.name for w in self._config}
        self._state = _parse(tuple((r["name"], r["schedule"], r["tz"]) for r in rows
                                   if r["name"] not in configured))

    def cluster(self) -> list[Window]:
        return [*self._config, *(self._state or ())]

    def for_job(self, plan: JobPlan) -> list[Window]:
        own: list[Window] = []
        if plan.blackout:
            try:
                own = job_windows(plan.blackout, plan.tz)
            except ValidationError as exc:
                log.error("job %s: a blackout window does not parse: %s", plan.name, exc)
        return [*own, *self.cluster()]


def _parse(items: tuple[tuple[str, str, str], ...]) -> list[Window]:
    out = []
    for name, expr, tz in sorted(items):
        try:
            out.append(window(name, expr, tz))
        except ValidationError as exc:
            log.error("blackout window %s does not parse: %s", name, exc)
    return out
