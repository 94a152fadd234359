"""Spread of H fields and of jitter, with room for statistical noise (fixed inputs, so the
results are deterministic; the thresholds are generous rather than tight)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

from raftcron.schedule import jitter, parse


def chi_square(counts: list[int]) -> float:
    expected = sum(counts) / len(counts)
    return sum((c - expected) ** 2 / expected for c in counts)


def test_schedule_spread_h_h_covers_the_minutes_of_a_day() -> None:
    minutes = set()
    for i in range(10_000):
        minute, hour = parse("H H * * *", name=f"job-{i}").expanded.split()[:2]
        minutes.add(int(hour) * 60 + int(minute))
    assert len(minutes) >= 0.99 * 1440


def test_schedule_spread_h_minutes_uniform() -> None:
    counts = Counter(int(parse("H * * * *", name=f"svc{i}").expanded.split()[0])
                     for i in range(6_000))
    # 60 bins, 59 degrees of freedom: 150 is far beyond any plausible fluctuation.
    assert chi_square([counts[m] for m in range(60)]) < 150


def test_schedule_spread_h_day_of_month_uses_every_day_up_to_28() -> None:
    days = Counter(int(parse("0 0 H * *", name=f"n{i}").expanded.split()[2])
                   for i in range(3_000))
    assert set(days) == set(range(1, 29))


def test_schedule_jitter_is_deterministic_and_in_range() -> None:
    slot = datetime(2024, 1, 1, 3, 0, tzinfo=UTC)
    cap = timedelta(minutes=5)
    a = jitter("backup", slot, cap)
    assert a == jitter("backup", slot, cap)
    assert timedelta(0) <= a < cap
    # the same instant written in another zone gives the same delay
    assert jitter("backup", slot.astimezone(timezone(timedelta(hours=9))), cap) == a


def test_schedule_jitter_varies_with_job_and_slot() -> None:
    slot = datetime(2024, 1, 1, 3, 0, tzinfo=UTC)
    cap = timedelta(hours=1)
    by_job = {jitter(f"job{i}", slot, cap) for i in range(100)}
    by_slot = {jitter("job", slot + timedelta(minutes=i), cap) for i in range(100)}
    assert len(by_job) > 95 and len(by_slot) > 95


def test_schedule_jitter_stays_below_gap_to_next_slot() -> None:
    slot = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(2_000):
        gap = timedelta(seconds=1 + i % 7)
        j = jitter(f"j{i}", slot, timedelta(hours=1), slot + gap)
        assert timedelta(0) <= j < gap
    assert jitter("x", slot, timedelta(hours=1), slot + timedelta(microseconds=1)) == timedelta(0)
    assert jitter("x", slot, timedelta(hours=1), slot) == timedelta(0)


def test_schedule_jitter_zero_or_negative_bound_is_zero() -> None:
    slot = datetime(2024, 1, 1, tzinfo=UTC)
    assert jitter("x", slot, timedelta(0)) == timedelta(0)
    assert jitter("x", slot, timedelta(seconds=-5)) == timedelta(0)


def test_schedule_jitter_is_uniform() -> None:
    cap = timedelta(hours=1)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    bins = [0] * 20
    for i in range(10_000):
        j = jitter(f"job-{i % 37}", base + timedelta(minutes=i), cap)
        bins[int(j / cap * 20)] += 1
    # 19 degrees of freedom: the 1e-6 tail is about 55; allow more.
    assert chi_square(bins) < 60


def test_schedule_jitter_capped_by_gap_is_uniform_over_gap() -> None:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    gap = timedelta(seconds=10)
    bins = [0] * 10
    for i in range(5_000):
        slot = base + timedelta(seconds=10 * i)
        bins[int(jitter("every10s", slot, timedelta(hours=1), slot + gap) / gap * 10)] += 1
    assert chi_square(bins) < 45
