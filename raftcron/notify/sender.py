"""The notification sender: on the leader, tells webhooks and mailboxes what
`notify/decisions.py` decides.

- Every peer registers `on_applied` with the node, but only a started notifier (this peer
  leads: started and stopped with leadership like the scheduler) acts. It looks at applied
  `run_finished` and `run_lost` (a run reached a terminal status) and `fire` (skipped or
  missed records), reads the run and the job from this peer's copy, and decides the events.
- Nothing is read for a run whose job has nobody to tell (no webhook or email of its own nor
  the cluster's, or no event wanted: most jobs): `notify/audience.py` keeps which jobs may
  have someone to tell, and the notifier the job of every run fired and not yet ended (loaded
  from the copy when leadership starts, then kept from the applied commands), so deciding
  that such a run needs nothing costs two dict lookups on the loop instead of three reads.
- While started it also checks every `tick` seconds for jobs whose `notify.on` lists `absent`
  and that have not succeeded within `absent_after` (the dead man's switch), reading only
  those jobs (`ReadDb.absent_watched_jobs`, a partial index), never every job.
- A decided event is not sent at once: it is committed to the replicated outbox
  (`notify/outbox.py`: `notify_intent`, one item per target, with a stable id), delivered
  once applied, and its result committed (`notify_result`). A leader that starts delivers
  what its copy holds as pending, and re-decides the events of runs fired within
  `RECOVER_WINDOW` whose notifications were never committed (the previous leader died between
  the run's end and its intent); the stable ids make a re-decided event the same row.
- Secrets: logs name a webhook by `notify.redact_url` (no userinfo, no query); nothing logs
  a job's env. A failure to notify is logged, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from raftcron.clock import Clock
from raftcron.config.cluster import NotifyConfig
from raftcron.durations import format_time, parse_duration, parse_time
from raftcron.model import NotifyEvent
from raftcron.notify import decisions as notify
from raftcron.notify.audience import Audience
from raftcron.notify.outbox import Outbox, PostJson, Propose, SendMail, intent_items
from raftcron.schedule import parse

if TYPE_CHECKING:
    from raftcron.db.reader import ReadDb

log = logging.getLogger(__name__)

#: Seconds between two absent checks.
ABSENT_TICK = 30.0
#: How far back a starting leader looks for ended runs whose notifications were never
#: committed (by when they fired), and at most how many runs it looks at.
RECOVER_WINDOW = timedelta(hours=1)
RECOVER_RUNS = 5_000
#: Runs of a job read to find its previous outcome.
HISTORY = 50
#: Active runs whose job the notifier remembers (beyond that, the oldest is read on its end).
TRACKED_RUNS = 200_000
OUTCOMES = sorted(notify.OUTCOME_STATUSES)
ENDED = sorted(notify.OUTCOME_STATUSES | notify.MISSED_STATUSES)


class Notifier:
    """Sends job notifications while this peer leads. See the module docstring."""

    def __init__(self, *, read: ReadDb, clock: Clock, self_id: str, config: NotifyConfig,
                 propose: Propose, tick: float = ABSENT_TICK, attempts: int = 3,
                 timeout: float = 10.0, backoff: float = 1.0, post: PostJson | None = None,
                 mail: SendMail | None = None) -> None:
        self.read = read
        self.clock = clock
        self.self_id = self_id
        self.config = config
        self.tick = tick
        self.outbox = Outbox(propose=propose, now=lambda: format_time(self.clock.now()),
                             config=config, job_of=self._job_of, attempts=attempts,
                             timeout=timeout, backoff=backoff, post=post, mail=mail)
        self._task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        #: job -> the absence reference already told about (in memory, this leadership on).
        self._told_absent: dict[str, datetime] = {}
        #: Which jobs may have someone to tell (a superset: the read decides the events).
        self.audience = Audience(config)
        #: Set once this leadership's read of the jobs with a policy has ended.
        self._loaded = asyncio.Event()
        #: run id -> job, for the runs fired and not yet ended (while started).
        self._run_jobs: dict[str, str] = {}

    @property
    def sent(self) -> int:
        return self.outbox.sent

    @property
    def failed(self) -> int:
        return self.outbox.failed

    # --- leadership -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Begin acting on applied commands, delivering the outbox and checking absences (this
        peer leads)."""
        if self.running:
            return
        # The active runs on the loop, with no await before the task exists: every command
        # applied from here on updates what this read found (there are few: an index).
        self.audience.begin_load()
        self._run_jobs = self.read.active_run_jobs()
        self.outbox.start()
        loaded = self._loaded = asyncio.Event()
        task = self._task = asyncio.get_running_loop().create_task(
            self._leading(), name="raftcron-notifier")
        # The jobs with a target of their own off the loop (a new leader with 100,000 jobs
        # must not stall its scheduler for this): the `put_job`s applied meanwhile are already
        # tracked, and what the read adds on top is at worst a superset, which is fine (the
        # read decides). With a cluster target there is nothing to read (`Audience`).
        try:
            if self.audience.needs_load:
                jobs = await self.read.call(self.read.notify_jobs)
                if self._task is task:  # still the same leadership
                    self.audience.loaded(jobs)
        finally:
            if self._task is task:
                self.audience.loading = False
            loaded.set()

    async def stop(self) -> None:
        """Stop deciding (leadership ended). Sends already under way finish on their own."""
        task, self._task = self._task, None
        self.outbox.stop()
        self._told_absent.clear()  # the next leadership starts from scratch
        self.audience.clear()
        self._run_jobs.clear()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def close(self) -> None:
        """Stop, and abandon sends in flight (the daemon is going down; what stays pending is
        delivered by the next leader)."""
        await self.stop()
        sends = list(self._sends)
        for send in sends:
            send.cancel()
        for send in sends:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await send
        await self.outbox.close()

    async def drain(self) -> None:
        """Wait for the decisions and deliveries in flight (tests)."""
        while self._sends or self.outbox._tasks:
            await asyncio.gather(*list(self._sends), return_exceptions=True)
            await self.outbox.drain()

    def status(self) -> dict[str, Any]:
        return {"running": self.running, "in_flight": self.outbox.in_flight,
                "sent": self.sent, "failed": self.failed,
                "absent_told": sorted(self._told_absent)}

    async def _leading(self) -> None:
        """While leading: resume the pending notifications, recover the events of recently
        ended runs never committed, then run the dead man's switch."""
        try:
            await self.outbox.resume(
                lambda after: self.read.call(self.read.pending_notifications, after=after))
            await self._loaded.wait()  # the recovery looks at the jobs with a policy
            await self._recover_recent()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("notifier: resuming pending notifications failed")
        await self._absent_loop()

    async def _recover_recent(self) -> None:
        if not self.audience.may_tell_any():
            return
        since = format_time(self.clock.now() - RECOVER_WINDOW)
        runs, _ = await self.read.call(self.read.list_runs, status=ENDED, since=since,
                                       limit=min(RECOVER_RUNS, 1000))
        for run in runs:
            if self.audience.may_tell(str(run.get("job"))):
                await self._tell_run_ended(str(run["id"]), recovering=True)

    # --- applied commands -------------------------------------------------------------------

    def on_applied(self, index: int, command: Any, result: Any) -> None:
        """The node's apply listener (on the loop). Never raises, never blocks on the network."""
        if not self.running:
            return
        try:
            self._dispatch(command, result)
        except Exception:
            log.exception("notifier failed to handle applied command %d (%s)", index,
                          getattr(command, "op", "?"))

    def _dispatch(self, command: Any, result: Any) -> None:
        if not isinstance(result, dict):
            return
        if command.op == "batch":
            for child, child_result in zip(command.children, result.get("results") or [],
                                           strict=False):
                self._dispatch(child, child_result)
        elif command.op in ("run_finished", "run_lost") and result.get("ok"):
            run_id = str(command.args.get("run_id"))
            job = self._run_jobs.pop(run_id, None)
            # An unknown run (evicted past the cap) is read, as every run once was.
            if job is None or self.audience.may_tell(job):
                self._run_ended(run_id)
        elif command.op == "fire":
            accepted = set(result.get("accepted") or ())
            for record in command.args.get("runs") or ():
                run_id, job = record.get("run_id"), str(record.get("job"))
                if run_id not in accepted:
                    continue
                if record.get("status", "pending") not in notify.MISSED_STATUSES:
                    self._track(str(run_id), job)
                elif self.audience.may_tell(job):
                    self._run_ended(str(run_id))
        elif command.op in ("pause_reason", "run_slow") and result.get("ok"):
            if not result.get("already"):  # `slow` told once per run
                self._spawn(self._tell_rule(command.op, command.args))
        elif command.op == "put_job" and result.get("ok"):
            self.audience.on_put(command.args.get("job") or {})
        elif command.op == "delete_job" and result.get("ok"):
            self.audience.on_delete(str(command.args.get("name")))
        elif command.op == "notify_intent" and result.get("ok"):
            self.outbox.on_intent(command.args, result)

    def _track(self, run_id: str, job: str) -> None:
        if len(self._run_jobs) >= TRACKED_RUNS:
            # Bounded memory: the oldest run is forgotten; its end costs the reads again.
            self._run_jobs.pop(next(iter(self._run_jobs)))
        self._run_jobs[run_id] = job

    def _run_ended(self, run_id: str) -> None:
        self._spawn(self._tell_run_ended(run_id))

    async def _tell_run_ended(self, run_id: str, *, recovering: bool = False) -> None:
        view = await self.read.call(self._ended_view, run_id)
        if view is None:
            return
        run, job, on, previous = view
        items: list[dict[str, Any]] = []
        for event in notify.run_events(on, run, previous, int(job.get("retries") or 0)):
            items += self._items(job, event, run)
        if recovering and items:
            known = await self.read.call(self.read.known_notifications,
                                         [i["id"] for i in items])
            items = [i for i in items if i["id"] not in known]
        self.outbox.commit(items)

    async def _tell_rule(self, op: str, args: Mapping[str, Any]) -> None:
        """`paused` (pause_after_failures) or `slow` (expected_duration): told to the job's
        targets whatever its `notify.on` lists, when it has any."""
        run_id = args.get("run_id")
        run = await self.read.call(self.read.get_run, str(run_id)) if run_id else None
        name = args.get("name") or (run or {}).get("job")
        job = await self.read.call(self.read.get_job, str(name)) if name else None
        if job is None:
            return
        event = NotifyEvent.PAUSED if op == "pause_reason" else NotifyEvent.SLOW
        # A pause is about the job at the time it was paused; `slow` about its run.
        about = f"{name}@{args.get('at')}" if op == "pause_reason" else str(run_id)
        self.outbox.commit(self._items(job, event, run, about=about))

    def _ended_view(self, run_id: str) -> tuple[dict, dict, list, Any] | None:
        """(run, job, notify.on, previous outcome) for a run that ended; on a reader thread."""
        run = self.read.get_run(run_id)
        if run is None:
            return None
        job = self.read.get_job(str(run["job"]))
        if job is None:
            return None
        on = (job.get("notify") or {}).get("on") or []
        if not on:
            return None
        previous = None
        if run.get("status") == "succeeded" and str(NotifyEvent.RECOVERY) in on:
            history, _ = self.read.list_runs(job=job["name"], status=OUTCOMES, limit=HISTORY)
            previous = notify.previous_outcome(run, history)
        return run, job, on, previous

    # --- the dead man's switch --------------------------------------------------------------

    async def _absent_loop(self) -> None:
        while True:
            try:
                await self.check_absent()
            except Exception:
                log.exception("notifier: the absent check failed")
            await asyncio.sleep(self.tick)

    async def check_absent(self, now: datetime | None = None) -> list[str]:
        """One pass of the dead man's switch; returns the jobs told about now."""
        now = now or self.clock.now()
        told: list[str] = []
        for job, last in await self.read.call(self._watched):
            if self._check_one(job, last, now):
                told.append(str(job["name"]))
        return told

    def _watched(self) -> list[tuple[dict, list[dict]]]:
        """Each job watched for `absent` with its last success; on a reader thread. Only those
        jobs, through their partial index: an idle cluster of 100,000 jobs none of which asks
        for it costs one empty index probe."""
        out: list[tuple[dict, list[dict]]] = []
        cursor: str | None = None
        while True:
            jobs, cursor = self.read.absent_watched_jobs(limit=500, after=cursor)
            for job in jobs:
                last, _ = self.read.list_runs(job=str(job["name"]), status="succeeded", limit=1)
                out.append((job, last))
            if cursor is None:
                return out

    def _check_one(self, job: Mapping[str, Any], last: list[dict], now: datetime) -> bool:
        policy = job.get("notify") or {}
        if str(NotifyEvent.ABSENT) not in (policy.get("on") or []):
            return False
        name = str(job["name"])
        stamp = (last[0].get("finished_at") if last else None) or job.get("created_at")
        if not stamp:
            return False
        reference = parse_time(stamp)
        found = notify.absence(name, reference=reference, now=now,
                               absent_after=self._absent_after(job, policy, reference),
                               told_for=self._told_absent.get(name))
        if found is None:
            return False
        self._told_absent[name] = reference
        self.outbox.commit(self._items(job, NotifyEvent.ABSENT, last[0] if last else None,
                                       absent=found, about=f"{name}@{format_time(reference)}"))
        return True

    def _absent_after(self, job: Mapping[str, Any], policy: Mapping[str, Any],
                      reference: datetime) -> timedelta | None:
        if policy.get("absent_after"):
            return parse_duration(str(policy["absent_after"]), field="notify.absent_after")
        try:
            schedule = parse(job.get("expanded_schedule") or job["schedule"],
                             tz=str(job.get("tz") or "UTC"), name=str(job["name"]),
                             anchor=parse_time(job["created_at"]) if job.get("created_at")
                             else None)
            return notify.default_absent_after(schedule, reference)
        except Exception:
            log.warning("job %s: cannot derive notify.absent_after from its schedule",
                        job.get("name"))
            return None

    # --- what to tell --------------------------------------------------------------------

    def _items(self, job: Mapping[str, Any], event: NotifyEvent, run: Mapping[str, Any] | None,
               absent: notify.Absence | None = None, about: str | None = None) -> list[dict]:
        """The outbox items of one event (`notify.outbox.intent_items`)."""
        name, at = str(job["name"]), format_time(self.clock.now())
        log.info("job %s: %s%s", name, event, f" (run {run['id']})" if run else "")
        payload = notify.webhook_payload(event, name, run, peer=self.self_id, at=at)
        email = notify.email_text(event, name, run, peer=self.self_id, at=at, absent=absent)
        run_id = str(run["id"]) if run else None
        return intent_items(job, str(event), about or run_id or name, run_id,
                            config=self.config, webhook_payload=payload, email=email)

    async def _job_of(self, name: str) -> dict | None:
        return await self.read.call(self.read.get_job, name)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)
