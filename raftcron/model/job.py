"""Job validation and the canonical job form: `job_from_dict` and `job_to_dict`.

Use them through `raftcron.model`. Validation goes field by field and stops at the first
problem, raising `ValidationError(field=<dotted name>)`; a bad schedule or time zone raises
the `InvalidScheduleError` of `raftcron.schedule` with its own field. A key whose value is
null is treated as absent (the default applies), so a client may send every field.
"""

from __future__ import annotations

import base64
import binascii
import re
import shlex
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from raftcron import schedule as schedules
from raftcron.durations import format_duration, format_time
from raftcron.model import checks as c
from raftcron.model import job_rules
from raftcron.model.job_windows import blackout_list, max_parallel, one_schedule, schedule_out
from raftcron.model.types import (
    DEFAULT_QUEUE_CAP,
    DEFAULT_SCRIPT_INTERPRETER,
    MAX_KEEP_RUNS,
    MAX_OUTPUT_TAIL,
    MAX_QUEUE_CAP,
    MAX_RETRIES,
    MAX_SCRIPT_BYTES,
    Catchup,
    Concurrency,
    Hosts,
    Job,
    JobType,
    Notify,
    NotifyEvent,
    Owner,
)

#: The fields of a job, in canonical order.
FIELDS = (
    "name", "description", "schedule", "tz", "type", "command", "script", "interpreter",
    "env", "cwd", "user", "timeout", "kill_grace", "retries", "retry_backoff",
    "retry_backoff_max", "concurrency", "catchup", "catchup_window", "jitter", "start_at",
    "end_at", "max_runs", "hosts", "roles", "keep_runs", "paused", "output_tail", "notify",
    "labels", "owners", *job_rules.FIELDS, "blackout", "queue_cap", "max_parallel",
    "keep_going", "concurrency_group",
)
#: Added by the server to what it returns; accepted and ignored on input.
READ_ONLY_FIELDS = frozenset({
    "status", "next_runs", "next_run", "last_run", "version", "created_at", "updated_at", "counts",
    "managed_by", *job_rules.READ_ONLY_FIELDS,
})
NOTIFY_FIELDS = ("on", "webhook", "email", "absent_after", "webhook_secret")
OWNER_FIELDS = ("name", "email_address")

ENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: The runner sets these itself (docs/api.md); a job may not shadow them.
RESERVED_ENV_PREFIX = "RAFTCRON_"
LABEL_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,62}")
USER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?|[0-9]{1,10}")
EMAIL_RE = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")
MAX_MAX_RUNS = 10**9
#: The longest value each duration field of a job takes: 400 naming the field beyond it. A cron
#: job that runs for a month has a bug, a retry that waits more than a week is a new slot,
#: and a delay (jitter), catch-up window or dead man's switch longer than a leap year is a
#: typo. `@every` and `interval` go up to `durations.MAX_DURATION` (about ten years). The
#: integer bounds are `model.MAX_RETRIES`, `MAX_KEEP_RUNS`, `MAX_OUTPUT_TAIL` and
#: `MAX_MAX_RUNS`; times are bounded by `durations.parse_time`.
DURATION_LIMITS = {
    "timeout": timedelta(days=30),
    "kill_grace": timedelta(days=1),
    "retry_backoff": timedelta(days=7),
    "retry_backoff_max": timedelta(days=7),
    "catchup_window": timedelta(days=366),
    "jitter": timedelta(days=366),
    "notify.absent_after": timedelta(days=366),
}


