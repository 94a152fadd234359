"""The leader's pass for dependencies, backfills, pause on failure and slow runs.

Fed by the applied commands (`on_command`: a run ended, a backfill was stored) and, for a
new leader, by a scan of the runs that ended within `retry_horizon` (`reload`), it reads the
state and lets the pure decisions (`planning.dependencies`) choose, then proposes
(`planning.trigger_proposals`):

- a run that ended: its `on_failure` jobs when it failed for good; every job whose `after`
  it completes; a pause when it makes `pause_after_failures` failed slots in a row; `slow`
  when it ran past `expected_duration`.
- every `recovery_interval`: the runs still going past `expected_duration` are flagged
  `slow`, and each open backfill fires its next slot when the job's concurrency policy lets
  it (`allow`: at once; otherwise once the job has no active run). A paused job's backfill
  waits.

Everything it decides is derivable from the state, and the state refuses a decision applied
before, so a leader change neither loses nor doubles a step: the new leader decides again.
Proposes nothing until the cluster reads command version 4.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from raftcron.durations import format_time, parse_duration, parse_time
from raftcron.model import ACTIVE_STATUSES, Concurrency
from raftcron.model.commands_v4 import VERSION
from raftcron.planning.dependencies import (
    after_parent,
    consecutive_failures,
    final_failure,
    pause_text,
)
from raftcron.planning.job_plan import JobPlan
from raftcron.planning.proposals import Proposal
from raftcron.planning.trigger_proposals import (
    pause_proposal,
    slow_proposal,
    trigger_proposal,
    trigger_records,
)

log = logging.getLogger(__name__)

ENDED = ("succeeded", "failed", "timed_out", "lost")
#: Runs a new leader looks at for decisions its predecessor may not have made: the newest
#: `RESCAN_PER_JOB` of each watched job when there are at most `RESCAN_JOBS` of them, else the
#: newest `RESCAN_LIMIT` of all.
RESCAN_LIMIT = 1000
RESCAN_JOBS = 200
RESCAN_PER_JOB = 20


class Triggers:
    """Remembers, in memory, only the jobs it may have to act for (`_Index`): a run of any
    other job ends without a read, so jobs without these fields cost nothing."""

    def __init__(self, sched: Any) -> None:
        self._s = sched
        self.forget()

    def forget(self) -> None:
        self._index = _Index()
        self._watch: dict[str, str] = {}  # active run id -> job, for watched jobs
        self._ended: list[str] = []
        self._unsure = False
        self._next_pass = float("-inf")
        self._open_backfills = True  # until a pass reads none

    def on_command(self, op: str, args: Mapping[str, Any], result: Any) -> bool:
        """Note what needs a decision; True when the loop should wake for it."""
        if not isinstance(result, Mapping) or result.get("ok") is False:
            return False
        if op == "put_job":
            self._index.put(args.get("job") or {})
        elif op == "delete_job":
            self._index.drop(str(args.get("name")))
        elif op == "fire":
            accepted = set(result.get("accepted") or ())
            for rec in args.get("runs") or ():
                if rec.get("run_id") in accepted and self._index.watched(str(rec.get("job"))):
                    self._watch[str(rec["run_id"])] = str(rec["job"])
        elif op in ("run_finished", "run_lost"):
            wake = False
            if self._open_backfills:  # a backfill may be waiting for this run to end
                self._next_pass = float("-inf")
                wake = True
            if self._watch.pop(str(args.get("run_id")), None) is not None:
                self._ended.append(str(args.get("run_id")))
                wake = True
            return wake
        elif op == "backfill":
            self._open_backfills = True
            self._next_pass = float("-inf")
            return True
        return False

    async def reload(self, now: datetime) -> None:
        """A new leader: learn the watched jobs and their active runs, and give the runs of
        theirs that ended lately their decisions (again: the state refuses a repeat)."""
        self.forget()
        read = self._s.read
        for row in await self._s.db(read.trigger_index):
            self._index.put(row)
        if not self._index.jobs:
            return
        for run in await self._s.db(read.active_runs):
            if self._index.watched(str(run.get("job"))):
                self._watch[str(run["id"])] = str(run["job"])
        since = format_time(now - self._s.settings.retry_horizon)
        watched = sorted(j for j in self._index.jobs if self._index.watched(j))
        items: list[dict] = []
        if len(watched) <= RESCAN_JOBS:  # each job's own newest runs
            for name in watched:
                items += (await self._s.db(read.list_runs, job=name, status=list(ENDED),
                                           since=since, limit=RESCAN_PER_JOB))[0]
        else:  # many watched jobs: the newest runs of all
            items = (await self._s.db(read.list_runs, status=list(ENDED), since=since,
                                      limit=RESCAN_LIMIT))[0]
        items.sort(key=lambda r: (str(r.get("finished_at") or ""), str(r["id"])))
        found = [str(r["id"]) for r in items if self._index.watched(str(r.get("job")))]
        # Runs that ended while this was read were noted meanwhile: keep them too.
        self._ended = found + [r for r in self._ended if r not in set(found)]

    async def maybe_run(self, now: datetime, mono: float) -> list[Proposal]:
        s = self._s
        if not s.gate.reads(VERSION):
            return []
        out: list[Proposal] = []
        ended, self._ended = self._ended, []
        again: list[str] = []
        for run_id in ended:
            self._unsure = False
            try:
                out += await self._run_ended(run_id, now)
            except Exception:
                log.exception("run %s: deciding its dependents failed", run_id)
            if self._unsure:  # a proposal's fate is unknown: decide again next time
                again.append(run_id)
        self._ended = again + self._ended
        if mono >= self._next_pass:
            self._next_pass = mono + s.settings.recovery_interval
            if self._index.expected or self._open_backfills:
                active = await s.db(s.read.active_runs)
                out += await self._flag_slow(active, now)
                if self._open_backfills:
                    out += await self._backfills(active, now)
        return out

    # --- a run ended ----------------------------------------------------------------------

    async def _run_ended(self, run_id: str, now: datetime) -> list[Proposal]:
        s, read = self._s, self._s.read
        run = await s.db(read.get_run, run_id)
        if run is None or run.get("status") not in ENDED:
            return []
        job = await s.db(read.get_job, str(run["job"]))
        if job is None:
            return []
        out: list[Proposal] = []
        if _ran_past(run, job, None) and not run.get("slow"):
            out += await self._propose(slow_proposal(run_id, now=now))
        retries = int(job.get("retries") or 0)
        if run["status"] == "succeeded" and self._index.dependents.get(str(job["name"])):
            for dependent in await s.db(read.dependents, str(job["name"])):
                out += await self._after(dependent, now)
        elif final_failure(run, retries):
            for name in job.get("on_failure") or ():
                out += await self._on_failure(str(name), run, now)
            out += await self._maybe_pause(job, now)
        return out

    async def _after(self, job: Mapping[str, Any], now: datetime) -> list[Proposal]:
        s, read = self._s, self._s.read
        after = [str(n) for n in job.get("after") or ()]
        successes = {n: await s.db(read.latest_success, n) for n in after}
        last = await s.db(read.last_fired, str(job["name"]))
        parent = after_parent(after, successes, last)
        if parent is None:
            return []
        reason = f"after {', '.join(after)} (run {parent})"
        return await self._start(job, "after", parent, reason, now)

    async def _on_failure(self, name: str, run: Mapping[str, Any], now: datetime
                          ) -> list[Proposal]:
        job = await self._s.db(self._s.read.get_job, name)
        if job is None:
            log.warning("on_failure names job %s, which does not exist", name)
            return []
        reason = f"on_failure of {run['job']} (run {run['id']})"
        return await self._start(job, "on_failure", str(run["id"]), reason, now)

    async def _start(self, job: Mapping[str, Any], cause: str, parent: str, reason: str,
                     now: datetime) -> list[Proposal]:
        s = self._s
        name = str(job["name"])
        if await s.db(s.read.triggered_runs, name, parent):
            return []  # decided already (by this leader or the one before)
        active = await s.db(s.read.active_runs)
        where = await s.passes.placement(now, active)
        skip = None
        if job.get("status") != "scheduled":
            skip = f"job {job.get('status')}"
        elif (job.get("concurrency") == Concurrency.FORBID
              and any(r.get("job") == name for r in active)):
            skip = "a run of the job is still active (concurrency = forbid)"
        records = trigger_records(JobPlan.of(job), now, where, now=now, reason=reason,
                                  new_run_id=s.new_run_id, skip=skip)
        return await self._propose(trigger_proposal(name, cause, records, now=now,
                                                    triggered_by=parent))

    async def _maybe_pause(self, job: Mapping[str, Any], now: datetime) -> list[Proposal]:
        limit = job.get("pause_after_failures")
        if not limit or job.get("paused") or job.get("status") != "scheduled":
            return []
        retries = int(job.get("retries") or 0)
        history, _ = await self._s.db(self._s.read.list_runs, job=str(job["name"]),
                                      limit=min(1000, int(limit) * (retries + 1) + 50))
        count, newest = consecutive_failures(history, retries, since=job.get("updated_at"))
        if count < int(limit):
            return []
        reason = pause_text(count, newest)
        log.warning("job %s: %s", job["name"], reason)
        return await self._propose(pause_proposal(str(job["name"]), reason, newest, now=now))

    # --- periodic -------------------------------------------------------------------------

    async def _flag_slow(self, active: list[dict], now: datetime) -> list[Proposal]:
        out: list[Proposal] = []
        for run in active:
            expected = self._index.expected.get(str(run.get("job")))
            if expected is None or run.get("slow") or not run.get("started_at"):
                continue
            if now - parse_time(str(run["started_at"])) > expected:
                out += await self._propose(slow_proposal(str(run["id"]), now=now))
        return out

    async def _backfills(self, active: list[dict], now: datetime) -> list[Proposal]:
        s = self._s
        open_ = await s.db(s.read.backfills, open_only=True)
        self._open_backfills = bool(open_)
        out: list[Proposal] = []
        busy = {str(r.get("job")) for r in active if r.get("status") in ACTIVE_STATUSES}
        for bf in open_:
            job = await s.db(s.read.get_job, str(bf["job"]))
            if job is None or job.get("status") != "scheduled":
                continue  # a paused job's backfill waits; a deleted job's is gone
            if job.get("concurrency") != Concurrency.ALLOW and bf["job"] in busy:
                continue
            index = int(bf["done"])
            slot = parse_time(bf["slots"][index])
            where = await s.passes.placement(now, active)
            reason = f"backfill {bf['id']} slot {index + 1} of {bf['total']}"
            records = trigger_records(JobPlan.of(job), slot, where, now=now, reason=reason,
                                      new_run_id=s.new_run_id)
            out += await self._propose(trigger_proposal(str(job["name"]), "backfill", records,
                                                        now=now, backfill=str(bf["id"]),
                                                        index=index))
            busy.add(str(bf["job"]))
        return out

    async def _propose(self, proposal: Proposal) -> list[Proposal]:
        result = await self._s.propose(proposal)
        if result is None:
            self._unsure = True
        if result is not None and result.get("ok") is False and not result.get("duplicate"):
            log.info("%s refused: %s", proposal.key, result.get("message"))
        return [proposal]


def _ran_past(run: Mapping[str, Any], job: Mapping[str, Any], now: datetime | None) -> bool:
    """Whether `run` ran (or, with `now`, is running) longer than `expected_duration`."""
    expected = job.get("expected_duration")
    started = run.get("started_at")
    if not expected or not started:
        return False
    end = run.get("finished_at") if now is None else None
    if now is None and not end:
        return False
    until = parse_time(str(end)) if end else now
    assert until is not None
    return until - parse_time(str(started)) > parse_duration(str(expected),
                                                             field="expected_duration")


class _Index:
    """The watched jobs: job -> its `after` (and the reverse: job -> its dependents), the
    jobs with `on_failure` or `pause_after_failures`, and each `expected_duration`."""

    def __init__(self) -> None:
        self.after: dict[str, list[str]] = {}
        self.dependents: dict[str, set[str]] = {}
        self.acts: set[str] = set()
        self.expected: dict[str, timedelta] = {}

    @property
    def jobs(self) -> set[str]:
        return set(self.after) | self.acts | set(self.expected) | set(self.dependents)

    def watched(self, job: str) -> bool:
        return bool(self.dependents.get(job)) or job in self.acts or job in self.expected

    def put(self, spec: Mapping[str, Any]) -> None:
        name = str(spec.get("name"))
        self.drop(name)
        after = [str(n) for n in spec.get("after") or ()]
        if after:
            self.after[name] = after
            for parent in after:
                self.dependents.setdefault(parent, set()).add(name)
        if spec.get("on_failure") or spec.get("pause_after_failures"):
            self.acts.add(name)
        if spec.get("expected_duration"):
            try:
                self.expected[name] = parse_duration(str(spec["expected_duration"]),
                                                     field="expected_duration")
            except ValueError:
                log.warning("job %s: unreadable expected_duration", name)

    def drop(self, name: str) -> None:
        """Forget `name`'s own fields; the jobs that list it in `after` still do."""
        for parent in self.after.pop(name, ()):
            self.dependents.get(parent, set()).discard(name)
        self.acts.discard(name)
        self.expected.pop(name, None)
