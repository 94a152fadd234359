"""Cron text -> field sets: the grammar, its validation, and the expansion of `H`.

Five fields (`minute hour day-of-month month day-of-week`) or six with seconds first. Each
field is a comma list of items:

    *   */n   a   a-b   a-b/n   a/n (a, a+n, ... up to the field's end)
    H   H(a-b)   H/n   H(a-b)/n   (hashed by the job name, per field)
    day-of-month only:  L (last day)   LW (last weekday)   nW (weekday nearest day n)
    day-of-week only:   n#k (k-th weekday n, k = 1-5)   nL (last weekday n of the month)

Month and weekday names (`jan`, `mon`, any case) stand for numbers; weekday 0 and 7 are
Sunday. `a-a` is the single value a (croniter reads `5-5` as the whole cycle). Every error is
an `InvalidScheduleError` whose `field` and message name the field and the problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from raftcron.errors import InvalidScheduleError
from raftcron.schedule.hashing import stable_int

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_H_ITEM = re.compile(r"[Hh](?:\(([^()]*)\))?(?:/(.*))?")
_NUMBER_WITH_LW = re.compile(r"\d+[LW]")


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: there are six
class FieldDef:
    """One cron field's bounds.

    `hi` is the largest value accepted; `star_hi` ends `*` and `a/n` (6 for day-of-week: 7 is
    Sunday again). `h_lo`-`h_hi` is what a bare `H` draws from: day-of-month draws 1-28 so that
    every month has the day.
    """

    name: str
    lo: int
    hi: int
    star_hi: int
    h_lo: int
    h_hi: int
    names: Mapping[str, int] | None = None


SECOND = FieldDef("second", 0, 59, 59, 0, 59)
MINUTE = FieldDef("minute", 0, 59, 59, 0, 59)
HOUR = FieldDef("hour", 0, 23, 23, 0, 23)
DAY_OF_MONTH = FieldDef("day-of-month", 1, 31, 31, 1, 28)
MONTH = FieldDef("month", 1, 12, 12, 1, 12, {n: i for i, n in enumerate(_MONTHS, 1)})
DAY_OF_WEEK = FieldDef("day-of-week", 0, 7, 6, 0, 6, {n: i for i, n in enumerate(_WEEKDAYS)})

FIVE = (MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK)
SIX = (SECOND, *FIVE)


@dataclass(frozen=True)
class DaySpec:
    """Day-of-month and day-of-week together (they combine by the cronie rule).

    `dom_star`/`dow_star`: the field's text starts with `*`. If either does, a day must match
    both fields; if neither does, either field is enough.
    """

    dom: frozenset[int]
    dom_last: bool
    dom_last_weekday: bool
    dom_nearest: tuple[int, ...]
    dow: frozenset[int]  # 0-6, Sunday 0
    dow_nth: tuple[tuple[int, int], ...]  # (weekday, k)
    dow_last: tuple[int, ...]
    dom_star: bool
    dow_star: bool

    @property
    def dom_all(self) -> bool:
        return len(self.dom) == 31

    @property
    def dow_all(self) -> bool:
        return len(self.dow) == 7


@dataclass(frozen=True)
class CronSpec:
    """A parsed cron expression: sorted value tuples per field plus the day rule."""

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    days: DaySpec
    #: The minute or hour field starts with `*`: fires follow real time across DST changes.
    real_time: bool
    has_seconds: bool
    #: The expression with every `H` item replaced by plain cron syntax.
    expanded: str


@dataclass
class _Acc:
    values: set[int] = field(default_factory=set)
    dom_last: bool = False
    dom_last_weekday: bool = False
    nearest: set[int] = field(default_factory=set)
    nth: set[tuple[int, int]] = field(default_factory=set)
    last: set[int] = field(default_factory=set)
    hashed: bool = False


@dataclass(frozen=True)
class _Field:
    """One parsed field: its values and special items, and its text with H expanded."""

    values: frozenset[int]
    dom_last: bool
    dom_last_weekday: bool
    nearest: tuple[int, ...]
    nth: tuple[tuple[int, int], ...]
    last: tuple[int, ...]
    hashed: bool
    expanded: str


def fail(fd: FieldDef | str, problem: str) -> InvalidScheduleError:
    name = fd if isinstance(fd, str) else fd.name
    return InvalidScheduleError(f"{name}: {problem}", field=name)


def parse_cron(text: str, *, name: str) -> CronSpec:
    """Parse five or six space-separated cron fields (already checked for bad characters).

    `name` seeds the `H` items. Raises `InvalidScheduleError` naming the field at fault.
    """
    parts = text.split()
    if len(parts) == 5:
        defs = FIVE
    elif len(parts) == 6:
        defs = SIX
    else:
        raise fail("schedule", (
            f"expected 5 fields (minute hour day-of-month month day-of-week) or 6 (second "
            f"minute hour day-of-month month day-of-week), got {len(parts)}"))
    fields = {fd.name: (_parse_field(part, fd, name) if _has_h(part) else _plain_field(part, fd))
              for fd, part in zip(defs, parts, strict=True)}
    by_name = dict(zip((fd.name for fd in defs), parts, strict=True))
    dom, dow = fields["day-of-month"], fields["day-of-week"]
    days = DaySpec(
        dom=dom.values,
        dom_last=dom.dom_last,
        dom_last_weekday=dom.dom_last_weekday,
        dom_nearest=dom.nearest,
        dow=frozenset(v % 7 for v in dow.values),
        dow_nth=tuple(sorted({(wd % 7, k) for wd, k in dow.nth})),
        dow_last=tuple(sorted({wd % 7 for wd in dow.last})),
        dom_star=by_name["day-of-month"].startswith("*"),
        dow_star=by_name["day-of-week"].startswith("*"),
    )
    has_h = any(f.hashed for f in fields.values())
    return CronSpec(
        seconds=tuple(sorted(fields["second"].values)) if "second" in fields else (0,),
        minutes=tuple(sorted(fields["minute"].values)),
        hours=tuple(sorted(fields["hour"].values)),
        months=tuple(sorted(fields["month"].values)),
        days=days,
        real_time=by_name["minute"].startswith("*") or by_name["hour"].startswith("*"),
        has_seconds=len(parts) == 6,
        expanded=" ".join(f.expanded for f in fields.values()) if has_h else text,
    )


def _has_h(part: str) -> bool:
    return any(tok[:1] in ("H", "h") for tok in part.split(","))


@lru_cache(maxsize=1024)
def _plain_field(part: str, fd: FieldDef) -> _Field:
    """A field without H items does not depend on the job name: parsed once, shared."""
    return _parse_field(part, fd, "")


def _parse_field(part: str, fd: FieldDef, name: str) -> _Field:
    """Parse one comma list; `name` seeds its H items (their position in the list too)."""
    acc = _Acc()
    pieces = [_item(tok, fd, acc, f"{name}\0{fd.name}\0{i}")
              for i, tok in enumerate(part.split(","))]
    return _Field(values=frozenset(acc.values), dom_last=acc.dom_last,
                  dom_last_weekday=acc.dom_last_weekday, nearest=tuple(sorted(acc.nearest)),
                  nth=tuple(sorted(acc.nth)), last=tuple(sorted(acc.last)), hashed=acc.hashed,
                  expanded=",".join(pieces))


def _item(tok: str, fd: FieldDef, acc: _Acc, seed: str) -> str:
    """Add one list item's values to `acc`; return its text with any `H` expanded."""
    if tok == "":
        raise fail(fd, "empty list item (a stray comma?)")
    up = tok.upper()
    if "?" in tok:
        raise fail(fd, f"'?' is not supported in {tok!r}; use '*'")
    if up.startswith("R"):
        raise fail(fd, f"'R' (random) is not supported in {tok!r}; use 'H' for a stable spread")
    if up.startswith("H"):
        return _hashed(tok, fd, acc, seed)
    if fd is DAY_OF_MONTH and _day_of_month_special(tok, up, acc):
        return tok
    if fd is DAY_OF_WEEK and _day_of_week_special(tok, up, acc):
        return tok
    if "#" in tok or up in ("L", "LW") or _NUMBER_WITH_LW.fullmatch(up):
        raise fail(fd, f"{tok!r}: 'L', 'W' and '#' are only allowed in day-of-month and "
                       "day-of-week")
    base, slash, step_text = tok.partition("/")
    step = _step(step_text, fd, tok) if slash else 1
    if base == "*":
        lo, hi = fd.lo, fd.star_hi
    elif "-" in base:
        a, _, b = base.partition("-")
        lo, hi = _value(a, fd, tok), _value(b, fd, tok)
        if lo > hi:
            raise fail(fd, f"reversed range {tok!r} ({lo} is after {hi})")
    else:
        lo = _value(base, fd, tok)
        # `a/n` runs from a to the end of the field, like `a-max/n`.
        hi = max(lo, fd.star_hi) if slash else lo
    acc.values.update(range(lo, hi + 1, step))
    return tok


