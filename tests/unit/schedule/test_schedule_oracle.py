"""Property tests against a brute-force oracle written independently of the engine.

Hypothesis builds expressions from known field sets (rendered as lists, ranges, steps, names,
L/W/#), so the oracle never parses cron text. The oracle walks instants one minute (or one
second) at a time, converts each to the zone's wall time with zoneinfo, and applies cronie's
rules directly:

- real time (minute or hour field starts with '*'): fire at every instant whose wall matches;
- wall clock: fire where the wall matches on its first occurrence (fold == 0), and fire at
  the first instant after a jump forward if any skipped wall time matches.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from raftcron.errors import InvalidScheduleError
from raftcron.schedule import parse

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Santiago",
         "Europe/Dublin", "Pacific/Chatham", "America/St_Johns", "Asia/Kolkata"]
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
SETTINGS = settings(deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _changes(zone: str) -> list[datetime]:
    """Instants (hour precision) near which the zone's offset changed in 2024 or 2025."""
    z = ZoneInfo(zone)
    out, t = [], datetime(2024, 1, 1, tzinfo=UTC)
    prev = t.astimezone(z).utcoffset()
    while t.year < 2026:
        t += timedelta(hours=1)
        off = t.astimezone(z).utcoffset()
        if off != prev:
            out.append(t)
        prev = off
    return out or [datetime(2024, 6, 1, tzinfo=UTC)]


CHANGES = {z: _changes(z) for z in ZONES}


@dataclass
class Field:
    text: str
    values: set[int]


@st.composite
def plain_field(draw: st.DrawFn, lo: int, hi: int, star_hi: int,
                names: list[str] | None = None, star_weight: int = 1) -> Field:
    def num(v: int) -> str:
        if names and v - lo < len(names) and draw(st.booleans()):
            name = names[v - lo]
            return draw(st.sampled_from([name, name.upper(), name.capitalize()]))
        return str(v)

    items, values = [], set()
    kinds = ["star"] * star_weight + ["star_step", "value", "range", "range_step", "start_step"]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(kinds))
        a = draw(st.integers(lo, hi))
        b = draw(st.integers(a, hi))
        n = draw(st.integers(1, star_hi - lo + 3))
        if kind == "star":
            items.append("*")
            values |= set(range(lo, star_hi + 1))
        elif kind == "star_step":
            items.append(f"*/{n}")
            values |= set(range(lo, star_hi + 1, n))
        elif kind == "value":
            items.append(num(a))
            values.add(a)
        elif kind == "range":
            items.append(f"{num(a)}-{num(b)}")
            values |= set(range(a, b + 1))
        elif kind == "range_step":
            items.append(f"{num(a)}-{num(b)}/{n}")
            values |= set(range(a, b + 1, n))
        else:
            items.append(f"{num(a)}/{n}")
            values |= set(range(a, max(a, star_hi) + 1, n))
    return Field(",".join(items), values)


@dataclass
class Days:
    dom: Field
    dow: Field
    last: bool = False
    last_weekday: bool = False
    nearest: tuple[int, ...] = ()
    nth: tuple[tuple[int, int], ...] = ()
    last_of: tuple[int, ...] = ()


@st.composite
def day_fields(draw: st.DrawFn, star_weight: int = 3) -> Days:
    dom = draw(plain_field(1, 31, 31, star_weight=star_weight))
    dow = draw(plain_field(0, 7, 6, DAYS, star_weight=star_weight))
    dow.values = {v % 7 for v in dow.values}
    out = Days(dom, dow)
    extra_dom = draw(st.lists(st.sampled_from(["L", "LW", "W"]), max_size=2))
    for kind in extra_dom:
        if kind == "L":
            out.last, dom.text = True, dom.text + ",L"
        elif kind == "LW":
            out.last_weekday, dom.text = True, dom.text + ",LW"
        else:
            n = draw(st.integers(1, 31))
            out.nearest += (n,)
            dom.text += f",{n}W"
    for kind in draw(st.lists(st.sampled_from(["#", "L"]), max_size=2)):
        wd = draw(st.integers(0, 7))
        if kind == "#":
            k = draw(st.integers(1, 5))
            out.nth += ((wd % 7, k),)
            dow.text += f",{wd}#{k}"
        else:
            out.last_of += (wd % 7,)
            dow.text += f",{wd}L"
    return out


