"""Jobs and nodes from files (`--jobs-dir`, `--nodes-dir`, `[[nodes]]`) into the replicated state.

Run once a peer has a leader and has caught up. Each job or node is proposed only if it is
absent or different from the file, so seeding is idempotent and a restart with unchanged files
writes nothing. Any peer may seed (every peer reads the same files): the idempotency key is
derived from the name, the content and the version it replaces, so peers seeding at the same
time apply the change once.

Jobs from files are file-managed (`managed_by = "file:<file>"`): the API refuses to replace
or delete them, pausing is kept across restarts, and a job whose file is gone is released to
the API rather than deleted; `seed_plan` holds those decisions and their reasons.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from raftcron import schedule
from raftcron.clock import Clock
from raftcron.daemon.seed_plan import JobDecision, decide_jobs, file_marker
from raftcron.daemon.versions import wait_cluster_reads
from raftcron.durations import format_time
from raftcron.errors import RaftcronError, ValidationError
from raftcron.model import Job, Node, job_to_dict, node_to_dict
from raftcron.model.commands import batch_entry
from raftcron.model.window_commands import job_version
from raftcron.planning.dependencies import check_graph

if TYPE_CHECKING:
    from raftcron.db.reader import ReadDb
    from raftcron.model.ports import Proposer

log = logging.getLogger(__name__)


@dataclass
class SeedReport:
    jobs_written: int = 0
    jobs_unchanged: int = 0
    jobs_released: int = 0
    nodes_written: int = 0
    nodes_unchanged: int = 0
    failed: int = 0


def _digest(doc: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _same(canonical: Mapping[str, Any], current: Mapping[str, Any] | None) -> bool:
    if current is None:
        return False
    return all(k in current and current[k] == v for k, v in canonical.items())


def _current_jobs(read: ReadDb, names: list[str]) -> dict[str, Any]:
    """The state's copy of each named job and of every file-managed one (on a reader
    thread: one hop for the whole seeding)."""
    state: dict[str, Any] = {}
    for name in [*names, *read.managed_jobs()]:
        current = read.get_job(name)
        if current is not None:
            state[name] = current
    return state


async def seed(*, node: Proposer, read: ReadDb, clock: Clock, jobs: Iterable[tuple[Job, str]],
               nodes: Iterable[Node], timeout: float = 10.0) -> SeedReport:
    """Propose `put_node` for every node that differs from the state, then what
    `seed_plan.decide_jobs` decides for every job (`jobs`: each job with the name of its file
    in `--jobs-dir`).

    A job or node whose proposal fails is logged and counted, and the others go on.
    """
    report = SeedReport()
    for spec in nodes:
        canonical = node_to_dict(spec)
        current = await read.call(read.get_node, spec.name)
        if _same(canonical, current):
            report.nodes_unchanged += 1
            continue
        key = f"seed-node:{spec.name}:{_digest(canonical)}:{(current or {}).get('updated_at')}"
        args = {"node": canonical, "at": format_time(clock.now())}
        if await _propose(node, "put_node", args, key, timeout, f"node {spec.name}"):
            report.nodes_written += 1
        else:
            report.failed += 1
    jobs = list(jobs)
    by_name = {job.name: job for job, _ in jobs}
    files = [(file_marker(file_name), job_to_dict(job)) for job, file_name in jobs]
    # The jobs the files name and every file-managed job (a release needs its version too:
    # the idempotency key carries it, so a second release of the same job is not a repeat).
    state = await read.call(_current_jobs, read, [*by_name])
    decisions = decide_jobs(files, state)
    if any(d.action != "unchanged" for d in decisions):
        # put_job with managed_by and release_job are version 2 (a job using what version 4
        # added, 4): older peers would stop at them, so a rolling upgrade seeds once the
        # cluster reads them.
        needed = max([2, *(job_version(d.job) for d in decisions if d.job is not None)])
        await wait_cluster_reads(node, needed, "seeding jobs from --jobs-dir")
    puts: list[tuple[str, dict]] = []  # (job name, its keyed batch entry)
    graph = dict(await read.call(read.graph_jobs))
    graph.update({job.name: (job.after, job.on_failure) for job, _ in jobs})
    for decision in decisions:
        for note in decision.notes:
            log.log(logging.WARNING if decision.warn else logging.INFO, "job %s: %s",
                    decision.name, note)
        if decision.action == "unchanged":
            report.jobs_unchanged += 1
        elif decision.action == "release":
            if await _release(node, decision, state, clock, timeout):
                report.jobs_released += 1
            else:
                report.failed += 1
        elif not _graph_ok(decision.name, by_name.get(decision.name), graph):
            report.failed += 1
        else:
            entry = _put_entry(decision, by_name.get(decision.name), state, clock)
            if entry is None:
                report.failed += 1
            else:
                puts.append((decision.name, entry))
    # The writes go as `batch` entries, SEED_BATCH per Raft entry, each with its own key (a
    # restart seeding again applies nothing twice); a refused one is logged and counted, the
    # others apply.
    for i in range(0, len(puts), SEED_BATCH):
        chunk = puts[i:i + SEED_BATCH]
        written = await _propose_puts(node, chunk, timeout)
        report.jobs_written += written
        report.failed += len(chunk) - written
    return report


def _graph_ok(name: str, job: Job | None, graph: Any) -> bool:
    """A file's job whose `after`/`on_failure` names a missing job or closes a cycle is not
    written (logged at ERROR): the API refuses the same job with a 400."""
    if job is None or not (job.after or job.on_failure):
        return True
    try:
        check_graph(name, job.after, job.on_failure, graph)
    except ValidationError as exc:
        log.error("job %s from --jobs-dir not written: %s", name, exc.message)
        return False
    return True


#: put_job entries per `batch` the seeder proposes.
SEED_BATCH = 1000


async def _release(node: Proposer, decision: JobDecision, state: Mapping[str, Any], clock: Clock,
                   timeout: float) -> bool:
    name = decision.name
    version = (state.get(name) or {}).get("version", 0)
    key = f"seed-release:{name}:{decision.managed_by}:{version}"
    args = {"name": name, "managed_by": decision.managed_by, "at": format_time(clock.now())}
    return await _propose(node, "release_job", args, key, timeout, f"job {name}",
                          done="released %s to the API")


def _put_entry(decision: JobDecision, job: Job | None, state: Mapping[str, Any],
               clock: Clock) -> dict | None:
    """The keyed `put_job` batch entry for a job its file defines (None: it does not parse)."""
    name = decision.name
    version = (state.get(name) or {}).get("version", 0)
    assert job is not None and decision.job is not None
    try:
        expanded = schedule.parse(job.schedule, tz=job.tz, name=job.name).expanded
    except RaftcronError as exc:
        log.error("job %s from the jobs dir: %s", job.name, exc.message)
        return None
    key = f"seed-job:{name}:{_digest({**decision.job, '_by': decision.managed_by})}:{version}"
    args = {"job": decision.job, "expanded": expanded, "at": format_time(clock.now()),
            "create_only": False, "managed_by": decision.managed_by}
    return batch_entry("put_job", args, key)


async def _propose_puts(node: Proposer, chunk: list[tuple[str, dict]], timeout: float) -> int:
    """Propose one batch of put_job entries; how many applied."""
    try:
        result = await node.propose("batch", {"commands": [e for _, e in chunk]}, key=None,
                                    timeout=timeout)
    except RaftcronError as exc:
        log.error("seeding %d job(s) failed: %s", len(chunk), exc.message)
        return 0
    written = 0
    for (name, _), res in zip(chunk, result.get("results") or (), strict=False):
        if isinstance(res, Mapping) and res.get("ok", False):
            log.info("seeded %s from its file", f"job {name}")
            written += 1
        else:
            why = (res or {}).get("message") or (res or {}).get("error")
            log.error("seeding %s refused: %s", f"job {name}", why)
    return written


async def _propose(node: Proposer, op: str, args: dict, key: str, timeout: float, what: str,
                   done: str = "seeded %s from its file") -> bool:
    try:
        result = await node.propose(op, args, key=key, timeout=timeout)
    except RaftcronError as exc:
        log.error("seeding %s failed: %s", what, exc.message)
        return False
    if not result.get("ok", False):
        log.error("seeding %s refused: %s", what, result.get("message") or result.get("error"))
        return False
    log.info(done, what)
    return True
