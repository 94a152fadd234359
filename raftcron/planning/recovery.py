"""What the leader does after runs end or peers vanish: retries, leases, pruning. Pure.

- Retries: a run that ended `failed`, `timed_out` or `lost` with `attempt <= retries` gets a
  new record (attempt + 1, same slot, `retry_of` = the run) due at its end plus
  `min(retry_backoff * 2**(attempt-1), retry_backoff_max)`, placed away from the target that
  failed when another one is eligible.
- Leases: a peer is *gone since* the last time it was heard from (or, when the transport does
  not say, since this leader first saw it unreachable). Past the lease its active runs are
  `lost`; they are then retried like failures.
- Pruning: the ids the state says are past retention go out in bounded `prune_runs` chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from raftcron.durations import format_duration, parse_time
from raftcron.model.types import FAILURE_STATUSES
from raftcron.planning.job_plan import JobPlan

#: A run that ends with one of these is retried while attempts remain.
RETRYABLE = FAILURE_STATUSES
DEFAULT_LEASE = timedelta(seconds=15)
#: Ids per `prune_runs` command: keeps one log entry small.
PRUNE_CHUNK = 500


@dataclass(frozen=True, kw_only=True)
class RetryPlan:
    """A retry to fire at `due`: attempt `attempt` of `job`'s `slot`, retrying `retry_of`."""

    retry_of: str
    job: str
    slot: datetime
    attempt: int
    due: datetime
    #: The failed attempt's peer and target, avoided when another target is eligible.
    exclude: tuple[str, ...] = ()
    #: hosts = "all": the retry belongs to this one target, it does not move.
    target: str | None = None


def backoff(job: JobPlan, attempt: int) -> timedelta:
    """Delay before retrying attempt `attempt` (1-based): doubling from retry_backoff, capped."""
    delay = job.retry_backoff
    for _ in range(max(0, attempt - 1)):
        if delay >= job.retry_backoff_max:
            break
        delay *= 2
    return min(delay, job.retry_backoff_max)


def retry_for(job: JobPlan, run: Mapping[str, Any]) -> RetryPlan | None:
    """The retry owed for `run` (a run dict as the state returns it), or None.

    None when the run did not fail, was the last attempt, or never ended.
    """
    status = str(run.get("status"))
    attempt = int(run.get("attempt") or 1)
    ended = _time(run.get("finished_at"))
    if status not in RETRYABLE or attempt > job.retries or ended is None:
        return None
    slot = _time(run.get("slot"))
    if slot is None:
        return None
    exclude = tuple(x for x in (run.get("target"), run.get("peer")) if isinstance(x, str))
    return RetryPlan(
        retry_of=str(run.get("id") or run.get("run_id")),
        job=job.name,
        slot=slot,
        attempt=attempt + 1,
        due=ended + backoff(job, attempt),
        exclude=exclude,
        target=run.get("target") if job.hosts == "all" else None,
    )


def update_down_since(
    previous: Mapping[str, datetime],
    peers: Iterable[Mapping[str, Any]],
    now: datetime,
    lease: timedelta,
    *,
    self_id: str,
    others: Iterable[str] = (),
) -> dict[str, datetime]:
    """Since when each silent peer has been silent, from `node.status()["peers"]`.

    A peer that is reachable and was heard from within the lease is not in the result. For one
    that is not, the time is its `last_contact` when the transport reports one, else when this
    leader first saw it silent (`previous`, or `now`). `others` are peers that runs name but
    the cluster no longer lists: they are silent from the first time seen. This peer itself is
    never silent.
    """
    out: dict[str, datetime] = {}
    listed = set()
    for peer in peers:
        pid = str(peer.get("id"))
        listed.add(pid)
        if pid == self_id:
            continue
        contact = contact_time(peer.get("last_contact"), now)
        fresh = contact is None or now - contact <= lease
        if peer.get("reachable", True) and fresh:
            continue
        out[pid] = contact if contact is not None else previous.get(pid, now)
    for pid in others:
        if pid not in listed and pid != self_id:
            out[pid] = previous.get(pid, now)
    return out


def lost_runs(
    active_runs: Iterable[Mapping[str, Any]],
    down_since: Mapping[str, datetime],
    now: datetime,
    lease: timedelta,
) -> list[tuple[str, str]]:
    """(run_id, reason) for each active run whose peer has been silent longer than the lease."""
    out = []
    for run in active_runs:
        peer = run.get("peer")
        since = down_since.get(peer) if isinstance(peer, str) else None
        if since is None or now - since <= lease:
            continue
        gone = format_duration(_whole_seconds(now - since))
        out.append((str(run.get("id") or run.get("run_id")),
                    f"peer {peer} unreachable for {gone} (lease {format_duration(lease)})"))
    return out


def prune_chunks(run_ids: Sequence[str], size: int = PRUNE_CHUNK) -> list[list[str]]:
    """Split the ids to prune into `prune_runs` commands of at most `size` ids each."""
    return [list(run_ids[i:i + size]) for i in range(0, len(run_ids), size)]


def contact_time(value: Any, now: datetime) -> datetime | None:
    """A peer's `last_contact` as a time: `node.status()` reports seconds since the peer was
    last heard from; an ISO time or aware datetime is accepted too. None when unknown."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    if isinstance(value, int | float):
        return now - timedelta(seconds=max(0.0, float(value)))
    if isinstance(value, str):
        return _time(value)
    return None


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return parse_time(value, field="time")
    return None


def _whole_seconds(delta: timedelta) -> timedelta:
    return timedelta(seconds=int(delta.total_seconds()))
