"""The read side of a job: the stored job plus `next_runs`, `last_run` and `counts`.

`next_runs` are the next fire times (slot times, ISO 8601 UTC with `Z`) computed with
`raftcron.schedule` from the stored expansion (H fields already replaced, so every peer shows
the same times), honouring `start_at`, `end_at`, `max_runs`, the job's cursor (the last slot
fired) and its status: a paused or finished job has none.

They are remembered per job version (`_NextRunsCache`): the times after `now` stay the same
until the first of them passes, so a read asks the schedule again only once per slot (or
after a change to the job), not on every request. `GET /jobs` shows only `next_run`, which
is the `next_slot` the state stores (no schedule at all while it is ahead).

A job read is a handful of index lookups (`ReadDb.load_job`), done on the event loop
(`Runtime.quick`): cheaper than the hop to a reader thread.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from raftcron.durations import format_time, parse_time
from raftcron.errors import JobNotFoundError, RaftcronError
from raftcron.planning.job_plan import JobPlan
from raftcron.scheduler.parsed import SHARED as PARSED

if TYPE_CHECKING:
    from raftcron.db.reader import ReadDb

#: How many fire times `GET /jobs/{name}` shows.
NEXT_RUNS = 5
_TICK = timedelta(microseconds=1)


def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    try:
        return parse_time(str(value))
    except RaftcronError:
        return None


def _fired_count(job: dict) -> int | None:
    """Scheduled fires that count toward `max_runs`, when the stored job carries them."""
    value = job.get("fired_count")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


#: What `next_runs` reads from a job: an answer is reused only while all of these are equal.
_KEY_FIELDS = ("name", "paused", "status", "schedule", "expanded_schedule", "tz", "created_at",
               "updated_at", "cursor", "start_at", "end_at", "max_runs", "fired_count")


class _NextRunsCache:
    """(job fields, count) -> (computed at, valid until, times), at most `size` entries.
    Safe to share between the loop and the read threads (plain dict operations)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._entries: dict[tuple, tuple[datetime, datetime | None, list[str]]] = {}

    def get(self, key: tuple, now: datetime) -> list[str] | None:
        """The times remembered under `key` while still valid at `now`; TypeError when `key`
        is not hashable."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        computed, until, times = entry
        if now < computed or (until is not None and now >= until):
            return None
        return list(times)

    def put(self, key: tuple, now: datetime, times: list[str]) -> None:
        if len(self._entries) >= self.size:
            self._entries.clear()  # crude but bounded: the next reads refill it
        until = parse_time(times[0]) if times else None
        self._entries[key] = (now, until, list(times))


_CACHE = _NextRunsCache()


def next_runs(job: dict, now: datetime, *, count: int = NEXT_RUNS) -> list[str]:
    """`compute_next_runs`, remembered until its first time passes (or the job changes)."""
    key = (count, *[job.get(f) for f in _KEY_FIELDS])
    try:
        cached = _CACHE.get(key, now)
    except TypeError:  # a field that is not hashable (a stored oddity): by its text instead
        try:
            key = (count, *[repr(job.get(f)) for f in _KEY_FIELDS])
        except Exception:  # an unprintable value: compute it every time
            return compute_next_runs(job, now, count=count)
        cached = _CACHE.get(key, now)
    if cached is not None:
        return cached
    out = compute_next_runs(job, now, count=count)
    _CACHE.put(key, now, out)
    return out


def compute_next_runs(job: dict, now: datetime, *, count: int = NEXT_RUNS) -> list[str]:
    """The next `count` slot times of `job` strictly after `now` and after its cursor.

    The same rules as the leader's planner (`planning.slots.first_fire`): slots after the
    cursor (the
    last slot fired) or the job's creation, `start_at` inclusive, none after `end_at`, at most
    `max_runs` minus the scheduled fires so far; none while paused or finished.
    """
    if job.get("paused") or job.get("status") in ("paused", "finished"):
        return []
    try:
        plan = JobPlan.of(job)
        created = _time(job.get("created_at"))
        sched = PARSED.get(job.get("schedule"), job.get("expanded_schedule"),
                           str(job.get("tz") or "UTC"), plan.name, plan.start_at, created)
    except RaftcronError:
        return []  # a stored job that no longer parses shows no times rather than a 500
    after = now
    cursor = _time(job.get("cursor"))
    if cursor is not None and cursor > after:
        after = cursor
    if plan.start_at is not None and plan.start_at - _TICK > after:
        after = plan.start_at - _TICK  # start_at itself may be a slot (next_after is strict)
    remaining = count
    fired = _fired_count(job)
    if plan.max_runs is not None and fired is not None:
        remaining = min(remaining, max(0, plan.max_runs - fired))
    out: list[str] = []
    for slot in sched.iter_after(after):
        if len(out) >= remaining or (plan.end_at is not None and slot > plan.end_at):
            break
        out.append(format_time(slot))
    return out


def after_now(now: datetime) -> str:
    """`now` in the fixed-width form `_fixed` gives a stored time, for `next_run`: compared
    as strings, no time is parsed per job."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fixed(text: str) -> str | None:
    """A time as the API writes it (`...:SSZ` or `...:SS.ffffffZ`) in the fixed-width form,
    whose string order is time order; None for any other shape."""
    if len(text) == 20 and text[19] == "Z" and text[10] == "T":
        return text[:19] + ".000000Z"
    if len(text) == 27 and text[19] == "." and text[26] == "Z" and text[10] == "T":
        return text
    return None


