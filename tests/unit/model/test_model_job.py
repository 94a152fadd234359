"""Job validation: every refusal names its field; defaults; the canonical form."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from raftcron.errors import InvalidScheduleError, ValidationError
from raftcron.model import (
    MAX_SCRIPT_BYTES,
    Catchup,
    Concurrency,
    Hosts,
    Job,
    JobType,
    NotifyEvent,
    Owner,
    RunStatus,
    job_from_dict,
    job_to_dict,
)

SCRIPT = base64.b64encode(b"#!/bin/sh\necho hi\n").decode()

DESIGN_EXAMPLE: dict[str, Any] = {
    "name": "backup",
    "description": "nightly dump",
    "schedule": "0 30 2 * * *",
    "tz": "Europe/Berlin",
    "command": ["/usr/local/bin/backup.sh", "--full"],
    "env": {"LEVEL": "full"}, "cwd": "/var/tmp",
    "timeout": "2h", "retries": 2, "retry_backoff": "30s",
    "concurrency": "forbid", "catchup": "latest", "catchup_window": "1h",
    "jitter": "5m", "start_at": None, "end_at": None, "max_runs": None,
    "hosts": "any", "roles": ["db"], "keep_runs": 100, "paused": False,
    "notify": {"on": ["failure", "recovery"], "webhook": "http://hooks.example.com/x",
               "email": ["ops@example.com"]},
    "labels": {"team": "data"},
}


def job(**fields: Any) -> dict[str, Any]:
    """A minimal valid job body with `fields` changed (a value of ... removes the key)."""
    body: dict[str, Any] = {"name": "j", "schedule": "* * * * *", "command": ["true"]}
    for key, value in fields.items():
        if value is ...:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def test_job_from_dict_reads_the_design_example() -> None:
    j = job_from_dict(DESIGN_EXAMPLE)
    assert j.name == "backup"
    assert j.tz == "Europe/Berlin"
    assert j.command == ["/usr/local/bin/backup.sh", "--full"]
    assert j.timeout == timedelta(hours=2)
    assert j.retry_backoff == timedelta(seconds=30)
    assert j.jitter == timedelta(minutes=5)
    assert j.concurrency is Concurrency.FORBID
    assert j.roles == ["db"]
    assert j.notify.on == [NotifyEvent.FAILURE, NotifyEvent.RECOVERY]
    assert j.notify.email == ["ops@example.com"]
    assert j.labels == {"team": "data"}


def test_job_from_dict_fills_the_defaults() -> None:
    j = job_from_dict({"name": "j", "schedule": "@hourly", "command": "echo hi"})
    assert j.description == "" and j.tz == "UTC"
    assert j.type is JobType.COMMAND and j.command == "echo hi"
    assert j.retries == 0
    assert j.retry_backoff == timedelta(seconds=10)
    assert j.retry_backoff_max == timedelta(minutes=10)
    assert j.concurrency is Concurrency.FORBID
    assert j.catchup is Catchup.LATEST and j.catchup_window == timedelta(hours=1)
    assert j.jitter == timedelta(0)
    assert j.hosts is Hosts.ANY and j.roles == []
    assert j.keep_runs == 100 and j.paused is False
    assert j.output_tail == 4096 and j.kill_grace == timedelta(seconds=5)
    assert j.timeout is None and j.max_runs is None
    assert j.notify.webhook is None and j.notify.email == []


def test_job_from_dict_treats_null_as_absent() -> None:
    nulls = {key: None for key in job_to_dict(job_from_dict(job()))
             if key not in ("name", "schedule", "command")}
    assert job_from_dict(job(**nulls)) == job_from_dict(job())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (job(retires=2), "retires"),                     # a typo is refused, named as typed
        ({**job(), "notify": {"on": ["failure"], "webhok": "http://x"}}, "notify.webhok"),
        ({**job(), "policy": {"hostz": "any"}}, "policy.hostz"),
        ({**job(), "owners": [{"name": "a", "mail": "a@b.c"}]}, "owners.0.mail"),
        ({**job(), "schedule": {"interval": "10m", "refrence": "03:10"}}, "schedule.refrence"),
    ],
)
def test_job_from_dict_refuses_unknown_fields(body: dict, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        job_from_dict(body)
    assert exc.value.field == field
    assert "unknown field" in exc.value.message


def test_job_from_dict_suggests_the_meant_field() -> None:
    with pytest.raises(ValidationError, match="did you mean 'retries'") as exc:
        job_from_dict(job(retires=2))
    assert exc.value.field == "retires"


def test_job_from_dict_ignores_read_only_fields() -> None:
    got = job_to_dict(job_from_dict(job()))
    got.update(status="scheduled", next_runs=["2024-01-01T00:00:00Z"], last_run=None,
               version=3, created_at="2024-01-01T00:00:00Z", updated_at="2024-01-01T00:00:00Z",
               counts={"succeeded": 1})
    assert job_from_dict(got) == job_from_dict(job())


BAD: list[tuple[dict[str, Any], str]] = [
    (job(name=...), "name"),
    (job(name="-leading-dash"), "name"),
    (job(name="has space"), "name"),
    (job(name="x" * 129), "name"),
    (job(name=7), "name"),
    (job(schedule=...), "schedule"),
    (job(schedule=""), "schedule"),
    (job(schedule=5), "schedule"),
    (job(schedule={"reference": "03:10"}), "schedule.interval"),
    (job(schedule={"interval": 10}), "schedule.interval"),
    (job(tz=3), "tz"),
    (job(command=...), "command"),
    (job(command=[]), "command"),
    (job(command=""), "command"),
    (job(command="   "), "command"),
    (job(command=[""]), "command.0"),
    (job(command=["ls", 3]), "command.1"),
    (job(command=["ls", "a\x00b"]), "command.1"),
    (job(command={"argv": "ls"}), "command"),
    (job(script=SCRIPT), "script"),                       # both command and script
    (job(command=..., script="not base64!"), "script"),
    (job(command=..., script=""), "script"),
    (job(command=..., script=5), "script"),
    (job(type="binary"), "type"),                          # binary without a script
    (job(command=..., script=SCRIPT, type="command"), "type"),
    (job(type="exe"), "type"),
    (job(interpreter="/bin/bash"), "interpreter"),         # a command takes no interpreter
    (job(command=..., script=SCRIPT, interpreter=[]), "interpreter"),
    (job(command=..., script=SCRIPT, interpreter="'unclosed"), "interpreter"),
    (job(env=["A=1"]), "env"),
    (job(env={"1A": "x"}), "env.1A"),
    (job(env={"A-B": "x"}), "env.A-B"),
    (job(env={"A": 1}), "env.A"),
    (job(env={"RAFTCRON_JOB": "x"}), "env.RAFTCRON_JOB"),
    (job(cwd=""), "cwd"),
    (job(cwd=["/tmp"]), "cwd"),
    (job(user="has space"), "user"),
    (job(user=0), "user"),
    (job(timeout="2 hours"), "timeout"),
    (job(timeout="-5s"), "timeout"),
    (job(timeout=True), "timeout"),
    (job(timeout=[1]), "timeout"),
    (job(kill_grace="soon"), "kill_grace"),
    (job(retries=-1), "retries"),
    (job(retries=101), "retries"),
    (job(retries=True), "retries"),
    (job(retries="2"), "retries"),
    (job(retries=1.5), "retries"),
    (job(retry_backoff="x"), "retry_backoff"),
    (job(retry_backoff="1h", retry_backoff_max="10m"), "retry_backoff_max"),
    (job(concurrency="never"), "concurrency"),
    (job(catchup="some"), "catchup"),
    (job(catchup_window="1 hour"), "catchup_window"),
    (job(jitter="-1s"), "jitter"),
    (job(start_at="2024-01-01T00:00:00"), "start_at"),      # no offset
    (job(start_at="yesterday"), "start_at"),
    (job(end_at=20240101), "end_at"),
    (job(start_at="2024-01-02T00:00:00Z", end_at="2024-01-01T00:00:00Z"), "end_at"),
    (job(start_at="2024-01-01T00:00:00Z", end_at="2024-01-01T00:00:00Z"), "end_at"),
    (job(max_runs=0), "max_runs"),
    (job(max_runs="3"), "max_runs"),
    (job(hosts="some"), "hosts"),
    (job(roles="db"), "roles"),
    (job(roles=["db", "db"]), "roles.1"),
    (job(roles=["ok", "not ok"]), "roles.1"),
    (job(keep_runs=0), "keep_runs"),
    (job(keep_runs=10**9), "keep_runs"),
    (job(paused="no"), "paused"),
    (job(paused=0), "paused"),
    (job(output_tail=65537), "output_tail"),
    (job(output_tail=-1), "output_tail"),
    (job(notify="ops@example.com"), "notify"),
    (job(notify={"on": "failure"}), "notify.on"),
    (job(notify={"on": ["failure", "bogus"]}), "notify.on.1"),
    (job(notify={"on": ["failure", "failure"]}), "notify.on.1"),
    (job(notify={"webhook": "ftp://x.example.com"}), "notify.webhook"),
    (job(notify={"webhook": "http://"}), "notify.webhook"),
    (job(notify={"webhook": "hooks.example.com"}), "notify.webhook"),
    (job(notify={"email": ["not-an-address"]}), "notify.email.0"),
    (job(notify={"email": ["a@b.c", "x y@b.c"]}), "notify.email.1"),
    (job(notify={"absent_after": "0s"}), "notify.absent_after"),
    (job(notify={"absent_after": "a day"}), "notify.absent_after"),
    (job(labels={"team": 1}), "labels.team"),
    (job(labels={"bad key": "x"}), "labels.bad key"),
    (job(labels=["team=data"]), "labels"),
    (job(owners={"name": "me"}), "owners"),
    (job(owners=["me"]), "owners.0"),
    (job(owners=[{"email_address": "a@b.c"}]), "owners.0.name"),
    (job(owners=[{"name": "me", "email_address": "nope"}]), "owners.0.email_address"),
    (job(policy=["any"]), "policy"),
    (job(policy={"roles": "db"}), "policy.roles"),
    (job(policy={"hosts": "every"}), "policy.hosts"),
    (job(policy={"roles": ["db"]}, roles=["web"]), "policy.roles"),
    (job(description=5), "description"),
    ([1, 2], "job"),
    ("a job", "job"),
]


@pytest.mark.parametrize(("body", "field"), BAD, ids=[f"{f}-{i}" for i, (_, f) in enumerate(BAD)])
def test_job_from_dict_refusal_names_the_field(body: Any, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        job_from_dict(body)
    assert exc.value.field == field
    assert exc.value.message.startswith(field)


@pytest.mark.parametrize(
    ("schedule", "tz"),
    [("61 * * * *", "UTC"), ("* * * *", "UTC"), ("@every banana", "UTC"),
     ("* * * * *", "Mars/Olympus_Mons"), ({"interval": "ten", "reference": "03:10"}, "UTC")],
)
def test_job_from_dict_refuses_a_bad_schedule_with_the_schedule_field(
    schedule: Any, tz: str,
) -> None:
    with pytest.raises(InvalidScheduleError) as exc:
        job_from_dict(job(schedule=schedule, tz=tz))
    assert exc.value.field
    if tz != "UTC":
        assert exc.value.field == "tz"


def test_job_from_dict_uses_the_given_name_when_the_body_has_none() -> None:
    assert job_from_dict(job(name=...), name="from-url").name == "from-url"
    assert job_from_dict(job(name="same"), name="same").name == "same"


def test_job_from_dict_refuses_a_name_that_disagrees() -> None:
    with pytest.raises(ValidationError) as exc:
        job_from_dict(job(name="body"), name="url")
    assert exc.value.field == "name"


def test_job_from_dict_reads_distcrond_policy() -> None:
    j = job_from_dict(job(policy={"hosts": "all", "roles": ["web", "db"]}))
    assert j.hosts is Hosts.ALL and j.roles == ["web", "db"]
    assert "policy" not in job_to_dict(j)


def test_job_from_dict_script_defaults_to_sh_and_infers_its_type() -> None:
    j = job_from_dict(job(command=..., script=SCRIPT))
    assert j.type is JobType.SCRIPT
    assert j.interpreter == ["/bin/sh"]
    assert j.script == SCRIPT and j.script_bytes == b"#!/bin/sh\necho hi\n"
    assert j.command is None


def test_job_from_dict_binary_has_no_interpreter_by_default() -> None:
    j = job_from_dict(job(command=..., script=SCRIPT, type="binary"))
    assert j.type is JobType.BINARY and j.interpreter is None


def test_job_from_dict_splits_a_string_interpreter() -> None:
    j = job_from_dict(job(command=..., script=SCRIPT, interpreter="/usr/bin/env python3 -u"))
    assert j.interpreter == ["/usr/bin/env", "python3", "-u"]


def test_job_from_dict_accepts_wrapped_base64_and_keeps_it_as_given() -> None:
    wrapped = "\n".join(SCRIPT[i:i + 8] for i in range(0, len(SCRIPT), 8))
    j = job_from_dict(job(command=..., script=wrapped))
    assert j.script == wrapped
    assert j.script_bytes == b"#!/bin/sh\necho hi\n"


def test_job_from_dict_caps_the_decoded_script_size() -> None:
    at_cap = base64.b64encode(b"\0" * MAX_SCRIPT_BYTES).decode()
    assert job_from_dict(job(command=..., script=at_cap, type="binary")).script == at_cap
    over = base64.b64encode(b"\0" * (MAX_SCRIPT_BYTES + 1)).decode()
    with pytest.raises(ValidationError, match="larger than") as exc:
        job_from_dict(job(command=..., script=over, type="binary"))
    assert exc.value.field == "script"


def test_job_from_dict_zero_timeout_means_none() -> None:
    assert job_from_dict(job(timeout="0s")).timeout is None
    assert job_from_dict(job(timeout=90)).timeout == timedelta(seconds=90)


def test_job_from_dict_accepts_aware_datetimes_from_toml() -> None:
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    j = job_from_dict(job(start_at=start, end_at="2026-01-02T00:00:00+01:00"))
    assert j.start_at == start
    assert j.end_at == datetime(2026, 1, 1, 23, 0, tzinfo=UTC)
    with pytest.raises(ValidationError) as exc:
        job_from_dict(job(start_at=datetime(2026, 1, 1)))
    assert exc.value.field == "start_at"


def test_job_from_dict_accepts_one_email_as_a_string_and_every_notify_event() -> None:
    j = job_from_dict(job(notify={"on": ["failure", "recovery", "success", "missed", "absent",
                                         "paused", "slow"],
                                  "email": "ops@example.com", "absent_after": "26h"}))
    assert j.notify.email == ["ops@example.com"]
    assert j.notify.on == list(NotifyEvent)
    assert j.notify.absent_after == timedelta(hours=26)


def test_job_from_dict_reads_owners() -> None:
    j = job_from_dict(job(owners=[{"name": "Martin", "email_address": "m@example.com"},
                                  {"name": "Nobody"}]))
    assert j.owners == [Owner(name="Martin", email_address="m@example.com"),
                        Owner(name="Nobody")]


def test_job_to_dict_is_the_canonical_json_form() -> None:
    j = job_from_dict({**DESIGN_EXAMPLE, "start_at": "2026-03-01T10:00:00+02:00",
                       "timeout": 5400, "catchup_window": "90m"})
    out = job_to_dict(j)
    assert json.loads(json.dumps(out)) == out
    assert out["timeout"] == "1h30m" and out["catchup_window"] == "1h30m"
    assert out["start_at"] == "2026-03-01T08:00:00Z"
    assert out["concurrency"] == "forbid" and out["type"] == "command"
    assert out["notify"] == {"on": ["failure", "recovery"],
                             "webhook": "http://hooks.example.com/x",
                             "email": ["ops@example.com"], "absent_after": None}
    assert list(out)[:3] == ["name", "description", "schedule"]


def test_job_to_dict_round_trips_the_design_example() -> None:
    j = job_from_dict(DESIGN_EXAMPLE)
    assert job_from_dict(json.loads(json.dumps(job_to_dict(j)))) == j


def test_job_to_dict_keeps_an_interval_schedule_mapping() -> None:
    j = job_from_dict(job(schedule={"interval": "10m", "reference": "03:10"}))
    assert job_to_dict(j)["schedule"] == {"interval": "10m", "reference": "03:10"}
    assert job_from_dict(job_to_dict(j)) == j


def test_job_is_frozen_and_keyword_only() -> None:
    j = job_from_dict(job())
    with pytest.raises(AttributeError):
        j.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Job("x", "* * * * *")  # type: ignore[misc]


@pytest.mark.parametrize("status", list(RunStatus))
def test_run_status_is_active_or_terminal(status: RunStatus) -> None:
    assert status.is_active == (status in (RunStatus.PENDING, RunStatus.RUNNING))
    assert status.is_terminal != status.is_active
