"""The scheduler's periodic passes and what they remember between ticks.

- Recovery (every `recovery_interval`): which peers are silent, their active runs `lost`
  past the lease; retries owed (from `run_finished`/`run_lost` seen, or found in the state by a
  new leader) fired when due; `queue` slots released when the job has no active run left; the
  next targets of rolling fan-outs started (`fanout.py`); the node table and recent
  assignments re-read for placement.
- Retention (every `retention_interval`): `ReadDb.runs_to_prune` -> `prune_runs` chunks.

All of it is derivable from the state: a new leader rebuilds it (`reload`), at the cost of
re-proposing retries that may exist already (their key makes that a no-op).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from raftcron.durations import format_time, parse_time
from raftcron.model import Concurrency
from raftcron.model.commands import INTRODUCED
from raftcron.planning.moves import move_proposal, move_target, stranded
from raftcron.planning.placement import loads
from raftcron.planning.proposals import (
    Placement,
    Proposal,
    lost_proposal,
    prune_proposal,
    retry_proposal,
    retry_record,
)
from raftcron.planning.recovery import (
    RETRYABLE,
    RetryPlan,
    lost_runs,
    prune_chunks,
    retry_for,
    update_down_since,
)
from raftcron.scheduler.cluster_view import cluster_view
from raftcron.scheduler.fanout import fanout_pass
from raftcron.scheduler.job_table import JobEntry

if TYPE_CHECKING:
    from raftcron.db.reader import ReadDb
    from raftcron.scheduler.cluster_view import SchedulerSettings
    from raftcron.scheduler.job_table import JobTable


T = TypeVar("T")


class PassOwner(Protocol):
    """What the passes need from the scheduler that runs them (`scheduler.loop.Scheduler`)."""

    read: ReadDb
    settings: SchedulerSettings
    table: JobTable

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` on a reader thread, off the event loop."""
        ...

    async def ensure_jobs(self, names: set[str]) -> None:
        """Load these jobs into the table if it lacks them (outside the window)."""
        ...

    def release(self, name: str, now: datetime) -> None:
        """A `queue` job's run ended at `now`: its held slot may fire."""
        ...

log = logging.getLogger(__name__)

#: The command version that added `move_run`.
MOVE_VERSION = INTRODUCED[("move_run", None)]
#: Pages of 1000 failed runs a new leader reads looking for owed retries.
RETRY_SCAN_PAGES = 20
#: Jobs whose runs one retention pass looks at (the passes go round every job).
RETENTION_JOBS = 2000
_UNKNOWN = object()


