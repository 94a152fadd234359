"""The planning view of a job: the few fields the leader's decisions read, already typed.

`JobPlan.of(job)` accepts a `model.Job`, the canonical job dict (`model.job_to_dict`, as the
state stores it: durations as strings, times as ISO Z) or a `JobPlan`, so the pure planners
can be table-tested with plain dicts and the scheduler can feed them rows from the SQLite copy
without running the full job validation for every one of 100,000 jobs. A value that does not
fit raises `ValidationError` naming the field; a missing or null field takes `model.Job`'s
default, so the defaults live in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from raftcron.durations import parse_duration, parse_time
from raftcron.errors import ValidationError
from raftcron.model import Catchup, Concurrency, Hosts, Job

_JOB_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(Job) if f.default is not dataclasses.MISSING
}


@dataclass(frozen=True, kw_only=True)
class JobPlan:
    """What the scheduler needs to know about one job. Policies are the model's `StrEnum`s."""

    name: str
    concurrency: Concurrency = _JOB_DEFAULTS["concurrency"]
    catchup: Catchup = _JOB_DEFAULTS["catchup"]
    catchup_window: timedelta = _JOB_DEFAULTS["catchup_window"]
    jitter: timedelta = _JOB_DEFAULTS["jitter"]
    start_at: datetime | None = None
    end_at: datetime | None = None
    max_runs: int | None = None
    retries: int = _JOB_DEFAULTS["retries"]
    retry_backoff: timedelta = _JOB_DEFAULTS["retry_backoff"]
    retry_backoff_max: timedelta = _JOB_DEFAULTS["retry_backoff_max"]
    hosts: Hosts = _JOB_DEFAULTS["hosts"]
    roles: frozenset[str] = frozenset()
    paused: bool = False
    #: The job's own blackout windows (cron expressions in `tz`) and its zone.
    blackout: tuple[str, ...] = ()
    tz: str = "UTC"
    queue_cap: int = _JOB_DEFAULTS["queue_cap"]
    max_parallel: int | str | None = None
    keep_going: bool = True
    concurrency_group: str | None = None

    @classmethod
    def of(cls, job: JobPlan | Job | Mapping[str, Any]) -> JobPlan:
        """Normalize a `Job`, a canonical job dict or a `JobPlan` (returned as is)."""
        if isinstance(job, JobPlan):
            return job
        if isinstance(job, Mapping):
            get = job.get
        else:
            def get(key: str, default: Any = None) -> Any:
                return getattr(job, key, default)
        name = get("name")
        if not isinstance(name, str) or not name:
            raise ValidationError("name: a job needs a name", field="name")
        return cls(
            name=name,
            concurrency=_enum(Concurrency, get("concurrency"), "concurrency"),
            catchup=_enum(Catchup, get("catchup"), "catchup"),
            catchup_window=_duration(get("catchup_window"), "catchup_window"),
            jitter=_duration(get("jitter"), "jitter"),
            start_at=_time(get("start_at"), "start_at"),
            end_at=_time(get("end_at"), "end_at"),
            max_runs=_count(get("max_runs"), "max_runs", optional=True),
            retries=_count(get("retries"), "retries"),
            retry_backoff=_duration(get("retry_backoff"), "retry_backoff"),
            retry_backoff_max=_duration(get("retry_backoff_max"), "retry_backoff_max"),
            hosts=_enum(Hosts, get("hosts"), "hosts"),
            roles=frozenset(_roles(get("roles"))),
            paused=bool(get("paused") or False),
            blackout=tuple(_blackout(get("blackout"))),
            tz=str(get("tz") or "UTC"),
            queue_cap=_count(get("queue_cap"), "queue_cap") or 1,
            max_parallel=get("max_parallel"),
            keep_going=get("keep_going") is not False,
            concurrency_group=get("concurrency_group") or None,
        )


def _enum(kind: type[Any], value: Any, field: str) -> Any:
    if value is None:
        return _JOB_DEFAULTS[field]
    try:
        return kind(str(value))
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise ValidationError(
            f"{field}: {value!r} is not one of {allowed}", field=field) from None


def _duration(value: Any, field: str) -> timedelta:
    if value is None:
        return _JOB_DEFAULTS[field]
    if isinstance(value, timedelta):
        return value
    return parse_duration(value, field=field)


def _time(value: Any, field: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValidationError(f"{field}: needs a UTC offset", field=field)
        return value
    return parse_time(value, field=field)


def _count(value: Any, field: str, *, optional: bool = False) -> Any:
    if value is None:
        return None if optional else _JOB_DEFAULTS[field]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"{field}: expected a whole number >= 0, got {value!r}",
                              field=field)
    return value


def _blackout(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not all(isinstance(r, str) for r in value):
        raise ValidationError(f"blackout: expected a list of cron expressions, got {value!r}",
                              field="blackout")
    return list(value)


def _roles(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not all(isinstance(r, str) for r in value):
        raise ValidationError(f"roles: expected a list of names, got {value!r}", field="roles")
    return list(value)