def job_from_dict(data: Any, *, name: str | None = None) -> Job:
    """See `raftcron.model.job_from_dict`."""
    data, where = _unnest_policy(c.mapping(data, "job"))
    c.check_keys(data, FIELDS, ignored=READ_ONLY_FIELDS)

    def get(key: str) -> Any:
        return data.get(key)

    def at(key: str) -> str:  # the name the user wrote the field under
        return where.get(key, key)

    job_name = c.resource_name(get("name"), name, "job")
    tz = c.string(get("tz") if get("tz") is not None else "UTC", "tz", max_len=64)
    start_at = c.time(get("start_at"), "start_at")
    end_at = c.time(get("end_at"), "end_at")
    if start_at is not None and start_at.replace(tzinfo=None) >= schedules.HORIZON:
        raise c.fail("start_at", f"must be before {schedules.HORIZON.isoformat()}Z (no "
                                 "schedule fires later)")
    if start_at is not None and end_at is not None and end_at <= start_at:
        raise c.fail("end_at", "must be after start_at")
    schedule = _schedule(get("schedule"), tz=tz, name=job_name, anchor=start_at)
    if get("concurrency_group") is not None and get("max_parallel") is not None:
        raise c.fail("concurrency_group", "a rolling fan-out (max_parallel) cannot also "
                                          "wait for a concurrency group")
    jtype, command, script, interpreter = _executable(data)

    retry_backoff = _duration(get, "retry_backoff", "10s")
    retry_backoff_max = _duration(get, "retry_backoff_max", "10m")
    if retry_backoff_max < retry_backoff:
        raise c.fail("retry_backoff_max", "must not be less than retry_backoff")
    timeout = c.opt_duration(get("timeout"), "timeout", maximum=DURATION_LIMITS["timeout"])
    if timeout is not None and not timeout:
        timeout = None  # dcron's convention: a zero timeout means none

    return Job(
        name=job_name,
        description=c.string(_or(get("description"), ""), "description", allow_empty=True),
        schedule=schedule,
        tz=tz,
        type=jtype,
        command=command,
        script=script,
        interpreter=interpreter,
        env=_env(get("env")),
        cwd=c.opt_string(get("cwd"), "cwd"),
        user=c.opt_string(get("user"), "user", max_len=33, pattern=USER_RE,
                          what="a user name or numeric uid"),
        timeout=timeout,
        kill_grace=_duration(get, "kill_grace", "5s"),
        retries=c.integer(_or(get("retries"), 0), "retries", minimum=0, maximum=MAX_RETRIES),
        retry_backoff=retry_backoff,
        retry_backoff_max=retry_backoff_max,
        concurrency=c.choice(_or(get("concurrency"), "forbid"), Concurrency, "concurrency"),
        catchup=c.choice(_or(get("catchup"), "latest"), Catchup, "catchup"),
        catchup_window=_duration(get, "catchup_window", "1h"),
        jitter=_duration(get, "jitter", "0s"),
        start_at=start_at,
        end_at=end_at,
        max_runs=c.opt_integer(get("max_runs"), "max_runs", minimum=1, maximum=MAX_MAX_RUNS),
        hosts=c.choice(_or(get("hosts"), "any"), Hosts, at("hosts")),
        roles=c.string_list(_or(get("roles"), []), at("roles"), item=c.name),
        keep_runs=c.integer(_or(get("keep_runs"), 100), "keep_runs", minimum=1,
                            maximum=MAX_KEEP_RUNS),
        paused=c.boolean(_or(get("paused"), False), "paused"),
        output_tail=c.integer(_or(get("output_tail"), 4096), "output_tail", minimum=0,
                              maximum=MAX_OUTPUT_TAIL),
        notify=_notify(get("notify")),
        labels=c.string_map(_or(get("labels"), {}), "labels", key_re=LABEL_KEY_RE,
                            key_what="a label key (letters, digits, '._/-', at most 63)",
                            max_value=256),
        owners=_owners(get("owners")),
        **job_rules.rules_from_dict(get, job_name),
        blackout=blackout_list(get("blackout"), tz=tz, field="blackout"),
        queue_cap=c.integer(_or(get("queue_cap"), DEFAULT_QUEUE_CAP), "queue_cap", minimum=1,
                            maximum=MAX_QUEUE_CAP),
        max_parallel=max_parallel(get("max_parallel")),
        keep_going=c.boolean(_or(get("keep_going"), True), "keep_going"),
        concurrency_group=(None if get("concurrency_group") is None
                           else c.name(get("concurrency_group"), "concurrency_group")),
    )