class Passes:
    def __init__(self, owner: PassOwner) -> None:
        self._s = owner
        self.forget()

    def forget(self) -> None:
        """Drop what only a leader keeps (called on stop; a new leader calls `reload`)."""
        self._next_recovery = float("-inf")
        self._next_retention = float("-inf")
        self._down_since: dict[str, datetime] = {}
        self._retries: dict[str, RetryPlan] = {}
        self._candidates: set[str] = set()
        self._run_jobs: dict[str, str] = {}  # active run id -> job
        #: job -> how many of `_run_jobs` are its: "has the job a run going" without a scan
        #: of every active run per ended run (under overload, thousands of them).
        self._job_runs: Counter[str] = Counter()
        self._released: dict[str, Any] = {}  # job -> when its last run ended (queue)
        self._nodes: list[Mapping[str, Any]] = []
        self._recent: dict[str, int] = {}
        self._retention_after = ""  # the last job name the previous retention pass covered

    def pending_retries(self) -> int:
        return len(self._retries)

    def seconds_to_next(self, mono: float) -> float:
        return min(self._next_recovery, self._next_retention) - mono

    async def reload(self, now: datetime) -> None:
        """A new leader: look for failed runs whose retry may not have been fired."""
        self.forget()
        since = format_time(now - self._s.settings.retry_horizon)
        cursor = None
        for _ in range(RETRY_SCAN_PAGES):
            items, cursor = await self._s.db(self._s.read.list_runs, status=sorted(RETRYABLE),
                                              since=since, limit=1000, cursor=cursor)
            await self._s.ensure_jobs({str(r.get("job")) for r in items})
            for run in items:
                self._want_retry(run)
            if cursor is None:
                break

    async def maybe_run(self, now: datetime, mono: float) -> list[Proposal]:
        settings = self._s.settings
        out: list[Proposal] = []
        if mono >= self._next_recovery:
            self._next_recovery = mono + settings.recovery_interval
            out += await self.recovery(now)
        if mono >= self._next_retention:
            self._next_retention = mono + settings.retention_interval
            out += await self.retention(now)
        return out

    # --- recovery -----------------------------------------------------------------------------

    async def recovery(self, now: datetime) -> list[Proposal]:
        s, read = self._s, self._s.read
        # Only what this pass uses of each active run (id, job, peer, target): it runs every
        # second, and under overload thousands of runs are active.
        active = await s.db(read.active_refs)
        self._run_jobs = {str(r.get("id")): str(r.get("job")) for r in active}
        self._job_runs = Counter(self._run_jobs.values())
        self._nodes = _items(await s.db(read.list_nodes, limit=1000))
        self._recent = dict(await s.db(
            read.recent_assignments, format_time(now - s.settings.recent_window)))
        status = s.node.status() or {}
        self._down_since = update_down_since(
            self._down_since, status.get("peers") or (), now, s.settings.lease,
            self_id=s.self_id, others=[str(r.get("peer")) for r in active if r.get("peer")])
        out: list[Proposal] = []
        moved, proposal = await self._move_stranded(now, active)
        if proposal is not None:
            out.append(proposal)
            active = [r for r in active if str(r.get("id")) not in moved]
        lost = lost_proposal(lost_runs(active, self._down_since, now, s.settings.lease),
                             now=now)
        if lost is not None:
            log.warning("runs lost on silent peers: %s", _lost_ids(lost))
            out.append(lost)
            await s.propose(lost)
        busy = {str(r.get("job")) for r in active}
        for name in s.table.held():
            if name not in busy:
                s.release(name, now)  # the run it waited for ended while we did not see it
        out += await self._fire_retries(now, active)
        # Rolling fan-outs: the next targets (re-placed off silent peers), or skip them.
        out += await fanout_pass(s, now, lambda: self.placement(now, active))
        return out

    async def _move_stranded(self, now: datetime, active: Sequence[Mapping[str, Any]],
                             ) -> tuple[set[str], Proposal | None]:
        """Move the held runs still pending on silent peers to live ones (`planning.moves`):
        the ids moved (no longer on the silent peer: the lease does not record them lost) and
        the proposal made, if any."""
        s = self._s
        runs = stranded(active, self._down_since, now)
        if not runs or not s.gate.reads(MOVE_VERSION):
            return set(), None
        await s.ensure_jobs({str(r.get("job")) for r in runs})
        where = await self.placement(now, active)
        moves = []
        for run in runs:
            entry = s.table.entries.get(str(run.get("job")))
            if entry is None:
                continue
            dest = move_target(entry.plan, run, peers=where.peers, nodes=where.nodes,
                               load=dict(where.load), recent=dict(where.recent))
            if dest is not None:
                moves.append((str(run.get("id")), str(run.get("peer")), dest[0], dest[1]))
        proposal = move_proposal(moves, now=now)
        if proposal is None:
            return set(), None
        log.warning("moving %d held runs off silent peers: %s", len(moves),
                    ", ".join(f"{rid} {old} -> {peer}" for rid, old, peer, _ in moves))
        if await s.propose(proposal) is None:
            return set(), proposal
        return {rid for rid, _, _, _ in moves}, proposal

    async def _fire_retries(self, now: datetime, active: Sequence[Mapping[str, Any]]
                            ) -> list[Proposal]:
        s = self._s
        for run_id in list(self._candidates):
            self._candidates.discard(run_id)
            run = await s.db(s.read.get_run, run_id)
            if run is not None:
                await s.ensure_jobs({str(run.get("job"))})
                self._want_retry(run)
        due = [r for r in self._retries.values() if r.due <= now]
        if not due:
            return []
        where = await self.placement(now, active)
        out = []
        for retry in sorted(due, key=lambda r: r.due):
            entry = s.table.entries.get(retry.job)
            if entry is None:
                del self._retries[retry.retry_of]  # job deleted: nothing to retry
                continue
            if entry.plan.paused:
                continue  # kept until the job is resumed
            record = retry_record(entry.plan, retry, where, now=now, new_run_id=s.new_run_id)
            proposal = retry_proposal(record, now=now)
            out.append(proposal)
            if await s.propose(proposal) is not None:
                del self._retries[retry.retry_of]
        return out

    def _want_retry(self, run: Mapping[str, Any]) -> None:
        entry = self._s.table.entries.get(str(run.get("job")))
        if entry is None:
            return
        try:
            retry = retry_for(entry.plan, run)
        except Exception:
            log.exception("run %s: cannot plan its retry", run.get("id"))
            return
        if retry is not None:
            self._retries.setdefault(retry.retry_of, retry)

    # --- retention ----------------------------------------------------------------------------

    async def retention(self, now: datetime) -> list[Proposal]:
        s = self._s
        before = format_time(now - s.settings.max_run_age)
        # Bounded: each pass looks at the runs of the next RETENTION_JOBS jobs by name, and
        # the passes go round the jobs (100,000 jobs: every job once in 50 passes).
        names = await s.db(s.read.job_names, self._retention_after, RETENTION_JOBS)
        if not names:
            self._retention_after = ""
            return []
        job_range = (self._retention_after, names[-1])
        self._retention_after = names[-1] if len(names) == RETENTION_JOBS else ""
        ids = await s.db(s.read.runs_to_prune, s.settings.keep_runs_default, before,
                         job_range=job_range)
        out = []
        for chunk in prune_chunks(list(ids)):
            proposal = prune_proposal(chunk)
            out.append(proposal)
            if await s.propose(proposal) is None:
                break
        if ids:
            log.info("pruned %d runs past retention", len(ids))
        return out

    # --- what ticks ask -----------------------------------------------------------------------

    async def placement(self, now: datetime, active: Sequence[Mapping[str, Any]] = (), *,
                        load: Mapping[str, int] | None = None) -> Placement:
        """Where runs may go now: `load` is the active runs per peer and node, counted from
        `active` (every active run) when not given."""
        s = self._s
        status = s.node.status() or {}
        # The current members only: the status follows membership changes, the peers this
        # peer was started with do not (a removed peer must get no runs).
        members = [str(p["id"]) for p in status.get("peers") or ()
                   if isinstance(p, Mapping) and p.get("id")]
        view = cluster_view(self_id=s.self_id, configured=members or s.peers,
                            status_peers=status.get("peers") or (), nodes=self._nodes,
                            silent=self._down_since, settings=s.settings)
        return Placement(self_id=s.self_id, peers=view.peers, nodes=view.nodes,
                         load=dict(loads(active) if load is None else load),
                         recent=dict(self._recent))

    async def released_at(self, entry: JobEntry, runs: Sequence[Mapping[str, Any]],
                          now: datetime) -> datetime | None:
        """`queue` and `queue_all` jobs: `now` while a run is active (due slots are waiting,
        not late), else when the job's last run ended (from memory, else from the state)."""
        if entry.plan.concurrency not in (Concurrency.QUEUE, Concurrency.QUEUE_ALL):
            return None
        if runs:
            return now
        name = entry.plan.name
        value = self._released.get(name, _UNKNOWN)
        if value is _UNKNOWN:
            last = await self._s.db(self._s.read.last_run, name)
            ended = (last or {}).get("finished_at")
            value = self._released[name] = parse_time(ended) if ended else None
        return value

    def on_command(self, op: str, args: Mapping[str, Any], result: Any, now: datetime) -> None:
        """Applied commands about runs: remember run -> job, owed retries, queue releases."""
        ok = isinstance(result, Mapping) and result.get("ok", True) is not False
        if op == "fire" and ok:
            accepted = set(result.get("accepted") or ())
            for rec in args.get("runs") or ():
                run_id = str(rec.get("run_id"))
                if (run_id in accepted and rec.get("status") == "pending"
                        and run_id not in self._run_jobs):
                    self._run_jobs[run_id] = job = str(rec.get("job"))
                    self._job_runs[job] += 1
            return
        if op not in ("run_finished", "run_lost") or not ok:
            return
        run_id = str(args.get("run_id"))
        if op == "run_lost" or args.get("status") in RETRYABLE:
            self._candidates.add(run_id)
        job = self._run_jobs.pop(run_id, None)
        if job is not None:
            at = args.get("at")
            self._released[job] = parse_time(at) if isinstance(at, str) else now
            self._job_runs[job] -= 1
            if self._job_runs[job] <= 0:
                del self._job_runs[job]
                self._s.release(job, now)


def _items(page: Any) -> list[Mapping[str, Any]]:
    if isinstance(page, tuple):  # (items, next_cursor)
        page = page[0]
    return list(page or ())


def _lost_ids(proposal: Proposal) -> list[str]:
    if proposal.op == "run_lost":
        return [proposal.args["run_id"]]
    return [c["args"]["run_id"] for c in proposal.args["commands"]]
