"""Differential tests against croniter 7.0.0: the evidence for not building on it.

`raftcron.schedule` does its own cron math (its package docstring says why). These tests pin
that decision down, and are the only place croniter is imported:

1. Agreement where croniter is right: for a safe subset of cron (numbers, lists, ranges a-b
   with a < b, `*/n`, `a-b/n`, names; day-of-month and day-of-week never both restricted; no
   H, L, W, #) in UTC, both give the same consecutive fires. Six-field expressions are
   compared with croniter given the seconds field moved last, croniter's own six-field order.
2. The known divergences, as tables. Each row asserts what croniter 7.0.0 does and, in a
   separate test, what raftcron does instead and why. croniter is pinned exactly in
   pyproject.toml; if a new release changes one of these behaviours, the croniter-side test
   fails and the docstring's list must be re-measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from croniter import CroniterBadCronError, croniter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raftcron.schedule import parse

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
NY = "America/New_York"
FIRES = 5  # consecutive fires compared per example


def croniter_fires(expr: str, start: datetime, n: int, **kwargs: object) -> list[datetime]:
    """croniter's next `n` fires strictly after `start` (aware), as UTC instants."""
    it = croniter(expr, start, **kwargs)
    return [it.get_next(datetime).astimezone(UTC) for _ in range(n)]


def raftcron_fires(expr: str, start: datetime, n: int, tz: str = "UTC",
                   name: str = "") -> list[datetime]:
    """raftcron's next `n` fires strictly after `start`, as UTC instants (compare in UTC:
    same-zone comparison ignores `fold`)."""
    schedule = parse(expr, tz=tz, name=name)
    out: list[datetime] = []
    t = start
    for _ in range(n):
        nxt = schedule.next_after(t)
        assert nxt is not None
        out.append(nxt.astimezone(UTC))
        t = nxt
    return out


def instants(*texts: str) -> list[datetime]:
    """ISO 8601 texts with offsets -> UTC instants (the offset tells the two 01:30s apart)."""
    return [datetime.fromisoformat(t).astimezone(UTC) for t in texts]


# --- 1. agreement on the safe subset ------------------------------------------------------


@st.composite
def safe_field(draw: st.DrawFn, lo: int, hi: int, names: list[str] | None = None) -> str:
    """A restricted field: a list of 1-3 items, each a number, a name, a range a-b (a < b),
    `*/n` or `a-b/n`. Never a bare `*` (the caller decides that)."""
    def atom(v: int) -> str:
        if names and draw(st.booleans()):
            return names[v - lo]
        return str(v)

    items = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["value", "range", "star_step", "range_step"]))
        if kind == "value":
            items.append(atom(draw(st.integers(lo, hi))))
            continue
        if kind == "star_step":
            items.append(f"*/{draw(st.integers(1, hi - lo))}")
            continue
        a = draw(st.integers(lo, hi - 1))
        b = draw(st.integers(a + 1, hi))
        if kind == "range":
            items.append(f"{atom(a)}-{atom(b)}")
        else:
            items.append(f"{atom(a)}-{atom(b)}/{draw(st.integers(1, b - a + 2))}")
    return ",".join(items)


def maybe_star(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.just("*"), inner)


@st.composite
def safe_five_fields(draw: st.DrawFn) -> list[str]:
    """minute hour day-of-month month day-of-week, at most one of the day fields restricted
    (and the other a literal `*`: croniter treats a full `1-31` as `*`, cronie does not)."""
    minute = draw(maybe_star(safe_field(0, 59)))
    hour = draw(maybe_star(safe_field(0, 23)))
    month = draw(maybe_star(safe_field(1, 12, MONTHS)))
    # Only days 1-28 when the month is restricted, so `31 FEB` (never) cannot come up.
    dom_hi = 31 if month == "*" else 28
    dom, dow = "*", "*"
    restricted = draw(st.sampled_from(["none", "dom", "dow"]))
    if restricted == "dom":
        dom = draw(safe_field(1, dom_hi))
    elif restricted == "dow":
        dow = draw(safe_field(0, 6, DAYS))
    return [minute, hour, dom, month, dow]


