"""Blackout windows: when a job's slots do not run, and what becomes of them. Pure.

A window is a cron expression in a time zone; it covers every instant its expression matches,
to the minute (to the second for a six-field expression): `* 0-6 * * sat,sun` covers
Saturday and Sunday from 00:00 to 06:59:59. A job has its own windows (`blackout`, in the
job's zone) and the cluster's (`[blackouts.NAME]` in the cluster config, or
`PUT /blackouts/{name}`, each with its own zone).

The rule, in two steps around `slots.due_slots`:

1. While `now` is inside a window (`hold`), nothing of the job is planned: no record, no run,
   and the job is planned again at the end of the windows covering now (`window_end`).
2. After it, the slots that came due inside are late, so the job's catch-up policy decides
   them like any late slots (`latest`: the newest runs; `all`: they run, up to the cap;
   `none`: none), and every one that does not run is recorded `skipped` with the reason
   `blackout NAME` (`relabel`) instead of `missed`.

A slot "inside" a window is one whose fire time (slot plus jitter) the window covers. The
leader decides, the `fire` command carries the records; apply never looks at a window.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from raftcron.planning.concurrency import SlotDecision
from raftcron.planning.slots import SlotPlan
from raftcron.schedule import Schedule, parse

_TICK = timedelta(microseconds=1)
#: How far `Window.end_after` walks a window's instants before it gives up (a window that
#: covers more than this in one piece is planned again after this long).
MAX_WALK = timedelta(days=8)
#: The reason a slot inside a window did not run (NAME is the window's name).
REASON = "blackout {name}"


@dataclass(frozen=True)
class Window:
    """One blackout window. `name`: the cluster window's name, or the job's expression."""

    name: str
    expr: str
    tz: str
    schedule: Schedule
    step: timedelta  # a minute, or a second for a six-field expression

    def _floor(self, t: datetime) -> datetime:
        t = t.astimezone(UTC)
        if self.step == timedelta(seconds=1):
            return t.replace(microsecond=0)
        return t.replace(second=0, microsecond=0)

    def covers(self, t: datetime) -> bool:
        """Whether `t` lies inside the window."""
        start = self._floor(t)
        found = self.schedule.next_after(start - _TICK)
        return found is not None and found.astimezone(UTC) == start

    def end_after(self, t: datetime) -> datetime:
        """The first instant at or after `t` the window does not cover (`t` if it does not
        cover `t`); at most `MAX_WALK` ahead."""
        start = self._floor(t)
        expect = start
        for found in self.schedule.iter_after(start - _TICK):
            if found.astimezone(UTC) != expect or expect - start > MAX_WALK:
                break
            expect += self.step
        return max(t, expect) if expect > start else t


@lru_cache(maxsize=4096)
def window(name: str, expr: str, tz: str = "UTC") -> Window:
    """Parse one window (shared: windows are immutable). Raises `InvalidScheduleError`."""
    schedule = parse(expr, tz=tz)
    six = len(schedule.expanded.split()) == 6 and not expr.strip().startswith("@")
    return Window(name=name, expr=expr, tz=tz, schedule=schedule,
                  step=timedelta(seconds=1) if six else timedelta(minutes=1))


def job_windows(exprs: Iterable[str], tz: str) -> list[Window]:
    """A job's own windows, named by their expression."""
    return [window(expr, expr, tz) for expr in exprs]


def covering(windows: Sequence[Window], t: datetime) -> Window | None:
    """The first window (in the given order) that covers `t`, or None."""
    for w in windows:
        if w.covers(t):
            return w
    return None


def window_end(windows: Sequence[Window], t: datetime) -> datetime:
    """The first instant at or after `t` that no window covers (windows that overlap or touch
    make one long window), at most about `MAX_WALK` per window ahead."""
    for _ in range(4 * len(windows) + 1):
        inside = [w for w in windows if w.covers(t)]
        if not inside:
            return t
        t = max(w.end_after(t) for w in inside)
    return t


def hold(windows: Sequence[Window], now: datetime, *, held: datetime | None = None,
         catchup_until: datetime | None = None) -> SlotPlan | None:
    """While a window covers `now`: the plan that plans nothing and wakes at the window's
    end (keeping a held slot and a catch-up line as they were). None outside every window."""
    if not windows or covering(windows, now) is None:
        return None
    return SlotPlan(held=held, next_fire=window_end(windows, now),
                    catchup_until=catchup_until)


def relabel(plan: SlotPlan, windows: Sequence[Window]) -> SlotPlan:
    """The plan with every `missed` record whose fire time a window covers turned into
    `skipped` with the reason `blackout NAME` (a summary keeps its count after it)."""
    if not windows:
        return plan
    out: list[SlotDecision] = []
    changed = False
    for d in plan.decisions:
        w = covering(windows, d.fire_at) if d.status == "missed" else None
        if w is None:
            out.append(d)
            continue
        reason = REASON.format(name=w.name)
        if d.reason and " slots from " in d.reason:  # a summary of many: keep what it counts
            reason = f"{reason}; {d.reason}"
        out.append(SlotDecision(d.slot, "skipped", reason, d.fire_at))
        changed = True
    return replace(plan, decisions=tuple(out)) if changed else plan
