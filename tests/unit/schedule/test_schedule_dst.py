"""DST tables: both transitions, fixed-time and wildcard expressions, four kinds of zone.

Transitions used (2024):
- America/New_York: 03-10 02:00 EST -> 03:00 EDT; 11-03 02:00 EDT -> 01:00 EST.
- Europe/Berlin: 03-31 02:00 CET -> 03:00 CEST; 10-27 03:00 CEST -> 02:00 CET.
- Australia/Lord_Howe (30 minutes): 04-07 02:00 +11 -> 01:30 +10:30; 10-06 02:00 +10:30 ->
  02:30 +11.
- America/Santiago (at midnight): 04-07 00:00 -03 -> 04-06 23:00 -04; 09-08 00:00 -04 ->
  01:00 -03.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

import pytest

from raftcron.schedule import parse

NY, BER, LHI, SCL = ("America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
                     "America/Santiago")

CASES = [
    # --- New York, spring forward (02:00-02:59 does not exist) ---
    # fixed time in the gap: once, at the first instant after the gap (07:00Z)
    (NY, "30 2 * * *", "2024-03-09T12:00:00-05:00",
     ["2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"]),
    (NY, "0 2 * * *", "2024-03-09T12:00:00-05:00",
     ["2024-03-10T03:00:00-04:00", "2024-03-11T02:00:00-04:00"]),
    # several skipped times and a slot at the gap's end itself: one fire, no duplicate
    (NY, "0,30 2,3 * * *", "2024-03-10T00:00:00-05:00",
     ["2024-03-10T03:00:00-04:00", "2024-03-10T03:30:00-04:00", "2024-03-11T02:00:00-04:00"]),
    # six fields, wall clock (minute and hour fixed): all seconds of 02:30 collapse into one
    (NY, "*/20 30 2 * * *", "2024-03-10T00:00:00-05:00",
     ["2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00", "2024-03-11T02:30:20-04:00"]),
    # wildcard hour: follows real time, 02:00 never happens, no invented 03:00
    (NY, "0 */2 * * *", "2024-03-09T23:00:00-05:00",
     ["2024-03-10T00:00:00-05:00", "2024-03-10T04:00:00-04:00", "2024-03-10T06:00:00-04:00"]),
    (NY, "*/30 * * * *", "2024-03-10T01:00:00-05:00",
     ["2024-03-10T01:30:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-10T03:30:00-04:00"]),
    (NY, "*/30 2 * * *", "2024-03-09T12:00:00-05:00",  # minute wildcard, hour fixed
     ["2024-03-11T02:00:00-04:00", "2024-03-11T02:30:00-04:00"]),
    (NY, "@hourly", "2024-03-10T00:30:00-05:00",
     ["2024-03-10T01:00:00-05:00", "2024-03-10T03:00:00-04:00"]),
    # --- New York, fall back (01:00-01:59 happens twice) ---
    (NY, "30 1 * * *", "2024-11-02T12:00:00-04:00",
     ["2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"]),
    # after the first pass already fired, the second pass does not fire it again
    (NY, "30 1 * * *", "2024-11-03T01:10:00-05:00", ["2024-11-04T01:30:00-05:00"]),
    (NY, "45 1 * * *", "2024-11-03T01:40:00-04:00", ["2024-11-03T01:45:00-04:00"]),
    (NY, "0 2 * * *", "2024-11-03T00:00:00-04:00",
     ["2024-11-03T02:00:00-05:00", "2024-11-04T02:00:00-05:00"]),
    (NY, "30 * * * *", "2024-11-03T00:00:00-04:00",
     ["2024-11-03T00:30:00-04:00", "2024-11-03T01:30:00-04:00", "2024-11-03T01:30:00-05:00",
      "2024-11-03T02:30:00-05:00"]),
    (NY, "*/30 1 * * *", "2024-11-03T00:00:00-04:00",
     ["2024-11-03T01:00:00-04:00", "2024-11-03T01:30:00-04:00", "2024-11-03T01:00:00-05:00",
      "2024-11-03T01:30:00-05:00", "2024-11-04T01:00:00-05:00"]),
    # starting inside the first pass, a wildcard continues into the second pass
    (NY, "*/30 * * * *", "2024-11-03T01:40:00-04:00",
     ["2024-11-03T01:00:00-05:00", "2024-11-03T01:30:00-05:00", "2024-11-03T02:00:00-05:00"]),
    # --- Berlin ---
    (BER, "30 2 * * *", "2024-03-30T12:00:00+01:00",
     ["2024-03-31T03:00:00+02:00", "2024-04-01T02:30:00+02:00"]),
    (BER, "0 30 2 * * *", "2024-03-30T12:00:00+01:00",
     ["2024-03-31T03:00:00+02:00", "2024-04-01T02:30:00+02:00"]),
    (BER, "*/30 * * * *", "2024-03-31T01:00:00+01:00",
     ["2024-03-31T01:30:00+01:00", "2024-03-31T03:00:00+02:00", "2024-03-31T03:30:00+02:00"]),
    (BER, "30 2 * * *", "2024-10-26T12:00:00+02:00",
     ["2024-10-27T02:30:00+02:00", "2024-10-28T02:30:00+01:00"]),
    (BER, "*/30 * * * *", "2024-10-27T01:30:00+02:00",
     ["2024-10-27T02:00:00+02:00", "2024-10-27T02:30:00+02:00", "2024-10-27T02:00:00+01:00",
      "2024-10-27T02:30:00+01:00", "2024-10-27T03:00:00+01:00"]),
    (BER, "0 3 * * *", "2024-10-26T12:00:00+02:00",
     ["2024-10-27T03:00:00+01:00", "2024-10-28T03:00:00+01:00"]),
    # --- Lord Howe: a 30-minute shift ---
    (LHI, "15 2 * * *", "2024-10-05T12:00:00+10:30",  # 02:00-02:29 does not exist
     ["2024-10-06T02:30:00+11:00", "2024-10-07T02:15:00+11:00"]),
    (LHI, "0 2 * * *", "2024-10-05T12:00:00+10:30",
     ["2024-10-06T02:30:00+11:00", "2024-10-07T02:00:00+11:00"]),
    (LHI, "*/15 * * * *", "2024-10-06T01:30:00+10:30",
     ["2024-10-06T01:45:00+10:30", "2024-10-06T02:30:00+11:00", "2024-10-06T02:45:00+11:00"]),
    (LHI, "45 1 * * *", "2024-04-06T12:00:00+11:00",  # 01:30-01:59 happens twice
     ["2024-04-07T01:45:00+11:00", "2024-04-08T01:45:00+10:30"]),
    (LHI, "*/15 * * * *", "2024-04-07T01:15:00+11:00",
     ["2024-04-07T01:30:00+11:00", "2024-04-07T01:45:00+11:00", "2024-04-07T01:30:00+10:30",
      "2024-04-07T01:45:00+10:30", "2024-04-07T02:00:00+10:30"]),
    (LHI, "0 2 * * *", "2024-04-06T12:00:00+11:00",
     ["2024-04-07T02:00:00+10:30", "2024-04-08T02:00:00+10:30"]),
    # --- Santiago: transitions at midnight ---
    (SCL, "0 0 * * *", "2024-09-07T12:00:00-04:00",  # 00:00-00:59 on 09-08 does not exist
     ["2024-09-08T01:00:00-03:00", "2024-09-09T00:00:00-03:00"]),
    (SCL, "@daily", "2024-09-07T12:00:00-04:00",
     ["2024-09-08T01:00:00-03:00", "2024-09-09T00:00:00-03:00"]),
    (SCL, "*/20 * * * *", "2024-09-07T23:30:00-04:00",
     ["2024-09-07T23:40:00-04:00", "2024-09-08T01:00:00-03:00", "2024-09-08T01:20:00-03:00"]),
    (SCL, "0 0 * * *", "2024-04-06T12:00:00-03:00",  # midnight of 04-07 happens once
     ["2024-04-07T00:00:00-04:00", "2024-04-08T00:00:00-04:00"]),
    (SCL, "30 23 * * *", "2024-04-06T12:00:00-03:00",  # 23:00-23:59 on 04-06 twice
     ["2024-04-06T23:30:00-03:00", "2024-04-07T23:30:00-04:00"]),
    (SCL, "30 * * * *", "2024-04-06T22:00:00-03:00",
     ["2024-04-06T22:30:00-03:00", "2024-04-06T23:30:00-03:00", "2024-04-06T23:30:00-04:00",
      "2024-04-07T00:30:00-04:00"]),
]


@pytest.mark.parametrize(("tz", "expr", "after", "expected"), CASES)
def test_schedule_dst_table(tz: str, expr: str, after: str, expected: list[str]) -> None:
    s = parse(expr, tz=tz)
    got = [f.isoformat() for f in islice(s.iter_after(datetime.fromisoformat(after)),
                                         len(expected))]
    assert got == expected


@pytest.mark.parametrize("tz", [NY, BER, LHI, SCL])
@pytest.mark.parametrize("expr", ["30 2 * * *", "*/30 * * * *", "0 0 * * *", "15 1 * * *",
                                  "*/10 2 * * *", "0 */2 * * *", "30 23 * * *"])
def test_schedule_dst_fires_strictly_increase_across_a_year(tz: str, expr: str) -> None:
    s = parse(expr, tz=tz)
    t = datetime.fromisoformat("2024-01-01T00:00:00+00:00")
    end = datetime.fromisoformat("2025-01-01T00:00:00+00:00")
    prev = t
    count = 0
    for fire in s.iter_after(t):
        # In UTC: Python compares two datetimes of the same zone by wall time, ignoring fold.
        fire = fire.astimezone(UTC)
        if fire > end:
            break
        assert fire > prev
        prev = fire
        count += 1
    assert count > 300


@pytest.mark.parametrize("tz", [NY, BER, LHI, SCL])
def test_schedule_dst_fixed_time_fires_once_every_day(tz: str) -> None:
    # Wall-clock semantics: every local date has exactly one fire, gap or repeat or not.
    for expr in ("30 2 * * *", "0 0 * * *", "45 1 * * *", "30 23 * * *", "15 0 * * *"):
        s = parse(expr, tz=tz)
        seen: dict[object, int] = {}
        t = datetime.fromisoformat("2024-01-01T12:00:00+00:00")
        end = datetime.fromisoformat("2024-12-30T00:00:00+00:00")
        for fire in s.iter_after(t):
            if fire > end:
                break
            seen[fire.date()] = seen.get(fire.date(), 0) + 1
        assert set(seen.values()) == {1}, (tz, expr)
        assert len(seen) >= 362
