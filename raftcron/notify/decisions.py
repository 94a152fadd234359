"""Notification decisions, pure: which events a finished run or a quiet job fires, and what the
messages say. No clock, no I/O; `notify/sender.py` sends.

Events (docs/jobs.md, `model.NotifyEvent`), each told only when the job's `notify.on` lists it:

- `failure`: a run ended `failed`, `timed_out` or `lost` and no retry follows it (its attempt
  is past the job's `retries`; attempts count from 1, so with `retries = 2` attempt 3 is the
  last). A failed attempt that will be retried tells nobody.
- `recovery`: a run `succeeded` and the job's previous outcome (the newest earlier succeeded,
  failed, timed_out or lost run of another slot) was a failure.
- `success`: every run that `succeeded`.
- `missed`: a slot recorded `skipped` or `missed` instead of running.
- `absent` (dead man's switch): no success within `absent_after` of the last success (or of
  the job's creation when it never succeeded). Told once per absence: the sender remembers the
  reference time it told about, and tells again only after a new success moves it.

A `cancelled` run tells nobody: someone asked for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from raftcron.model import FAILURE_STATUSES, NotifyEvent, RunStatus

#: Statuses that count as a job's outcome when judging `recovery`.
OUTCOME_STATUSES = FAILURE_STATUSES | {RunStatus.SUCCEEDED}
MISSED_STATUSES = frozenset({RunStatus.SKIPPED, RunStatus.MISSED})
#: The run fields a notification carries (the run resource of docs/api.md).
RUN_FIELDS = ("id", "job", "slot", "attempt", "peer", "target", "status", "fired_at",
              "started_at", "finished_at", "exit_code", "stdout_tail", "stderr_tail", "reason")
#: Characters of each output tail an email shows.
EMAIL_TAIL_CHARS = 4000


def _events(on: Iterable[str | NotifyEvent]) -> frozenset[str]:
    return frozenset(str(NotifyEvent(e)) for e in on)


def is_final_attempt(run: Mapping[str, Any], retries: int) -> bool:
    """True when no retry follows `run`: its attempt (from 1) is past `retries`."""
    return int(run.get("attempt") or 1) > max(0, int(retries or 0))


def run_events(on: Iterable[str | NotifyEvent], run: Mapping[str, Any],
               previous_status: str | None, retries: int) -> list[NotifyEvent]:
    """The events a run that just reached a terminal status fires, in a stable order.

    `previous_status` is the job's previous outcome (see the module docstring), None if none.
    """
    wanted = _events(on)
    status = str(run.get("status"))
    out: list[NotifyEvent] = []
    if status in FAILURE_STATUSES:
        if is_final_attempt(run, retries):
            out.append(NotifyEvent.FAILURE)
    elif status == "succeeded":
        if previous_status in FAILURE_STATUSES:
            out.append(NotifyEvent.RECOVERY)
        out.append(NotifyEvent.SUCCESS)
    elif status in MISSED_STATUSES:
        out.append(NotifyEvent.MISSED)
    return [e for e in out if str(e) in wanted]


def previous_outcome(run: Mapping[str, Any], newest_first: Sequence[Mapping[str, Any]],
                     ) -> str | None:
    """The status of the job's outcome before `run`, from its runs newest first.

    Skips `run` itself, every run of its slot (earlier attempts of the same slot are its
    retry chain, not a previous outcome), runs of later slots (the history may be read after
    newer runs ended) and anything that is not an outcome.
    """
    slot = run.get("slot")
    for other in newest_first:
        if other.get("id") == run.get("id") or other.get("slot") == slot:
            continue
        if slot is not None and other.get("slot") is not None and other["slot"] > slot:
            continue
        status = other.get("status")
        if status in OUTCOME_STATUSES:
            return str(status)
    return None


class _Fires(Protocol):
    def iter_after(self, t: datetime) -> Iterator[datetime]: ...


def default_absent_after(schedule: _Fires, after: datetime) -> timedelta | None:
    """Twice the schedule's period after `after` (the gap between its next two fires).

    None when the schedule has fewer than two fires left (a one-shot has no period).
    """
    fires = schedule.iter_after(after)
    first, second = next(fires, None), next(fires, None)
    if first is None or second is None:
        return None
    return 2 * (second - first)


@dataclass(frozen=True)
class Absence:
    """A job found absent: no success since `reference` (the last success or the creation)."""

    job: str
    reference: datetime
    deadline: datetime


def absence(job: str, *, reference: datetime, absent_after: timedelta | None, now: datetime,
            told_for: datetime | None) -> Absence | None:
    """The absence to tell about now, or None.

    `told_for` is the reference the sender already told about (None: never): an absence is told
    once, and again only after a success moves the reference.
    """
    if absent_after is None or absent_after <= timedelta(0):
        return None
    deadline = reference + absent_after
    if now < deadline or told_for == reference:
        return None
    return Absence(job=job, reference=reference, deadline=deadline)


@dataclass(frozen=True)
class Targets:
    """Where one job's notifications go: its own targets plus the global ones, deduplicated."""

    webhooks: tuple[str, ...]
    emails: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.webhooks or self.emails)


