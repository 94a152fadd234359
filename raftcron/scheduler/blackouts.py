"""The leader's blackout windows: the cluster's (config and state) next to each job's own.

`ClusterBlackouts` keeps the parsed cluster-wide windows: those of the cluster config
(`[blackouts.NAME]`, from the settings) and those the state holds (`PUT /blackouts/{name}`),
read again after an applied `put_blackout`/`delete_blackout` (a `StateCache`). `for_job(plan)`
is what one plan of one job looks at: the job's own windows (in its zone) first, then the
cluster's by name. A window that does not parse (none should: the
API and the config check them) is logged and left out, never fatal.
"""

from __future__ import annotations

import logging
from typing import Any

from raftcron.errors import ValidationError
from raftcron.planning.blackouts import Window, job_windows, window
from raftcron.planning.job_plan import JobPlan
from raftcron.scheduler.state_cache import StateCache

log = logging.getLogger(__name__)

class ClusterBlackouts(StateCache[list[Window]]):
    ops = frozenset({"put_blackout", "delete_blackout"})
    reader = "list_blackouts"

    def __init__(self, config: tuple[tuple[str, str, str], ...] = ()) -> None:
        super().__init__()
        self._config = _parse(config)

    def load(self, rows: list[dict[str, Any]]) -> list[Window]:
        configured = {w.name for w in self._config}  # the config's window wins its name
        return _parse(tuple((r["name"], r["schedule"], r["tz"]) for r in rows
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
