"""Jobs and nodes from files (`--jobs-dir`, `--nodes-dir`, `[[nodes]]`) into the replicated state.

Run once a peer has a leader and has caught up. Each job or node is proposed only if it is
absent or different from the file, so seeding is idempotent and a restart with unchanged files
writes nothing. Any peer may seed (every peer reads the same files): the idempotency key is
derived from the name, the content and the version it replaces, so peers seeding at the same
time apply the change once, while a job edited through the API since is put back to the
file's version at the next start (the files are the source of truth at start-up).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from raftcron import schedule
from raftcron.clock import Clock
from raftcron.durations import format_time
from raftcron.errors import RaftcronError
from raftcron.model import Job, Node, job_to_dict, node_to_dict

log = logging.getLogger(__name__)


@dataclass
class SeedReport:
    jobs_written: int = 0
    jobs_unchanged: int = 0
    nodes_written: int = 0
    nodes_unchanged: int = 0
    failed: int = 0


def _digest(doc: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _same(canonical: Mapping[str, Any], current: Mapping[str, Any] | None) -> bool:
    if current is None:
        return False
    return all(k in current and current[k] == v for k, v in canonical.items())


async def seed(*, node: Any, read: Any, clock: Clock, jobs: Iterable[Job],
               nodes: Iterable[Node], timeout: float = 10.0) -> SeedReport:
    """Propose `put_job`/`put_node` for every job/node that differs from the state.

    A job or node whose proposal fails is logged and counted, and the others go on.
    """
    report = SeedReport()
    for spec in nodes:
        canonical = node_to_dict(spec)
        current = read.get_node(spec.name)
        if _same(canonical, current):
            report.nodes_unchanged += 1
            continue
        key = f"seed-node:{spec.name}:{_digest(canonical)}:{(current or {}).get('updated_at')}"
        args = {"node": canonical, "at": format_time(clock.now())}
        if await _propose(node, "put_node", args, key, timeout, f"node {spec.name}"):
            report.nodes_written += 1
        else:
            report.failed += 1
    for job in jobs:
        canonical = job_to_dict(job)
        current = read.get_job(job.name)
        if _same(canonical, current):
            report.jobs_unchanged += 1
            continue
        try:
            expanded = schedule.parse(job.schedule, tz=job.tz, name=job.name).expanded
        except RaftcronError as exc:
            log.error("job %s from the jobs dir: %s", job.name, exc.message)
            report.failed += 1
            continue
        version = (current or {}).get("version", 0)
        key = f"seed-job:{job.name}:{_digest(canonical)}:{version}"
        args = {"job": canonical, "expanded": expanded, "at": format_time(clock.now()),
                "create_only": False}
        if await _propose(node, "put_job", args, key, timeout, f"job {job.name}"):
            report.jobs_written += 1
        else:
            report.failed += 1
    return report


async def _propose(node: Any, op: str, args: dict, key: str, timeout: float, what: str) -> bool:
    try:
        result = await node.propose(op, args, key=key, timeout=timeout)
    except RaftcronError as exc:
        log.error("seeding %s failed: %s", what, exc.message)
        return False
    if not result.get("ok", False):
        log.error("seeding %s refused: %s", what, result.get("message") or result.get("error"))
        return False
    log.info("seeded %s from file", what)
    return True