starts = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31),
                      timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0))


@SETTINGS
@given(fields=safe_five_fields(), start=starts)
def test_schedule_croniter_agrees_on_safe_five_field_expressions(fields: list[str],
                                                                 start: datetime) -> None:
    expr = " ".join(fields)
    assert raftcron_fires(expr, start, FIRES) == croniter_fires(expr, start, FIRES), expr


@SETTINGS
@given(second=maybe_star(safe_field(0, 59)), fields=safe_five_fields(), start=starts)
def test_schedule_croniter_agrees_on_six_fields_with_seconds_moved_last(
        second: str, fields: list[str], start: datetime) -> None:
    ours = " ".join([second, *fields])       # raftcron: seconds first (Quartz, Dkron)
    theirs = " ".join([*fields, second])     # croniter: seconds last
    assert raftcron_fires(ours, start, FIRES) == croniter_fires(theirs, start, FIRES), ours


# --- 2. the divergences -------------------------------------------------------------------


@dataclass(frozen=True)
class Divergence:
    expr: str
    tz: str
    start: str                  # ISO 8601 with offset
    croniter: tuple[str, ...]   # what croniter 7.0.0 fires (tz-aware start in `tz`)
    raftcron: tuple[str, ...]   # what raftcron fires
    why: str                    # why raftcron's answer is the right one


DIVERGENCES = {
    "range-a-a-is-one-day": Divergence(
        "0 0 5-5 * *", "UTC", "2024-01-01T00:00:00+00:00",
        ("2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00",
         "2024-01-04T00:00:00+00:00"),
        ("2024-01-05T00:00:00+00:00", "2024-02-05T00:00:00+00:00",
         "2024-03-05T00:00:00+00:00"),
        "a range is inclusive at both ends, so a-a is the single value a (cronie, POSIX); "
        "croniter expands an equal range to the whole cycle, every day"),
    "star-step-dom-and-weekday-intersect": Divergence(
        "0 0 */2 * 1", "UTC", "2024-01-01T00:00:00+00:00",
        ("2024-01-03T00:00:00+00:00", "2024-01-05T00:00:00+00:00",
         "2024-01-07T00:00:00+00:00", "2024-01-08T00:00:00+00:00"),
        ("2024-01-15T00:00:00+00:00", "2024-01-29T00:00:00+00:00",
         "2024-02-05T00:00:00+00:00"),
        "cronie: when either day field starts with '*' a day must match both, so this is "
        "odd-numbered Mondays; croniter ORs them (every odd day, and every Monday)"),
    "fall-back-fires-once": Divergence(
        "30 1 * * *", NY, "2024-11-02T12:00:00-04:00",
        ("2024-11-03T01:30:00-04:00", "2024-11-03T01:30:00-05:00",
         "2024-11-04T01:30:00-05:00"),
        ("2024-11-03T01:30:00-04:00", "2024-11-04T01:30:00-05:00"),
        "a fixed wall time fires once a day, on its first occurrence in the repeated hour "
        "(cronie); croniter runs the daily job twice, an hour apart"),
    "spring-forward-no-invented-fire": Divergence(
        "0 */2 * * *", NY, "2024-03-09T23:00:00-05:00",
        ("2024-03-10T00:00:00-05:00", "2024-03-10T03:00:00-04:00",
         "2024-03-10T04:00:00-04:00", "2024-03-10T06:00:00-04:00"),
        ("2024-03-10T00:00:00-05:00", "2024-03-10T04:00:00-04:00",
         "2024-03-10T06:00:00-04:00"),
        "a wildcard hour follows real time: 02:00 never happened that day and 03:00 is not "
        "an even hour, so nothing fires between 00:00 and 04:00; croniter invents 03:00, "
        "an hour after its 02:00 slot vanished, then fires again at 04:00"),
    "six-fields-read-seconds-first": Divergence(
        "5 0 2 * * *", "UTC", "2024-01-01T00:00:00+00:00",
        ("2024-01-02T00:05:00+00:00", "2024-01-02T00:05:01+00:00",
         "2024-01-02T00:05:02+00:00"),
        ("2024-01-01T02:00:05+00:00", "2024-01-02T02:00:05+00:00",
         "2024-01-03T02:00:05+00:00"),
        "six-field schedules (distcrond, Quartz, Dkron) put seconds first: 02:00:05 daily; "
        "croniter reads a bare six-field string seconds-last: every second of 00:05 on the "
        "2nd"),
}