def job_to_dict(job: Job) -> dict[str, Any]:
    """See `raftcron.model.job_to_dict`. Keys in `FIELDS` order; nothing omitted."""
    notify = job.notify
    return {
        "name": job.name,
        "description": job.description,
        "schedule": schedule_out(job.schedule),
        "tz": job.tz,
        "type": job.type.value,
        "command": list(job.command) if isinstance(job.command, list) else job.command,
        "script": job.script,
        "interpreter": list(job.interpreter) if job.interpreter is not None else None,
        "env": dict(job.env),
        "cwd": job.cwd,
        "user": job.user,
        "timeout": _dur(job.timeout),
        "kill_grace": format_duration(job.kill_grace),
        "retries": job.retries,
        "retry_backoff": format_duration(job.retry_backoff),
        "retry_backoff_max": format_duration(job.retry_backoff_max),
        "concurrency": job.concurrency.value,
        "catchup": job.catchup.value,
        "catchup_window": format_duration(job.catchup_window),
        "jitter": format_duration(job.jitter),
        "start_at": format_time(job.start_at) if job.start_at is not None else None,
        "end_at": format_time(job.end_at) if job.end_at is not None else None,
        "max_runs": job.max_runs,
        "hosts": job.hosts.value,
        "roles": list(job.roles),
        "keep_runs": job.keep_runs,
        "paused": job.paused,
        "output_tail": job.output_tail,
        "notify": {
            "on": [e.value for e in notify.on],
            "webhook": notify.webhook,
            "email": list(notify.email),
            "absent_after": _dur(notify.absent_after),
            # Present only when set: the canonical form of every other job stays as it was.
            **({"webhook_secret": notify.webhook_secret} if notify.webhook_secret else {}),
        },
        "labels": dict(job.labels),
        "owners": [{"name": o.name, "email_address": o.email_address} for o in job.owners],
        **job_rules.rules_to_dict(job),
        "blackout": list(job.blackout),
        "queue_cap": job.queue_cap,
        "max_parallel": job.max_parallel,
        "keep_going": job.keep_going,
        "concurrency_group": job.concurrency_group,
    }


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def _duration(get: Any, key: str, default: str) -> timedelta:
    """Field `key` (or `default`) as a duration within `DURATION_LIMITS[key]`."""
    return c.duration(_or(get(key), default), key, maximum=DURATION_LIMITS[key])


def _dur(value: Any) -> str | None:
    return None if value is None else format_duration(value)


