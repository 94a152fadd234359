"""Table tests of the cron rules, in UTC (DST has its own file)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest

from raftcron.schedule import Schedule, parse


def fires(expr: str, after: str, n: int, **kw: object) -> list[str]:
    s = parse(expr, **kw)  # type: ignore[arg-type]
    t = datetime.fromisoformat(after)
    return [f.isoformat() for f in islice(s.iter_after(t), n)]


def utc(*days: str) -> list[str]:
    return [f"{d}+00:00" for d in days]


CASES = [
    # (expression, after (UTC), expected fires)
    ("*/15 * * * *", "2024-01-01T00:00:00+00:00",
     utc("2024-01-01T00:15:00", "2024-01-01T00:30:00", "2024-01-01T00:45:00")),
    ("0 9-17/4 * * *", "2024-01-01T00:00:00+00:00",
     utc("2024-01-01T09:00:00", "2024-01-01T13:00:00", "2024-01-01T17:00:00",
         "2024-01-02T09:00:00")),
    # a/n: from a, every n, to the end of the field
    ("5/20 * * * *", "2024-01-01T00:00:00+00:00",
     utc("2024-01-01T00:05:00", "2024-01-01T00:25:00", "2024-01-01T00:45:00",
         "2024-01-01T01:05:00")),
    # a-a is the single value a (croniter reads 5-5 as every day)
    ("0 0 5-5 * *", "2024-01-01T00:00:00+00:00",
     utc("2024-01-05T00:00:00", "2024-02-05T00:00:00")),
    ("0 12 * jan,JUL *", "2024-01-31T12:00:00+00:00",
     utc("2024-07-01T12:00:00", "2024-07-02T12:00:00")),
    ("0 0 * * MON-fri", "2024-01-05T00:00:00+00:00",  # Friday -> Monday
     utc("2024-01-08T00:00:00", "2024-01-09T00:00:00")),
    ("0 0 * * 7", "2024-01-01T00:00:00+00:00",
     utc("2024-01-07T00:00:00", "2024-01-14T00:00:00")),
    ("0 0 * * 0", "2024-01-01T00:00:00+00:00",
     utc("2024-01-07T00:00:00", "2024-01-14T00:00:00")),
    ("0 0 * * 5-7", "2024-01-05T00:00:00+00:00",  # Fri, Sat, Sun
     utc("2024-01-06T00:00:00", "2024-01-07T00:00:00", "2024-01-12T00:00:00")),
    ("0 0 1,15 * *", "2024-01-01T00:00:00+00:00",
     utc("2024-01-15T00:00:00", "2024-02-01T00:00:00")),
    ("0 0 * 2/6 *", "2024-01-01T00:00:00+00:00",  # February and August
     utc("2024-02-01T00:00:00", "2024-02-02T00:00:00")),
    # both day fields restricted: either matches (every Friday and every 13th)
    ("0 0 13 * 5", "2024-01-01T00:00:00+00:00",
     utc("2024-01-05T00:00:00", "2024-01-12T00:00:00", "2024-01-13T00:00:00",
         "2024-01-19T00:00:00")),
    # a day field starting with '*': both must match (odd days that are Mondays)
    ("0 0 */2 * 1", "2023-12-31T00:00:00+00:00",
     utc("2024-01-01T00:00:00", "2024-01-15T00:00:00", "2024-01-29T00:00:00",
         "2024-02-05T00:00:00")),
    ("0 0 1 * */7", "2024-01-01T00:00:00+00:00",  # */7 = Sunday only, AND: 1st on a Sunday
     utc("2024-09-01T00:00:00", "2024-12-01T00:00:00")),
    ("0 0 L * *", "2024-01-01T00:00:00+00:00",
     utc("2024-01-31T00:00:00", "2024-02-29T00:00:00", "2024-03-31T00:00:00",
         "2024-04-30T00:00:00")),
    ("0 0 LW * *", "2024-05-01T00:00:00+00:00",
     utc("2024-05-31T00:00:00", "2024-06-28T00:00:00", "2024-07-31T00:00:00",
         "2024-08-30T00:00:00")),
    # nW: 15th is Saturday in June (-> 14th), Sunday in September (-> 16th)
    ("0 0 15W 6,9 *", "2024-01-01T00:00:00+00:00",
     utc("2024-06-14T00:00:00", "2024-09-16T00:00:00")),
    # 1W never leaves the month: June 1st 2024 is a Saturday -> Monday the 3rd
    ("0 0 1W 6 *", "2024-01-01T00:00:00+00:00", utc("2024-06-03T00:00:00")),
    # 31W: March 31st 2024 is a Sunday -> Friday the 29th; months without a 31st are skipped
    ("0 0 31W 3,4,5 *", "2024-01-01T00:00:00+00:00",
     utc("2024-03-29T00:00:00", "2024-05-31T00:00:00")),
    ("0 0 1,L * *", "2024-01-01T00:00:00+00:00",
     utc("2024-01-31T00:00:00", "2024-02-01T00:00:00", "2024-02-29T00:00:00")),
    ("0 0 * * 5L", "2024-01-01T00:00:00+00:00",
     utc("2024-01-26T00:00:00", "2024-02-23T00:00:00", "2024-03-29T00:00:00")),
    ("0 0 * * friL", "2024-01-01T00:00:00+00:00",
     utc("2024-01-26T00:00:00", "2024-02-23T00:00:00")),
    ("0 0 * * fri#3", "2024-01-01T00:00:00+00:00",
     utc("2024-01-19T00:00:00", "2024-02-16T00:00:00", "2024-03-15T00:00:00")),
    ("0 0 * * 1#5", "2024-01-01T00:00:00+00:00",
     utc("2024-01-29T00:00:00", "2024-04-29T00:00:00", "2024-07-29T00:00:00",
         "2024-09-30T00:00:00", "2024-12-30T00:00:00")),
    ("0 0 * * 0#1,6L", "2024-01-01T00:00:00+00:00",  # first Sunday, last Saturday
     utc("2024-01-07T00:00:00", "2024-01-27T00:00:00", "2024-02-04T00:00:00")),
    ("0 0 29 2 *", "2024-03-01T00:00:00+00:00", utc("2028-02-29T00:00:00")),
    ("@yearly", "2024-01-01T00:00:00+00:00", utc("2025-01-01T00:00:00")),
    ("@annually", "2024-06-01T00:00:00+00:00", utc("2025-01-01T00:00:00")),
    ("@monthly", "2024-01-15T00:00:00+00:00", utc("2024-02-01T00:00:00")),
    ("@weekly", "2024-01-01T00:00:00+00:00", utc("2024-01-07T00:00:00")),
    ("@daily", "2024-01-01T00:00:00+00:00", utc("2024-01-02T00:00:00")),
    ("@midnight", "2024-01-01T12:00:00+00:00", utc("2024-01-02T00:00:00")),
    ("@hourly", "2024-01-01T00:30:00+00:00",
     utc("2024-01-01T01:00:00", "2024-01-01T02:00:00")),
    ("@HOURLY", "2024-01-01T00:30:00+00:00", utc("2024-01-01T01:00:00")),
    # six fields: seconds first
    ("30 * * * * *", "2024-01-01T00:00:00+00:00",
     utc("2024-01-01T00:00:30", "2024-01-01T00:01:30")),
    ("0 30 2 * * *", "2024-01-01T00:00:00+00:00",
     utc("2024-01-01T02:30:00", "2024-01-02T02:30:00")),
    ("*/20 * * * * *", "2024-01-01T00:00:50+00:00",
     utc("2024-01-01T00:01:00", "2024-01-01T00:01:20")),
    ("0,30 0 0 1 1 *", "2024-01-01T00:00:00+00:00",
     utc("2024-01-01T00:00:30", "2025-01-01T00:00:00")),
    ("59 59 23 31 12 *", "2024-01-01T00:00:00+00:00", utc("2024-12-31T23:59:59")),
    # extra spaces between fields are fine
    ("  0   0 * * *  ", "2024-01-01T00:00:00+00:00", utc("2024-01-02T00:00:00")),
]


@pytest.mark.parametrize(("expr", "after", "expected"), CASES)
def test_schedule_cron_rules_table(expr: str, after: str, expected: list[str]) -> None:
    assert fires(expr, after, len(expected)) == expected


def test_schedule_next_after_is_strictly_after() -> None:
    s = parse("0 * * * *")
    on = datetime(2024, 1, 1, 5, 0, tzinfo=UTC)
    assert s.next_after(on) == datetime(2024, 1, 1, 6, 0, tzinfo=UTC)
    assert s.next_after(on - timedelta(microseconds=1)) == on


def test_schedule_next_after_ignores_sub_second_after_last_fire() -> None:
    s = parse("* * * * * *")
    t = datetime(2024, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)
    assert s.next_after(t) == datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC)


def test_schedule_next_after_accepts_any_aware_zone_and_returns_schedule_zone() -> None:
    s = parse("0 12 * * *", tz="Europe/Berlin")
    t = datetime(2024, 1, 1, 6, 0, tzinfo=timezone(timedelta(hours=-5)))  # 11:00Z
    nxt = s.next_after(t)
    assert nxt is not None
    assert nxt.tzinfo == ZoneInfo("Europe/Berlin")
    assert nxt.isoformat() == "2024-01-02T12:00:00+01:00"  # 12:00 Berlin on the 1st was 11:00Z


def test_schedule_next_after_refuses_naive_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse("* * * * *").next_after(datetime(2024, 1, 1))


def test_schedule_iter_after_matches_repeated_next_after() -> None:
    s = parse("*/7 3-5 * * 1-5", tz="Asia/Kolkata")
    t = datetime(2024, 2, 1, tzinfo=UTC)
    out = list(islice(s.iter_after(t), 50))
    cur = t
    for fire in out:
        nxt = s.next_after(cur)
        assert nxt == fire
        cur = fire
    assert all(a < b for a, b in pairwise(out))


def test_schedule_public_attributes() -> None:
    s = parse("0 0 * * *", tz="Europe/Berlin", name="job")
    assert isinstance(s, Schedule)
    assert (s.source, s.expanded, s.tz, s.one_shot, s.kind) == (
        "0 0 * * *", "0 0 * * *", "Europe/Berlin", False, "cron")


def test_schedule_hashed_fields_expand_and_reparse_identically() -> None:
    s = parse("H H(2-5) H/10 * H(mon-fri)", name="backup")
    assert "H" not in s.expanded
    again = parse(s.expanded)  # no name needed once expanded
    t = datetime(2024, 1, 1, tzinfo=UTC)
    assert list(islice(s.iter_after(t), 20)) == list(islice(again.iter_after(t), 20))


def test_schedule_hashed_fields_are_stable_and_depend_on_name() -> None:
    a1 = parse("H H * * *", name="alpha").expanded
    a2 = parse("H H * * *", name="alpha").expanded
    assert a1 == a2
    names = {parse("H H * * *", name=f"job{i}").expanded for i in range(50)}
    assert len(names) > 40


def test_schedule_hashed_forms_respect_their_ranges() -> None:
    for i in range(200):
        sec, minute, hour, dom, month, dow = parse(
            "H H(10-20) H/6 H H(3-4)/2 H", name=f"n{i}").expanded.split()
        assert 0 <= int(sec) <= 59
        assert 10 <= int(minute) <= 20
        start, _, step = hour.partition("/")
        first = int(start.split("-")[0])
        assert 0 <= first < 6 and (not step or step == "6")
        assert 1 <= int(dom) <= 28  # every month has the day
        assert month in ("3", "4")  # H(3-4)/2: one value, 3 or 4
        assert 0 <= int(dow) <= 6


def test_schedule_hashed_seconds_field_differs_from_minutes() -> None:
    pairs = {tuple(parse("H H * * * *", name=f"j{i}").expanded.split()[:2]) for i in range(100)}
    assert sum(1 for s, m in pairs if s != m) > 90


def test_schedule_hashed_step_covers_whole_field() -> None:
    s = parse("H/15 * * * *", name="x")
    start, _, step = s.expanded.split()[0].partition("/")
    lo, _, hi = start.partition("-")
    assert step == "15" and hi == "59" and 0 <= int(lo) < 15
    minutes = [f.minute for f in islice(s.iter_after(datetime(2024, 1, 1, tzinfo=UTC)), 4)]
    assert minutes == [int(lo) + 15 * k for k in range(4)]


def test_schedule_macro_expanded_is_source() -> None:
    assert parse("@daily").expanded == "@daily"


def test_schedule_far_future_exhausts_to_none() -> None:
    # Nothing fires at or after HORIZON (9990-01-01Z), so slot + jitter stays representable.
    s = parse("0 0 1 1 *")
    assert s.next_after(datetime(9999, 6, 1, tzinfo=UTC)) is None
    assert s.next_after(datetime(9989, 6, 1, tzinfo=UTC)) is None
    assert list(s.iter_after(datetime(9988, 6, 1, tzinfo=UTC))) == [
        datetime(9989, 1, 1, tzinfo=ZoneInfo("UTC"))]
