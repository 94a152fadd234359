"""Every duration, time and number a user writes is bounded at its cause: a `ValidationError`
naming the field (never an `OverflowError`), and the bounds themselves are accepted.

Tables at the unit level: the parsers (`durations`, `coerce`, `schedule`), the job and node
validators, job files (TOML/JSON) and the crontab import. The same inputs through the real
API and CLI are in tests/test_api_bounds.py.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from raftcron.config.crontab import parse_crontab
from raftcron.config.files import load_job_file
from raftcron.durations import MAX_DURATION, MAX_TIME, MIN_TIME, parse_duration, parse_time
from raftcron.errors import InvalidScheduleError, OutOfRangeError, RaftcronError, ValidationError
from raftcron.model import (
    MAX_KEEP_RUNS,
    MAX_OUTPUT_TAIL,
    MAX_RETRIES,
    job_from_dict,
    node_from_dict,
)
from raftcron.model import checks as coerce
from raftcron.model.job import DURATION_LIMITS, MAX_MAX_RUNS
from raftcron.model.node import MAX_CAPACITY, MAX_CONNECT_TIMEOUT, MAX_SESSIONS
from raftcron.schedule import HORIZON, parse

HUGE = 10**30
BASE = {"name": "j", "schedule": "0 * * * *", "command": ["/bin/true"]}

# --- the parsers ------------------------------------------------------------------------------

BAD_DURATIONS = [
    "99999999999999d", "9999999999999w", "99999999999999w", "9" * 5000 + "s", "3661d",
    1e308, float("inf"), float("-inf"), float("nan"), HUGE, -1, -0.5, "-1s", "", " ", "1y",
    "1.5s", "s", True, False, None, [], {},
]


@pytest.mark.parametrize("value", BAD_DURATIONS, ids=repr)
def test_bounds_parse_duration_refuses_naming_the_field(value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        parse_duration(value, field="timeout")
    assert info.value.field == "timeout" and info.value.message.startswith("timeout: ")


@pytest.mark.parametrize("value", ["99999999999999d", 1e308, HUGE, "3661d"], ids=repr)
def test_bounds_too_long_is_out_of_range(value: Any) -> None:
    with pytest.raises(OutOfRangeError, match="longer than the maximum of 3660d"):
        parse_duration(value, field="x")


@pytest.mark.parametrize(("value", "expected"), [
    ("3660d", MAX_DURATION), (MAX_DURATION.total_seconds(), MAX_DURATION),
    ("0s", timedelta(0)), (0, timedelta(0)), ("000000000000000001s", timedelta(seconds=1)),
    ("500ms", timedelta(milliseconds=500)),
])
def test_bounds_parse_duration_accepts_up_to_the_maximum(value: Any,
                                                         expected: timedelta) -> None:
    assert parse_duration(value) == expected


def test_bounds_parse_duration_takes_a_narrower_maximum() -> None:
    assert parse_duration("30d", maximum=timedelta(days=30)) == timedelta(days=30)
    with pytest.raises(OutOfRangeError, match="maximum of 30d"):
        parse_duration("30d1ms", field="timeout", maximum=timedelta(days=30))


BAD_TIMES = [
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z", "1970-01-01T00:59:59+01:00", "", " ", "now", "2030-01-01",
    "2030-01-01T00:00:00", "99999-01-01T00:00:00Z", "2030-13-01T00:00:00Z", 0, None, True,
]


@pytest.mark.parametrize("value", BAD_TIMES, ids=repr)
def test_bounds_parse_time_refuses_naming_the_field(value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        parse_time(value, field="since")
    assert info.value.field == "since" and info.value.message.startswith("since: ")


@pytest.mark.parametrize(("text", "expected"), [
    ("1970-01-01T00:00:00Z", MIN_TIME), ("1970-01-01T01:00:00+01:00", MIN_TIME),
    ("9999-12-31T23:59:59.999999Z", MAX_TIME),
    ("9999-12-31T23:59:59.999999+00:00", MAX_TIME),
])
def test_bounds_parse_time_accepts_the_bounds(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1, 1e10, HUGE, True, "1", None],
                         ids=repr)
def test_bounds_coerce_number_is_finite_and_bounded(value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        coerce.number(value, "raft.heartbeat")
    assert info.value.field == "raft.heartbeat"


@pytest.mark.parametrize("value", [True, False, 1.0, 2.5, float("nan"), "3", None, HUGE, -HUGE],
                         ids=repr)
def test_bounds_coerce_integer_refuses_non_integers_and_out_of_range(value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        coerce.integer(value, "retries", minimum=0, maximum=100)
    assert info.value.field == "retries"


# --- schedules --------------------------------------------------------------------------------

BAD_SCHEDULES = [
    ("@every 99999999999999w", "schedule"), ("@every 3661d", "schedule"),
    ("@every " + "9" * 5000 + "s", "schedule"), ("@every 0s", "schedule"),
    ("@every -1s", "schedule"), ({"interval": "99999999999999w"}, "interval"),
    ('{interval = "99999999999999w"}', "interval"), ({"interval": ""}, "interval"),
    ("@at 0001-01-01T00:00:00+01:00", "schedule"), ("@at 9999-12-31T23:59:59-01:00", "schedule"),
    ("@at 9999-12-31T23:59:59Z", "schedule"), ("@at 9990-01-01T00:00:00Z", "schedule"),
    ("@at 1969-12-31T23:59:59Z", "schedule"),
]


@pytest.mark.parametrize(("expr", "field"), BAD_SCHEDULES, ids=repr)
def test_bounds_schedule_refuses_naming_the_field(expr: Any, field: str) -> None:
    with pytest.raises(InvalidScheduleError) as info:
        parse(expr)
    assert info.value.field == field


def test_bounds_schedule_accepts_ten_years_and_nothing_fires_past_the_horizon() -> None:
    every = parse("@every 3660d", anchor=datetime(2030, 1, 1, tzinfo=UTC), anchor_is_slot=True)
    assert every.next_after(datetime(2030, 1, 1, tzinfo=UTC)) == datetime(
        2030, 1, 1, tzinfo=UTC) + MAX_DURATION
    late = parse("@at 9989-12-31T23:59:59Z")
    assert late.next_after(datetime(2030, 1, 1, tzinfo=UTC)) == datetime(
        9989, 12, 31, 23, 59, 59, tzinfo=UTC)
    # A slot near the horizon plus the longest jitter still is a time.
    assert late.next_after(MIN_TIME) + DURATION_LIMITS["jitter"] < MAX_TIME
    assert parse("@every 1s").next_after(HORIZON.replace(tzinfo=UTC)) is None
    fires = list(parse("@daily").iter_after(datetime(9989, 12, 29, tzinfo=UTC)))
    assert fires == [datetime(9989, 12, 30, tzinfo=UTC), datetime(9989, 12, 31, tzinfo=UTC)]


# --- jobs -------------------------------------------------------------------------------------

#: (field as written, value, the field the error names). The first rows are issue 12's.
BAD_JOB_FIELDS: list[tuple[str, Any, str]] = [
    ("timeout", "99999999999999d", "timeout"),
    ("timeout", 1e308, "timeout"),
    ("jitter", "9999999999999w", "jitter"),
    ("schedule", "@every 99999999999999w", "schedule"),
    ("start_at", "0001-01-01T00:00:00+01:00", "start_at"),
    ("end_at", "9999-12-31T23:59:59-01:00", "end_at"),
    ("retry_backoff", "99999999999999d", "retry_backoff"),
    ("retry_backoff_max", "99999999999999d", "retry_backoff_max"),
    ("kill_grace", "99999999999999d", "kill_grace"),
    ("catchup_window", "99999999999999d", "catchup_window"),
    ("notify", {"absent_after": "99999999999999d"}, "notify.absent_after"),
    ("schedule", {"interval": "99999999999999w"}, "interval"),
    ("schedule", "@at 0001-01-01T00:00:00+01:00", "schedule"),
    # each duration just past its own maximum, and the other ways to be out of range
    ("timeout", "30d1ms", "timeout"), ("kill_grace", "1d1s", "kill_grace"),
    ("retry_backoff", "7d1s", "retry_backoff"), ("jitter", "367d", "jitter"),
    ("catchup_window", "367d", "catchup_window"),
    ("notify", {"absent_after": "367d"}, "notify.absent_after"),
    ("timeout", -1, "timeout"), ("timeout", "-1s", "timeout"), ("timeout", "", "timeout"),
    ("timeout", True, "timeout"), ("jitter", HUGE, "jitter"), ("jitter", float("nan"), "jitter"),
    ("jitter", float("inf"), "jitter"), ("kill_grace", float("-inf"), "kill_grace"),
    ("start_at", "9999-12-31T23:59:59Z", "start_at"), ("start_at", "", "start_at"),
    ("start_at", "1969-12-31T23:59:59Z", "start_at"), ("end_at", 0, "end_at"),
    ("retries", -1, "retries"), ("retries", MAX_RETRIES + 1, "retries"),
    ("retries", HUGE, "retries"), ("retries", True, "retries"), ("retries", 1.0, "retries"),
    ("retries", float("nan"), "retries"), ("retries", "3", "retries"), ("retries", "", "retries"),
    ("max_runs", 0, "max_runs"), ("max_runs", MAX_MAX_RUNS + 1, "max_runs"),
    ("max_runs", False, "max_runs"), ("keep_runs", 0, "keep_runs"),
    ("keep_runs", MAX_KEEP_RUNS + 1, "keep_runs"), ("keep_runs", -HUGE, "keep_runs"),
    ("output_tail", -1, "output_tail"), ("output_tail", MAX_OUTPUT_TAIL + 1, "output_tail"),
    ("output_tail", float("inf"), "output_tail"), ("schedule", "", "schedule"),
    ("tz", "", "tz"), ("name", "", "name"),
]


@pytest.mark.parametrize(("key", "value", "field"), BAD_JOB_FIELDS, ids=repr)
def test_bounds_job_field_refused_naming_it(key: str, value: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        job_from_dict({**BASE, key: value})
    assert info.value.field == field, info.value.message


def test_bounds_job_accepts_each_maximum() -> None:
    limits = {key: f"{most.days}d" for key, most in DURATION_LIMITS.items() if "." not in key}
    job = job_from_dict({**BASE, **limits, "schedule": "@every 3660d",
                         "notify": {"absent_after": "366d"},
                         "start_at": "1970-01-01T00:00:00Z", "end_at": "9999-12-31T23:59:59Z",
                         "retries": MAX_RETRIES, "max_runs": MAX_MAX_RUNS,
                         "keep_runs": MAX_KEEP_RUNS, "output_tail": MAX_OUTPUT_TAIL})
    assert job.timeout == timedelta(days=30) and job.jitter == timedelta(days=366)
    assert job.end_at == MAX_TIME.replace(microsecond=0)


# --- nodes ------------------------------------------------------------------------------------

BAD_NODE_FIELDS: list[tuple[str, Any]] = [
    ("capacity", 0), ("capacity", MAX_CAPACITY + 1), ("capacity", True), ("capacity", 2.0),
    ("capacity", HUGE), ("max_sessions", MAX_SESSIONS + 1), ("max_sessions", -1),
    ("connect_timeout", "99999999999999d"), ("connect_timeout", 1e308),
    ("connect_timeout", float("nan")), ("connect_timeout", "10m1s"), ("connect_timeout", "0s"),
    ("connect_timeout", ""),
]


@pytest.mark.parametrize(("key", "value"), BAD_NODE_FIELDS, ids=repr)
def test_bounds_node_field_refused_naming_it(key: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        node_from_dict({"name": "n", key: value})
    assert info.value.field == key, info.value.message


def test_bounds_node_ssh_port_and_connect_timeout_maximum() -> None:
    node = node_from_dict({"name": "n", "connect_timeout": "10m"})
    assert node.connect_timeout == MAX_CONNECT_TIMEOUT
    for port in (0, 65536, HUGE, True):
        with pytest.raises(ValidationError) as info:
            node_from_dict({"name": "n", "connection_type": "ssh", "ssh_host": "h",
                            "ssh_user": "u", "ssh_port": port})
        assert info.value.field == "ssh_port"


# --- job files and the crontab import ---------------------------------------------------------

TOML_CASES = [
    ("timeout = 1e308", "timeout"), ("timeout = inf", "timeout"), ("timeout = nan", "timeout"),
    ('timeout = "99999999999999d"', "timeout"), ('jitter = "9999999999999w"', "jitter"),
    ("start_at = 0001-01-01T00:00:00+01:00", "start_at"),
    ("end_at = 9999-12-31T23:59:59-01:00", "end_at"),
    ("start_at = 2030-01-01T00:00:00", "start_at"),  # a local datetime: no offset
    ("retries = true", "retries"), ("retries = 1.5", "retries"),
    ("keep_runs = 9223372036854775807", "keep_runs"), ("max_runs = -1", "max_runs"),
]


@pytest.mark.parametrize(("line", "field"), TOML_CASES, ids=lambda v: str(v))
def test_bounds_job_file_toml(tmp_path: Path, line: str, field: str) -> None:
    path = tmp_path / "j.toml"
    path.write_text(f'schedule = "@hourly"\ncommand = ["/bin/true"]\n{line}\n')
    with pytest.raises(ValidationError) as info:
        load_job_file(path)
    assert info.value.field == field and "j.toml" in info.value.message


def test_bounds_job_file_json_and_schedule(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    path.write_text(json.dumps({"schedule": "@every 99999999999999w", "command": "true"}))
    with pytest.raises(ValidationError) as info:
        load_job_file(path)
    assert info.value.field == "schedule"
    path.write_text('{"schedule": "@hourly", "command": "true", "timeout": 1e999}')
    with pytest.raises(ValidationError) as info:  # JSON's 1e999 reads as inf
        load_job_file(path)
    assert info.value.field == "timeout" and math.isinf(json.loads("1e999"))


@pytest.mark.parametrize("delay", ["9" * 5000, "527041", "99999999999999"])
def test_bounds_crontab_random_delay_is_bounded(delay: str) -> None:
    with pytest.raises(RaftcronError, match="RANDOM_DELAY: at most 527040 minutes"):
        parse_crontab(f"RANDOM_DELAY={delay}\n0 * * * * true\n", file="c")


def test_bounds_crontab_random_delay_maximum_is_accepted() -> None:
    (job,) = parse_crontab("RANDOM_DELAY=527040\n0 * * * * true\n", file="c")
    assert job.body["jitter"] == "527040m"
    assert job_from_dict(job.body).jitter == DURATION_LIMITS["jitter"]
