"""Property: a valid job or node survives its canonical JSON form unchanged."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from raftcron.durations import format_duration, format_time
from raftcron.model import (
    Catchup,
    Concurrency,
    Hosts,
    NotifyEvent,
    job_from_dict,
    job_to_dict,
    node_from_dict,
    node_to_dict,
)
from raftcron.model.checks import NAME_RE
from raftcron.model.job import DURATION_LIMITS
from raftcron.model.node import MAX_CONNECT_TIMEOUT

TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
               max_size=20)
NAMES = st.from_regex(NAME_RE, fullmatch=True)
SHORT_NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
SCHEDULES = st.sampled_from([
    "* * * * *", "0 30 2 * * *", "*/15 9-17 * * mon-fri", "@every 10s", "@every 1h30m",
    "@hourly", "@daily", "H H * * *", "0 34 12 * 4-9 0,6",
    {"interval": "10m", "reference": "03:10"}, {"interval": "1h"},
])
ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
MILLIS = st.integers(min_value=0, max_value=3 * 86_400_000)


def durations(limit: timedelta) -> st.SearchStrategy[Any]:
    """Durations up to `limit` (a field's maximum), written in each form a user may use."""
    seconds = int(limit.total_seconds())
    return st.one_of(
        st.integers(min_value=0, max_value=seconds * 1000).map(
            lambda ms: format_duration(timedelta(milliseconds=ms))),
        st.integers(min_value=0, max_value=seconds),                 # plain seconds
        st.floats(min_value=0, max_value=seconds, allow_nan=False),  # fractional seconds
    )


def positive(limit: timedelta) -> st.SearchStrategy[str]:
    return st.integers(min_value=1, max_value=int(limit.total_seconds())).map(lambda s: f"{s}s")
TIMES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                     timezones=st.just(UTC))
ARGV = st.lists(TEXT, min_size=1, max_size=4).map(lambda a: ["/bin/prog", *a])
COMMAND_STRING = TEXT.map(lambda t: "echo " + t)
EMAILS = st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.(com|org)", fullmatch=True)
ENV_KEYS = st.from_regex(r"[A-Z_][A-Z0-9_]{0,10}", fullmatch=True).filter(
    lambda k: not k.startswith("RAFTCRON_"))


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def job_bodies(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"name": draw(NAMES), "schedule": draw(SCHEDULES)}
    kind = draw(st.sampled_from(["argv", "string", "script", "binary"]))
    if kind == "argv":
        body["command"] = draw(ARGV)
    elif kind == "string":
        body["command"] = draw(COMMAND_STRING)
    else:
        body["script"] = base64.b64encode(draw(st.binary(min_size=1, max_size=64))).decode()
        body["type"] = kind
        body["interpreter"] = draw(optional(st.sampled_from(
            ["/bin/bash", ["/usr/bin/env", "python3"]])))
    start = draw(optional(TIMES))
    end = draw(optional(TIMES))
    if start is not None and end is not None and end <= start:
        end = start + timedelta(seconds=1)
    backoff = draw(MILLIS)
    optional_fields = {
        "description": optional(TEXT),
        "tz": ZONES,
        "env": st.dictionaries(ENV_KEYS, TEXT, max_size=3),
        "cwd": optional(st.just("/var/tmp")),
        "user": optional(st.sampled_from(["backup", "www-data", "1000"])),
        "timeout": optional(durations(DURATION_LIMITS["timeout"])),
        "kill_grace": durations(DURATION_LIMITS["kill_grace"]),
        "retries": st.integers(min_value=0, max_value=100),
        "concurrency": st.sampled_from([c.value for c in Concurrency]),
        "catchup": st.sampled_from([c.value for c in Catchup]),
        "catchup_window": durations(DURATION_LIMITS["catchup_window"]),
        "jitter": durations(DURATION_LIMITS["jitter"]),
        "max_runs": optional(st.integers(min_value=1, max_value=10**6)),
        "hosts": st.sampled_from([h.value for h in Hosts]),
        "roles": st.lists(SHORT_NAMES, max_size=3, unique=True),
        "keep_runs": st.integers(min_value=1, max_value=10_000),
        "paused": st.booleans(),
        "output_tail": st.integers(min_value=0, max_value=65536),
        "labels": st.dictionaries(SHORT_NAMES, TEXT, max_size=3),
        "notify": st.fixed_dictionaries({}, optional={
            "on": st.lists(st.sampled_from([e.value for e in NotifyEvent]), unique=True),
            "webhook": st.sampled_from(["http://127.0.0.1:9/x", "https://hooks.example.com/a"]),
            "email": st.lists(EMAILS, max_size=2, unique=True),
            "absent_after": positive(DURATION_LIMITS["notify.absent_after"]),
        }),
        "owners": st.lists(st.fixed_dictionaries(
            {"name": TEXT.filter(bool)}, optional={"email_address": EMAILS}), max_size=2),
    }
    for key, strategy in optional_fields.items():
        if draw(st.booleans()):
            body[key] = draw(strategy)
    if start is not None:
        body["start_at"] = format_time(start)
    if end is not None:
        body["end_at"] = draw(st.sampled_from([format_time(end), end]))
    if draw(st.booleans()):
        body["retry_backoff"] = format_duration(timedelta(milliseconds=backoff))
        body["retry_backoff_max"] = format_duration(
            timedelta(milliseconds=backoff + draw(MILLIS)))
    return body


@settings(max_examples=150, deadline=None)
@given(job_bodies())
def test_job_round_trips_through_its_canonical_form(body: dict[str, Any]) -> None:
    job = job_from_dict(body)
    canonical = json.loads(json.dumps(job_to_dict(job)))
    again = job_from_dict(canonical)
    assert again == job
    assert job_to_dict(again) == canonical


@st.composite
def node_bodies(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"name": draw(NAMES), "roles": draw(
        st.lists(SHORT_NAMES, max_size=3, unique=True))}
    for key, strategy in {
        "capacity": st.integers(min_value=1, max_value=10_000),
        "max_sessions": st.integers(min_value=1, max_value=1000),
        "connect_timeout": positive(MAX_CONNECT_TIMEOUT),
    }.items():
        if draw(st.booleans()):
            body[key] = draw(strategy)
    if draw(st.booleans()):
        host = draw(st.sampled_from(["db1.example.com", "10.0.0.7", "::1"]))
        port = draw(optional(st.integers(min_value=1, max_value=65535)))
        options: dict[str, Any] = {"ssh_user": "backup"}
        if port is None:
            options["ssh_host"] = host
        else:
            options["ssh_host"] = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        options.update(draw(st.fixed_dictionaries({}, optional={
            "ssh_private_key_file": st.just("~/.ssh/id_ed25519"),
            "known_hosts": st.just("/etc/raftcron/known_hosts"),
        })))
        body["connection_type"] = "ssh"
        if draw(st.booleans()):
            body["connection_options"] = options
        else:
            body.update(options)
    return body


@settings(max_examples=100, deadline=None)
@given(node_bodies())
def test_node_round_trips_through_its_canonical_form(body: dict[str, Any]) -> None:
    node = node_from_dict(body)
    canonical = json.loads(json.dumps(node_to_dict(node)))
    again = node_from_dict(canonical)
    assert again == node
    assert node_to_dict(again) == canonical