@pytest.mark.parametrize("case", DIVERGENCES.values(), ids=DIVERGENCES.keys())
def test_schedule_croniter_divergence_croniter_side(case: Divergence) -> None:
    start = datetime.fromisoformat(case.start).astimezone(ZoneInfo(case.tz))
    got = croniter_fires(case.expr, start, len(case.croniter))
    assert got == instants(*case.croniter), (
        f"croniter no longer does this for {case.expr!r} ({case.tz}); re-measure the "
        f"'Why not croniter' list in raftcron/schedule/__init__.py")


@pytest.mark.parametrize("case", DIVERGENCES.values(), ids=DIVERGENCES.keys())
def test_schedule_croniter_divergence_raftcron_side(case: Divergence) -> None:
    start = datetime.fromisoformat(case.start)
    got = raftcron_fires(case.expr, start, len(case.raftcron), tz=case.tz)
    assert got == instants(*case.raftcron), case.why


def test_schedule_croniter_six_fields_agree_once_croniter_is_told_seconds_first() -> None:
    # The six-field divergence is one of reading, not of arithmetic: with
    # second_at_beginning=True croniter computes what raftcron does.
    start = datetime(2024, 1, 1, tzinfo=UTC)
    expr = DIVERGENCES["six-fields-read-seconds-first"].expr
    assert (croniter_fires(expr, start, 3, second_at_beginning=True)
            == raftcron_fires(expr, start, 3))


def test_schedule_croniter_nearest_weekday_in_a_list() -> None:
    # croniter refuses `nW` inside a list; cronie-style engines (and raftcron) take each
    # item on its own: the weekday nearest the 1st, and the 15th.
    expr = "0 0 1W,15 * *"
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(CroniterBadCronError, match="W"):
        croniter(expr, start)
    assert raftcron_fires(expr, start, 4) == instants(
        "2024-01-15T00:00:00+00:00", "2024-02-01T00:00:00+00:00",  # Feb 1st is a Thursday
        "2024-02-15T00:00:00+00:00", "2024-03-01T00:00:00+00:00")  # Mar 1st is a Friday


H_NAMES = [f"job-{i}" for i in range(10_000)]
MINUTES_PER_DAY = 24 * 60


def _minute_of_day(fire: datetime) -> int:
    return fire.hour * 60 + fire.minute


def test_schedule_croniter_h_h_reach_croniter_side() -> None:
    # croniter draws every H from one CRC32 of the hash_id (minute = crc % 60, hour =
    # (crc >> 1) % 24), so the pair depends only on crc mod lcm(60, 48) = 240: whatever the
    # names, 240 of the 1,440 minutes of the day are reachable, and 10,000 names hit all 240.
    start = datetime(2024, 1, 1, tzinfo=UTC)
    reached = {_minute_of_day(croniter("H H * * *", start, hash_id=name).get_next(datetime))
               for name in H_NAMES}
    assert len(reached) == 240


def test_schedule_croniter_h_h_reach_raftcron_side() -> None:
    # Each field has its own sha256 draw, so `H H * * *` over many jobs spreads over the
    # whole day: the thundering herd H exists to prevent does not reform in 240 buckets.
    start = datetime(2024, 1, 1, tzinfo=UTC)
    reached = {_minute_of_day(raftcron_fires("H H * * *", start, 1, name=name)[0])
               for name in H_NAMES}
    assert len(reached) >= 0.99 * MINUTES_PER_DAY
