"""This peer's view of the cluster for placement and for `/nodes`.

Built exactly as the scheduler builds its own (`scheduler.cluster_view.cluster_view`), so a
manual run is placed by the same rules as a scheduled one and `/nodes` shows the roles and
capacity that placement uses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from raftcron.scheduler.cluster_view import ClusterView, SchedulerSettings, cluster_view


def view(self_id: str, status: dict, nodes: list[dict], extra: dict) -> ClusterView:
    """Placement's view of the cluster, built as the scheduler builds it (`scheduler.cluster_view`).

    A peer the node reports unreachable counts as silent. This peer's roles and capacity come
    from `extra_status()` (`roles`, `capacity`) when the daemon provides them, else from its
    announcement in the node table.
    """
    peers = [p for p in status.get("peers") or () if isinstance(p, dict) and p.get("id")]
    silent = {str(p["id"]): datetime.min for p in peers if not p.get("reachable", True)}
    overrides: dict[str, Any] = {}
    if extra.get("roles") is not None:
        overrides["roles"] = extra["roles"]
    if isinstance(extra.get("capacity"), int):
        overrides["capacity"] = extra["capacity"]
    return cluster_view(self_id=self_id, configured=[str(p["id"]) for p in peers],
                        status_peers=peers, nodes=nodes, silent=silent,
                        settings=SchedulerSettings.of(None, **overrides))