def oracle_day(days: Days, d: date) -> bool:
    ndays = calendar.monthrange(d.year, d.month)[1]
    wd = d.isoweekday() % 7

    def weekday_ok(day: int) -> bool:
        return date(d.year, d.month, day).isoweekday() <= 5

    dom_ok = (d.day in days.dom.values
              or (days.last and d.day == ndays)
              or (days.last_weekday and d.day == max(x for x in range(1, ndays + 1)
                                                     if weekday_ok(x)))
              or any(n <= ndays and d.day == min((x for x in range(1, ndays + 1)
                                                  if weekday_ok(x)),
                                                 key=lambda x, n=n: (abs(x - n), x))
                     for n in days.nearest))
    dow_ok = (wd in days.dow.values
              or any(wd == w and (d.day - 1) // 7 + 1 == k for w, k in days.nth)
              or any(wd == w and d.day + 7 > ndays for w in days.last_of))
    if days.dom.text.startswith("*") or days.dow.text.startswith("*"):
        return dom_ok and dow_ok
    return dom_ok or dow_ok


@dataclass
class Expr:
    sec: Field | None
    minute: Field
    hour: Field
    days: Days
    month: Field

    @property
    def text(self) -> str:
        parts = [self.minute.text, self.hour.text, self.days.dom.text, self.month.text,
                 self.days.dow.text]
        return " ".join(([self.sec.text] if self.sec else []) + parts)

    @property
    def real_time(self) -> bool:
        return self.minute.text.startswith("*") or self.hour.text.startswith("*")

    def matches(self, w: datetime, day_cache: dict[date, bool]) -> bool:
        if self.sec is None:
            if w.second:
                return False
        elif w.second not in self.sec.values:
            return False
        if (w.minute not in self.minute.values or w.hour not in self.hour.values
                or w.month not in self.month.values):
            return False
        key = w.date()
        if key not in day_cache:
            day_cache[key] = oracle_day(self.days, key)
        return day_cache[key]


def oracle_fires(expr: Expr, zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Every fire in (start, end], by walking instants one step at a time."""
    step = timedelta(seconds=1 if expr.sec else 60)
    cache: dict[date, bool] = {}
    u = start.replace(second=0, microsecond=0) if not expr.sec else start.replace(microsecond=0)
    prev_wall = u.astimezone(zone).replace(tzinfo=None)
    out = []
    while u + step <= end:
        u += step
        local = u.astimezone(zone)
        wall = local.replace(tzinfo=None, fold=0)
        if expr.real_time:
            fire = expr.matches(wall, cache)
        else:
            fire = expr.matches(wall, cache) and local.fold == 0
            skipped = prev_wall + step
            while not fire and skipped < wall:  # a jump forward: walls that never happened
                fire = expr.matches(skipped, cache)
                skipped += step
        if fire and u > start:
            out.append(u)
        prev_wall = wall
    return out


def engine_fires(text: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    out = []
    for f in parse(text, tz=tz).iter_after(start):
        f = f.astimezone(UTC)
        if f > end:
            break
        out.append(f)
    return out


def five_field() -> st.SearchStrategy[Expr]:
    return st.builds(Expr, st.none(), plain_field(0, 59, 59, star_weight=1),
                     plain_field(0, 23, 23, star_weight=1), day_fields(),
                     plain_field(1, 12, 12, MONTHS, star_weight=6))


def six_field() -> st.SearchStrategy[Expr]:
    return st.builds(Expr, plain_field(0, 59, 59, star_weight=2),
                     plain_field(0, 59, 59, star_weight=3), plain_field(0, 23, 23, star_weight=3),
                     day_fields(star_weight=8), plain_field(1, 12, 12, MONTHS, star_weight=8))


def focus(expr: Expr, tz: str, near: datetime, data: st.DataObject) -> None:
    """Mostly, make the expression able to fire around the offset change at `near`: add the
    local hours just before and after it (appended, so the field's first item and with it the
    DST mode stay as drawn), and sometimes open up the day fields."""
    if data.draw(st.integers(0, 3), label="focus") == 0:  # one in four: as drawn
        return
    zone = ZoneInfo(tz)
    # Wall hours, not instants' hours: the hour inside a spring-forward gap must be included.
    before = (near - timedelta(hours=2)).astimezone(zone).replace(tzinfo=None)
    hours = {(before + timedelta(hours=k)).hour for k in range(5)}
    expr.hour.text += "," + ",".join(str(h) for h in sorted(hours))
    expr.hour.values |= hours
    if data.draw(st.booleans(), label="open days"):
        all_days = Days(Field("*", set(range(1, 32))), Field("*", set(range(7))))
        expr.days, expr.month = all_days, Field("*", set(range(1, 13)))


def _parse_or_check_never(expr: Expr, tz: str) -> None:
    try:
        parse(expr.text, tz=tz)
    except InvalidScheduleError as exc:
        assert "never fire" in exc.message, exc.message
        # Refused as never firing: the oracle agrees over a whole 400-year Gregorian cycle.
        for y in range(2000, 2400):
            for m in expr.month.values:
                for dd in range(1, calendar.monthrange(y, m)[1] + 1):
                    assert not oracle_day(expr.days, date(y, m, dd)), (expr.text, y, m, dd)
        assume(False)


@settings(SETTINGS, max_examples=150)
@given(expr=five_field(), tz=st.sampled_from(ZONES), data=st.data())
def test_schedule_oracle_five_fields_match_minute_scan(expr: Expr, tz: str,
                                                        data: st.DataObject) -> None:
    near = data.draw(st.sampled_from(CHANGES[tz]))
    focus(expr, tz, near, data)
    _parse_or_check_never(expr, tz)
    # Start before the change (hypothesis likes 0; a window starting at the change would miss
    # a fire at the change itself) and keep it inside the window.
    start = near - timedelta(seconds=data.draw(st.integers(60, 40 * 3600)))
    end = start + timedelta(hours=48)
    expected = oracle_fires(expr, ZoneInfo(tz), start, end)
    got = engine_fires(expr.text, tz, start, end)
    assert got == expected, expr.text
    assert all(a < b for a, b in pairwise(got))


@settings(SETTINGS, max_examples=40)
@given(expr=six_field(), tz=st.sampled_from(ZONES[1:]), data=st.data())
def test_schedule_oracle_six_fields_match_second_scan(expr: Expr, tz: str,
                                                       data: st.DataObject) -> None:
    near = data.draw(st.sampled_from(CHANGES[tz]))
    focus(expr, tz, near, data)
    _parse_or_check_never(expr, tz)
    start = near - timedelta(seconds=data.draw(st.integers(1, 2 * 3600)))
    end = start + timedelta(hours=2, minutes=30)
    expected = oracle_fires(expr, ZoneInfo(tz), start, end)
    got = engine_fires(expr.text, tz, start, end)
    assert got == expected, expr.text


@settings(SETTINGS, max_examples=150)
@given(days=day_fields(star_weight=1), months=plain_field(1, 12, 12, MONTHS, star_weight=2),
       year=st.integers(1890, 2390), month=st.integers(1, 12))
def test_schedule_oracle_day_rules_match_day_scan(days: Days, months: Field, year: int,
                                                  month: int) -> None:
    expr = Expr(None, Field("0", {0}), Field("0", {0}), days, months)
    _parse_or_check_never(expr, "UTC")
    start = datetime(year, month, 1, tzinfo=UTC) - timedelta(seconds=1)
    end = start + timedelta(days=800)
    expected = []
    d = start.date() + timedelta(days=1)
    while d <= end.date():
        if d.month in months.values and oracle_day(days, d):
            expected.append(datetime(d.year, d.month, d.day, tzinfo=UTC))
        d += timedelta(days=1)
    assert engine_fires(expr.text, "UTC", start, end) == expected, expr.text


@settings(SETTINGS, max_examples=60)
@given(expr=five_field(), tz=st.sampled_from(ZONES), name=st.text(max_size=12),
       data=st.data())
def test_schedule_oracle_next_after_any_instant_agrees_with_iteration(
        expr: Expr, tz: str, name: str, data: st.DataObject) -> None:
    near = data.draw(st.sampled_from(CHANGES[tz]))
    focus(expr, tz, near, data)
    _parse_or_check_never(expr, tz)
    s = parse(expr.text, tz=tz, name=name)
    start = near - timedelta(hours=6)
    fires = [f.astimezone(UTC) for _, f in zip(range(30), s.iter_after(start), strict=False)]
    for _ in range(10):
        t = start + timedelta(microseconds=data.draw(st.integers(0, 10**6 * 86400)))
        later = [f for f in fires if f > t]
        if later:
            nxt = s.next_after(t)
            assert nxt is not None and nxt.astimezone(UTC) == later[0]
