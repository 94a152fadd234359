"""Every refusal is an InvalidScheduleError whose field and message name what is wrong."""

from __future__ import annotations

import pytest

from raftcron.errors import InvalidScheduleError, ValidationError
from raftcron.schedule import parse, validate_tz

CASES = [
    # (expression, field, a word the message must contain)
    ("60 * * * *", "minute", "out of range"),
    ("* 24 * * *", "hour", "out of range"),
    ("0 0 0 * *", "day-of-month", "out of range"),
    ("0 0 32 * *", "day-of-month", "out of range"),
    ("0 0 * 13 *", "month", "out of range"),
    ("0 0 * 0 *", "month", "out of range"),
    ("0 0 * * 8", "day-of-week", "out of range"),
    ("60 0 0 * * *", "second", "out of range"),
    ("*/0 * * * *", "minute", "zero"),
    ("*/-1 * * * *", "minute", "negative"),
    ("*/1.5 * * * *", "minute", "fractional"),
    ("1-10/0 * * * *", "minute", "zero"),
    ("*/x * * * *", "minute", "not a positive whole number"),
    ("5-1 * * * *", "minute", "reversed"),
    ("0 0 * * fri-mon", "day-of-week", "reversed"),
    ("0 0 * foo *", "month", "unknown name"),
    ("0 0 * * funday", "day-of-week", "unknown name"),
    ("0 mon * * *", "hour", "names are only allowed"),
    ("0 0 * * * * *", "schedule", "got 7"),
    ("0 0 * *", "schedule", "got 4"),
    ("0 0 * * ? ", "day-of-week", "'?'"),
    ("0 0 ? * 1", "day-of-month", "'?'"),
    ("R * * * *", "minute", "random"),
    ("0 0 R * *", "day-of-month", "random"),
    ("@reboot", "schedule", "@reboot"),
    ("@fortnightly", "schedule", "unknown macro"),
    ("@daily extra", "schedule", "takes nothing"),
    ("", "schedule", "empty"),
    ("   ", "schedule", "empty"),
    ("0 0 * * *\n", "schedule", "control character"),
    ("0\t0 * * *", "schedule", "control character"),
    ("0 0 * * \x00", "schedule", "control character"),
    ("\u0665 * * * *", "schedule", "non-ASCII"),  # Arabic-Indic digit five
    ("１ * * * *", "schedule", "non-ASCII"),  # fullwidth digit one
    ("0 " * 130, "schedule", "256"),
    ("TZ=UTC 0 0 * * *", "schedule", "tz field"),
    ("CRON_TZ=Europe/Berlin 0 0 * * *", "schedule", "tz field"),
    ("cron_tz=UTC 0 0 * * *", "schedule", "tz field"),
    ("0 0 * * 1#6", "day-of-week", "1-5"),
    ("0 0 * * 1#0", "day-of-week", "1-5"),
    ("0 0 * * 1#", "day-of-week", "1-5"),
    ("0 0 * * 1-2#3", "day-of-week", "single weekday"),
    ("0 0 * * L", "day-of-week", "ambiguous"),
    ("0 0 1#2 * *", "day-of-month", "'#'"),
    ("0 0 1-5W * *", "day-of-month", "single day"),
    ("0 0 32W * *", "day-of-month", "out of range"),
    ("L * * * *", "minute", "only allowed in day-of-month"),
    ("0 5W * * *", "hour", "only allowed in day-of-month"),
    ("0 0 * * 1W", "day-of-week", "only allowed in day-of-month"),
    ("1,,2 * * * *", "minute", "empty list item"),
    ("1, * * * *", "minute", "empty list item"),
    ("1-2-3 * * * *", "minute", "not a number"),
    ("-1 * * * *", "minute", "missing number"),
    ("0 0 30 2 *", "day-of-month", "never fire"),
    ("0 0 31 4,6,9,11 *", "day-of-month", "never fire"),
    ("0 0 30,31 feb *", "day-of-month", "never fire"),
    # */31 = the 1st; a day field starting with '*' means AND: the 1st is never a 5th Tuesday
    ("0 0 */31 2 2#5", "day-of-month", "never fire"),
    ("0 0 * 2 */7#5", "day-of-week", "single weekday"),
    ("H(5-1) * * * *", "minute", "reversed"),
    ("H(0-60) * * * *", "minute", "out of range"),
    ("H/0 * * * *", "minute", "zero"),
    ("H(3) * * * *", "minute", "needs a range"),
    ("Hx * * * *", "minute", "malformed"),
    ("@every", "schedule", "needs a duration"),
    ("@every 500ms", "schedule", "at least 1s"),
    ("@every 0s", "schedule", "at least 1s"),
    ("@every 10", "schedule", "not a duration"),
    ("@every -5m", "schedule", "not a duration"),
    ("@every 5 minutes", "schedule", "not a duration"),
    ("@at", "schedule", "needs a time"),
    ("@at 2026-12-01T10:00:00", "schedule", "offset"),
    ("@at tomorrow", "schedule", "ISO 8601"),
    ('{interval = "10m", reference = "3:10"}', "reference", "HH:MM"),
    ('{interval = "10m", reference = "24:00"}', "reference", "HH:MM"),
    ('{interval = "0s"}', "interval", "at least 1s"),
    ('{interval = "ten"}', "interval", "not a duration"),
    ('{reference = "03:10"}', "interval", "needs an interval"),
    ('{interval = "10m", offset = "1m"}', "schedule", "unknown key"),
    ('{interval = 10m}', "schedule", "cannot read"),
]