def next_run(job: dict, now: datetime, ahead: str | None = None) -> str | None:
    """The job's next slot time after `now`: the `next_slot` its last command stored, when
    that is still ahead (no schedule parsed: what `GET /jobs` shows for every job), else
    worked out as `next_runs` does (a stored time already passed, or none stored yet).
    `ahead` is `after_now(now)`, worked out once for a whole page."""
    text = job.get("next_slot")
    stored: str | None = None
    if isinstance(text, str) and text:
        key = _fixed(text)
        if key is not None:
            stored = text if key > (ahead or after_now(now)) else None
        else:
            parsed = _time(text)
            stored = format_time(parsed) if parsed is not None and parsed > now else None
    if stored is not None and job.get("status") == "scheduled" and not job.get("paused"):
        max_runs, fired = job.get("max_runs"), _fired_count(job)
        if not isinstance(max_runs, int) or fired is None or fired < max_runs:
            return stored
    upcoming = next_runs(job, now, count=1)
    return upcoming[0] if upcoming else None


def load_job(read: ReadDb, name: str) -> dict:
    """Blocking: the job with `last_run` and `counts`, a fresh dict (`Runtime.quick` runs it
    on the loop; `ReadDb.load_job` defers a job with a long run history to a thread)."""
    job = read.load_job(name)
    if job is None:
        raise JobNotFoundError(name)
    return job


#: Bookkeeping the copy keeps with a job that is not part of the job resource: dropped from
#: answers so a client can PUT back what it got (the model refuses unknown fields).
INTERNAL_FIELDS = ("expanded_schedule", "expanded", "cursor", "fired_count", "next_slot",
                   "next_fire_at")


def public(job: dict) -> dict:
    """A copy of `job` without the internal bookkeeping fields (in the same order)."""
    out = dict(job)
    for key in INTERNAL_FIELDS:
        out.pop(key, None)
    return out


#: What a hidden secret value is answered as (and, in a write, "keep the stored value").
REDACTED = "***"


def redact(job: dict, *, reveal: bool) -> dict:
    """`job` with every `env` value and its `notify.webhook_secret` replaced by `REDACTED`,
    unless `reveal`.

    The keys stay visible (an operator sees which variables a job sets); only the values are
    secret. Used by every answer that carries a job."""
    if reveal:
        return job
    env = job.get("env")
    if isinstance(env, dict) and env:
        job = {**job, "env": dict.fromkeys(env, REDACTED)}
    policy = job.get("notify")
    if isinstance(policy, dict) and policy.get("webhook_secret"):
        job = {**job, "notify": {**policy, "webhook_secret": REDACTED}}
    return job


def with_next_runs(job: dict, now: datetime, *, count: int = NEXT_RUNS) -> dict:
    """`job` with `next_runs` filled in and internal bookkeeping keys removed."""
    out = public(job)
    out["next_runs"] = next_runs(job, now, count=count)
    return out