def _hashed(tok: str, fd: FieldDef, acc: _Acc, seed: str) -> str:
    m = _H_ITEM.fullmatch(tok)
    if m is None:
        raise fail(fd, f"malformed {tok!r} (use H, H(a-b), H/n or H(a-b)/n)")
    bounds, step_text = m.groups()
    if bounds is None:
        lo, hi = fd.h_lo, fd.h_hi
    else:
        a, dash, b = bounds.partition("-")
        if not dash:
            raise fail(fd, f"malformed {tok!r}: H(a-b) needs a range")
        lo, hi = _value(a, fd, tok), _value(b, fd, tok)
        if lo > hi:
            raise fail(fd, f"reversed range in {tok!r} ({lo} is after {hi})")
    acc.hashed = True
    h = stable_int(seed)
    if step_text is None:
        value = lo + h % (hi - lo + 1)
        acc.values.add(value)
        return str(value)
    step = _step(step_text, fd, tok)
    start = lo + h % min(step, hi - lo + 1)
    acc.values.update(range(start, hi + 1, step))
    return str(start) if start + step > hi else f"{start}-{hi}/{step}"


def _day_of_month_special(tok: str, up: str, acc: _Acc) -> bool:
    if up == "L":
        acc.dom_last = True
        return True
    if up == "LW":
        acc.dom_last_weekday = True
        return True
    if up.endswith("W"):
        if not tok[:-1].isdigit():
            raise fail(DAY_OF_MONTH, f"{tok!r}: 'W' needs a single day, like 15W")
        acc.nearest.add(_value(tok[:-1], DAY_OF_MONTH, tok))
        return True
    if "L" in up or "#" in tok:
        raise fail(DAY_OF_MONTH, f"{tok!r}: day-of-month takes L, LW or nW (n = 1-31); "
                                 "'#' belongs in day-of-week")
    return False