def targets(job_notify: Mapping[str, Any], *, global_webhook: str | None,
            global_email: Iterable[str]) -> Targets:
    """The job's `notify` (as stored) merged with the cluster's `[notify]` targets."""
    hooks = [h for h in (job_notify.get("webhook"), global_webhook) if h]
    mails = list(job_notify.get("email") or ()) + list(global_email)
    return Targets(webhooks=tuple(dict.fromkeys(hooks)), emails=tuple(dict.fromkeys(mails)))


def redact_url(url: str) -> str:
    """`url` without userinfo, query or fragment: safe to log."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    except ValueError:
        return "<unparsable url>"


def run_view(run: Mapping[str, Any]) -> dict[str, Any]:
    """The run as a notification shows it: the run fields of docs/api.md only."""
    return {k: run.get(k) for k in RUN_FIELDS}


def webhook_payload(event: str | NotifyEvent, job: str, run: Mapping[str, Any] | None,
                    *, peer: str, at: str) -> dict[str, Any]:
    """The JSON a webhook gets: `{"event", "job", "run", "peer", "at"}` (`run` null for absent)."""
    return {"event": str(event), "job": job, "run": None if run is None else run_view(run),
            "peer": peer, "at": at}


def _tail(text: Any) -> str:
    text = str(text or "")
    return text if len(text) <= EMAIL_TAIL_CHARS else "..." + text[-EMAIL_TAIL_CHARS:]


def email_text(event: str | NotifyEvent, job: str, run: Mapping[str, Any] | None, *,
               peer: str, at: str, absent: Absence | None = None) -> tuple[str, str]:
    """(subject, body) of the email: subject `[raftcron] <job> <event>`."""
    event = str(event)
    lines = [f"Job: {job}", f"Event: {event}", f"At: {at}", f"Told by peer: {peer}"]
    if absent is not None:
        lines.append(f"No success since {absent.reference.isoformat()} "
                     f"(expected by {absent.deadline.isoformat()}).")
    if run is not None:
        lines += [
            f"Run: {run.get('id')} (attempt {run.get('attempt')})",
            f"Slot: {run.get('slot')}",
            f"Status: {run.get('status')}",
            f"Exit code: {run.get('exit_code')}",
            f"Reason: {run.get('reason') or '-'}",
            f"Ran on: {run.get('target') or '-'} (peer {run.get('peer') or '-'})",
            f"Started: {run.get('started_at') or '-'}  Finished: {run.get('finished_at') or '-'}",
            "", "--- stdout (tail) ---", _tail(run.get("stdout_tail")),
            "--- stderr (tail) ---", _tail(run.get("stderr_tail")),
        ]
    return f"[raftcron] {job} {event}", "\n".join(lines) + "\n"