@pytest.mark.parametrize(("expr", "field", "word"), CASES)
def test_schedule_invalid_names_field_and_problem(expr: str, field: str, word: str) -> None:
    with pytest.raises(InvalidScheduleError) as info:
        parse(expr)
    err = info.value
    assert err.field == field
    assert err.message.startswith(f"{field}: ")
    assert word.lower() in err.message.lower()
    assert isinstance(err, ValidationError) and isinstance(err, ValueError)


@pytest.mark.parametrize(("mapping", "field"), [
    ({"interval": "500ms"}, "interval"),
    ({"interval": 10}, "interval"),
    ({}, "interval"),
    ({"interval": "10m", "reference": "noon"}, "reference"),
    ({"interval": "10m", "reference": 310}, "reference"),
    ({"interval": "10m", "every": "1m"}, "schedule"),
])
def test_schedule_invalid_mapping_names_field(mapping: dict, field: str) -> None:
    with pytest.raises(InvalidScheduleError) as info:
        parse(mapping)
    assert info.value.field == field


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "utc ", "../../etc/passwd", "/etc/localtime",
                                "localtime", "EST+5", "Europe/Berlin\n", "Europe/Bérlin",
                                "x" * 300])
def test_schedule_invalid_tz_is_refused_with_field_tz(tz: str) -> None:
    with pytest.raises(InvalidScheduleError) as info:
        parse("0 0 * * *", tz=tz)
    assert info.value.field == "tz"
    assert info.value.message.startswith("tz: ")
    with pytest.raises(InvalidScheduleError):
        validate_tz(tz)


def test_schedule_invalid_tz_of_wrong_type() -> None:
    with pytest.raises(InvalidScheduleError) as info:
        validate_tz(None)  # type: ignore[arg-type]
    assert info.value.field == "tz"


def test_schedule_invalid_expression_type() -> None:
    with pytest.raises(InvalidScheduleError) as info:
        parse(42)  # type: ignore[arg-type]
    assert info.value.field == "schedule"


def test_schedule_valid_tz_returns_zoneinfo() -> None:
    assert validate_tz("Australia/Lord_Howe").key == "Australia/Lord_Howe"
    assert validate_tz("UTC").key == "UTC"


def test_schedule_longest_accepted_is_256_characters() -> None:
    expr = "0,1,2,3" + " " * (256 - len("0,1,2,3 * * * *")) + " * * * *"
    assert len(expr) == 256
    parse(expr)
    with pytest.raises(InvalidScheduleError):
        parse(expr + " ")