def _day_of_week_special(tok: str, up: str, acc: _Acc) -> bool:
    if "#" in tok:
        day, _, nth = tok.partition("#")
        if not day or any(c in day for c in "-/*,"):
            raise fail(DAY_OF_WEEK, f"{tok!r}: '#' needs a single weekday, like 5#3")
        if not nth.isdigit() or not 1 <= int(nth) <= 5:
            raise fail(DAY_OF_WEEK, f"{tok!r}: '#' must be followed by 1-5 (the k-th weekday "
                                    "of the month)")
        acc.nth.add((_value(day, DAY_OF_WEEK, tok), int(nth)))
        return True
    if up == "L":
        raise fail(DAY_OF_WEEK, "'L' alone is ambiguous in day-of-week; write 5L for the last "
                                "Friday of the month")
    if up.endswith("L"):
        day = tok[:-1]
        if any(c in day for c in "-/*"):
            raise fail(DAY_OF_WEEK, f"{tok!r}: 'L' needs a single weekday, like 5L")
        acc.last.add(_value(day, DAY_OF_WEEK, tok))
        return True
    if up == "LW" or _NUMBER_WITH_LW.fullmatch(up):
        raise fail(DAY_OF_WEEK, f"{tok!r}: 'W' is only allowed in day-of-month")
    return False


def _value(text: str, fd: FieldDef, tok: str) -> int:
    if text.isdigit():
        value = int(text)
        if not fd.lo <= value <= fd.hi:
            raise fail(fd, f"value {value} in {tok!r} is out of range ({fd.lo}-{fd.hi})")
        return value
    if text.isalpha():
        if fd.names is not None and text.lower() in fd.names:
            return fd.names[text.lower()]
        if fd.names is None:
            raise fail(fd, f"unknown name {text!r} in {tok!r} (names are only allowed in "
                           "month and day-of-week)")
        raise fail(fd, f"unknown name {text!r} in {tok!r} (expected one of "
                       f"{', '.join(fd.names)})")
    if text == "":
        raise fail(fd, f"missing number in {tok!r}")
    raise fail(fd, f"{text!r} in {tok!r} is not a number")


def _step(text: str, fd: FieldDef, tok: str) -> int:
    if text.isdigit():
        step = int(text)
        if step == 0:
            raise fail(fd, f"step must not be zero in {tok!r}")
        return step
    if text.startswith("-") and text[1:].isdigit():
        raise fail(fd, f"negative step in {tok!r}")
    if "." in text and text.replace(".", "", 1).isdigit():
        raise fail(fd, f"fractional step in {tok!r} (steps are whole numbers)")
    raise fail(fd, f"step {text!r} in {tok!r} is not a positive whole number")