def _unnest_policy(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """distcrond nests `hosts` and `roles` under `policy`; lift them to the top level.

    Returns the flattened job and, for each lifted key, the name it was written under, so an
    error still points at `policy.roles` rather than at a `roles` the user never wrote.
    """
    flat = dict(data)
    policy = flat.pop("policy", None)
    if policy is None:
        return flat, {}
    policy = c.mapping(policy, "policy")
    c.check_keys(policy, ("hosts", "roles"), prefix="policy")
    where: dict[str, str] = {}
    for key, value in policy.items():
        if flat.get(key) is not None:
            raise c.fail(f"policy.{key}", f"given both here and as the top-level {key!r}")
        flat[key] = value
        where[key] = f"policy.{key}"
    return flat, where


def _schedule(value: Any, *, tz: str, name: str, anchor: Any) -> Any:
    """A cron/@every/@at string or distcrond's `{interval, reference}`, or a list of those
    (several schedules: the union of their slots); parsed to prove it."""
    if value is None:
        raise c.fail("schedule", "a job needs a schedule")
    expr: Any
    if isinstance(value, list | tuple):
        if not value:
            raise c.fail("schedule", "an empty list has no slots")
        expr = [one_schedule(v, f"schedule.{i}") for i, v in enumerate(value)]
    else:
        expr = one_schedule(value, "schedule")
    # The time zone first, so a bad zone is reported as `tz` whatever the expression.
    schedules.validate_tz(tz)
    schedules.parse(expr, tz=tz, name=name, anchor=anchor)
    return expr


def _executable(
    data: Mapping[str, Any],
) -> tuple[JobType, list[str] | str | None, str | None, list[str] | None]:
    """`type`, `command`, `script`, `interpreter`: exactly one of command and script."""
    command, script = data.get("command"), data.get("script")
    if command is not None and script is not None:
        raise c.fail("script", "give either a command or a script, not both")
    if command is None and script is None:
        raise c.fail("command", "a job needs a command (or a base64 script)")
    default = JobType.COMMAND if command is not None else JobType.SCRIPT
    jtype = c.choice(_or(data.get("type"), default.value), JobType, "type")
    if jtype is JobType.COMMAND and command is None:
        raise c.fail("type", "type 'command' needs a command, not a script")
    if jtype is not JobType.COMMAND and script is None:
        raise c.fail("type", f"type {jtype.value!r} needs a base64 script, not a command")

    interpreter_in = data.get("interpreter")
    if jtype is JobType.COMMAND:
        if interpreter_in is not None:
            raise c.fail("interpreter", "only a script or binary job takes an interpreter")
        return jtype, c.argv(command, "command"), None, None
    interpreter: list[str] | None
    if interpreter_in is None:
        interpreter = list(DEFAULT_SCRIPT_INTERPRETER) if jtype is JobType.SCRIPT else None
    else:
        interpreter = _interpreter(interpreter_in)
    return jtype, None, _script(script), interpreter


def _interpreter(value: Any) -> list[str]:
    """An argv list, or a string split as a shell would (`"/usr/bin/env python3"`)."""
    if isinstance(value, str):
        try:
            value = shlex.split(value)
        except ValueError as exc:
            raise c.fail("interpreter", f"cannot be split into words: {exc}") from None
        if not value:
            raise c.fail("interpreter", "must not be empty")
    result = c.argv(value, "interpreter")
    assert isinstance(result, list)
    return result


def _script(value: Any) -> str:
    """Base64 content (whitespace allowed), decoded size at most `MAX_SCRIPT_BYTES`."""
    text = c.string(value, "script", max_len=8 * MAX_SCRIPT_BYTES)
    compact = "".join(text.split())
    if not compact:
        raise c.fail("script", "must not be empty")
    # Check the size before decoding: base64 is 4 characters per 3 bytes.
    if len(compact) > (MAX_SCRIPT_BYTES + 2) // 3 * 4:
        raise c.fail("script", f"larger than {MAX_SCRIPT_BYTES} bytes once decoded")
    try:
        decoded = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise c.fail("script", "is not valid base64") from None
    if len(decoded) > MAX_SCRIPT_BYTES:
        raise c.fail("script", f"larger than {MAX_SCRIPT_BYTES} bytes once decoded")
    return text


def _env(value: Any) -> dict[str, str]:
    env = c.string_map(_or(value, {}), "env", key_re=ENV_KEY_RE,
                       key_what="an environment variable name")
    for key in env:
        if key.startswith(RESERVED_ENV_PREFIX):
            raise c.fail(f"env.{key}", f"names starting with {RESERVED_ENV_PREFIX} are set by "
                                       "raftcron itself")
    return env


def url(value: Any, field: str) -> str:
    """An http(s) URL with a host."""
    text = c.string(value, field, max_len=2048)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(
            ch.isspace() for ch in text):
        raise c.fail(field, f"{text!r} is not an http:// or https:// URL")
    return text


def email(value: Any, field: str) -> str:
    return c.string(value, field, max_len=320, pattern=EMAIL_RE, what="an email address")


def _notify(value: Any) -> Notify:
    if value is None:
        return Notify()
    data = c.mapping(value, "notify")
    c.check_keys(data, NOTIFY_FIELDS, prefix="notify")
    on = Notify().on
    if data.get("on") is not None:
        names = c.string_list(data["on"], "notify.on")
        on = [c.choice(v, NotifyEvent, f"notify.on.{i}") for i, v in enumerate(names)]
    emails = data.get("email")
    if isinstance(emails, str):  # one address is a list of one
        emails = [emails]
    absent_after = c.opt_duration(data.get("absent_after"), "notify.absent_after",
                                    maximum=DURATION_LIMITS["notify.absent_after"])
    if absent_after is not None and not absent_after:
        raise c.fail("notify.absent_after", "must be longer than 0s")
    secret = c.opt_string(data.get("webhook_secret"), "notify.webhook_secret", max_len=1024)
    if secret is not None and data.get("webhook") is None:
        raise c.fail("notify.webhook_secret", "signs notify.webhook's bodies: set the webhook")
    return Notify(
        on=on,
        webhook=None if data.get("webhook") is None else url(data["webhook"], "notify.webhook"),
        email=c.string_list(_or(emails, []), "notify.email", item=email),
        absent_after=absent_after,
        webhook_secret=secret,
    )


def _owners(value: Any) -> list[Owner]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise c.fail("owners", "expected a list of {name, email_address}")
    owners = []
    for i, item in enumerate(value):
        data = c.mapping(item, f"owners.{i}")
        c.check_keys(data, OWNER_FIELDS, prefix=f"owners.{i}")
        address = data.get("email_address")
        owners.append(Owner(
            name=c.string(data.get("name"), f"owners.{i}.name", max_len=256),
            email_address=None if address is None else email(address,
                                                             f"owners.{i}.email_address"),
        ))
    return owners
