"""Peers and a `choose_targets` call with defaults, for the placement tables."""

from __future__ import annotations

from raftcron.planning.job_plan import JobPlan
from raftcron.planning.placement import NodeInfo, PeerInfo, choose_targets
from tests.support.schedules import at

A, B, C = "10.0.0.1:7100", "10.0.0.2:7100", "10.0.0.3:7100"


def peers(*ids: str, down: tuple[str, ...] = (), roles: dict | None = None,
          capacity: dict | None = None) -> list[PeerInfo]:
    roles, capacity = roles or {}, capacity or {}
    return [PeerInfo(id=i, reachable=i not in down, roles=frozenset(roles.get(i, ())),
                     capacity=capacity.get(i, 4)) for i in ids]


def choose(job: dict, ps: list[PeerInfo], nodes: list[NodeInfo] = (), load: dict | None = None,
           recent: dict | None = None, **kw):
    return choose_targets(JobPlan.of({"name": "j", **job}), ps, list(nodes), load or {},
                          recent or {}, slot=kw.pop("slot", at(60)), **kw)
