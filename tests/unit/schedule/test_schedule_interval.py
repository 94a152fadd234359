"""@every, distcrond's {interval, reference} mapping, and @at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest

from raftcron.schedule import parse

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def take(s: object, after: datetime, n: int) -> list[datetime]:
    return [f.astimezone(UTC) for f in islice(s.iter_after(after), n)]  # type: ignore[attr-defined]


def test_schedule_every_slots_follow_anchor_excluding_it() -> None:
    anchor = datetime(2024, 1, 1, 10, 0, 7, tzinfo=UTC)
    s = parse("@every 1h30m", anchor=anchor)
    assert s.kind == "every" and s.expanded == "@every 1h30m"
    assert take(s, anchor - timedelta(days=1), 3) == [
        anchor + timedelta(minutes=90 * k) for k in (1, 2, 3)]
    assert s.next_after(anchor) == anchor + timedelta(minutes=90)


def test_schedule_every_anchor_is_slot_includes_anchor() -> None:
    anchor = datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
    s = parse("@every 10s", anchor=anchor, anchor_is_slot=True)
    assert take(s, anchor - timedelta(hours=1), 2) == [anchor, anchor + timedelta(seconds=10)]
    assert s.next_after(anchor) == anchor + timedelta(seconds=10)


def test_schedule_every_long_after_anchor_stays_on_grid() -> None:
    anchor = datetime(2024, 1, 1, 0, 0, 0, 250_000, tzinfo=UTC)
    s = parse("@every 7s", anchor=anchor)
    t = anchor + timedelta(days=400, seconds=3)
    nxt = s.next_after(t)
    assert nxt is not None and nxt > t and nxt - t <= timedelta(seconds=7)
    assert (nxt - anchor) % timedelta(seconds=7) == timedelta(0)


def test_schedule_every_without_anchor_uses_epoch_grid() -> None:
    s = parse("@every 5m")
    assert take(s, datetime(2024, 1, 1, 0, 3, tzinfo=UTC), 2) == [
        datetime(2024, 1, 1, 0, 5, tzinfo=UTC), datetime(2024, 1, 1, 0, 10, tzinfo=UTC)]


def test_schedule_every_is_real_time_across_dst() -> None:
    s = parse("@every 1h", tz="America/New_York", anchor=datetime(2024, 3, 10, 5, tzinfo=UTC))
    got = [f.isoformat() for f in islice(s.iter_after(datetime(2024, 3, 10, 5, tzinfo=UTC)), 3)]
    assert got == ["2024-03-10T01:00:00-05:00", "2024-03-10T03:00:00-04:00",
                   "2024-03-10T04:00:00-04:00"]


def test_schedule_every_accepts_compound_and_case() -> None:
    s = parse("@EVERY 1h30m", anchor=T0)
    assert s.next_after(T0) == T0 + timedelta(minutes=90)


def test_schedule_mapping_reference_aligns_slots() -> None:
    s = parse({"interval": "10m", "reference": "03:10"})
    assert s.kind == "interval"
    assert s.source == {"interval": "10m", "reference": "03:10"}
    assert s.expanded == '{interval = "10m", reference = "03:10"}'
    assert take(s, datetime(2024, 5, 1, 3, 4, 59, tzinfo=UTC), 2) == [
        datetime(2024, 5, 1, 3, 10, tzinfo=UTC), datetime(2024, 5, 1, 3, 20, tzinfo=UTC)]


def test_schedule_mapping_reference_with_seconds_and_odd_interval() -> None:
    s = parse({"interval": "25m", "reference": "03:10:30"})
    a, b = take(s, datetime(2024, 5, 1, tzinfo=UTC), 2)
    assert b - a == timedelta(minutes=25)
    assert a.second == 30
    # a slot every 25 minutes of real time through 2000-01-01 03:10:30 local
    assert (a - datetime(2000, 1, 1, 3, 10, 30, tzinfo=UTC)) % timedelta(minutes=25) == (
        timedelta(0))


def test_schedule_mapping_reference_in_zone_is_a_wall_time() -> None:
    s = parse({"interval": "1h", "reference": "03:10"}, tz="Asia/Kolkata")  # +05:30
    nxt = s.next_after(datetime(2024, 5, 1, tzinfo=UTC))
    assert nxt is not None and nxt.minute == 10 and nxt.tzinfo == ZoneInfo("Asia/Kolkata")


def test_schedule_mapping_is_real_elapsed_time_across_dst() -> None:
    s = parse({"interval": "30m", "reference": "00:00"}, tz="Europe/Berlin")
    fires = take(s, datetime(2024, 3, 31, 0, 10, tzinfo=UTC), 4)
    assert all(b - a == timedelta(minutes=30) for a, b in pairwise(fires))


def test_schedule_mapping_without_reference_is_every() -> None:
    s = parse({"interval": "10m"}, anchor=T0 + timedelta(seconds=3))
    assert s.next_after(T0) == T0 + timedelta(minutes=10, seconds=3)


@pytest.mark.parametrize("text", [
    '{interval = "10m", reference = "03:10"}',
    '{"interval": "10m", "reference": "03:10"}',
    '{ interval="10m" , reference="03:10" }',
])
def test_schedule_mapping_text_forms(text: str) -> None:
    s = parse(text)
    assert s.expanded == text and s.source == text
    assert take(s, datetime(2024, 5, 1, 3, 4, tzinfo=UTC), 1) == [
        datetime(2024, 5, 1, 3, 10, tzinfo=UTC)]


def test_schedule_mapping_expanded_reparses_identically() -> None:
    s = parse({"interval": "7m", "reference": "01:02"}, tz="Europe/Berlin")
    again = parse(s.expanded, tz="Europe/Berlin")
    assert take(s, T0, 10) == take(again, T0, 10)


def test_schedule_at_fires_once() -> None:
    s = parse("@at 2026-12-01T10:00:00Z", tz="Europe/Berlin")
    assert s.one_shot and s.kind == "at"
    nxt = s.next_after(T0)
    assert nxt is not None and nxt.isoformat() == "2026-12-01T11:00:00+01:00"
    assert s.next_after(nxt) is None
    assert list(s.iter_after(T0)) == [nxt]


def test_schedule_at_in_past_is_exhausted() -> None:
    s = parse("@at 2020-01-01T00:00:00+02:00")
    assert s.next_after(T0) is None
    assert list(s.iter_after(T0)) == []


def test_schedule_at_with_offset() -> None:
    s = parse("@at 2026-12-01T10:00:00+05:30")
    assert s.next_after(T0) == datetime(2026, 12, 1, 4, 30, tzinfo=UTC)
