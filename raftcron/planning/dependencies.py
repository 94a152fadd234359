"""Pure decisions for dependencies, backfill and pause on failure (docs/jobs.md). No clock,
no I/O: the leader (`scheduler.triggers`) reads the state and passes it in.

- `check_graph`: a job's `after`/`on_failure` name existing jobs and close no cycle (edges
  parent -> dependent for `after`, failing job -> handler for `on_failure`); refused with
  the jobs named.
- `after_parent`: whether a job with `after` is due, and the parent run that completes it.
- `final_failure`: a run that ended failed, timed out or lost with no retry left.
- `consecutive_failures`: how many of a job's newest slots in a row ended failed.
- `backfill_slots`: a schedule's slots in a range, oldest first, capped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from raftcron.errors import ValidationError
from raftcron.model import FAILURE_STATUSES

#: Backfill slots at most, unless the request says otherwise (and never more than `MAX_CAP`).
DEFAULT_CAP = 1000
MAX_CAP = 10_000
_EPSILON = timedelta(microseconds=1)

Graph = Mapping[str, tuple[Sequence[str], Sequence[str]]]


def check_graph(name: str, after: Sequence[str], on_failure: Sequence[str],
                graph: Graph) -> None:
    """Raise `ValidationError` (field `after` or `on_failure`) when job `name`, written with
    these lists into `graph` (every job -> its (after, on_failure)), names a missing job or
    itself, or closes a cycle."""
    for field, names in (("after", after), ("on_failure", on_failure)):
        if name in names:
            raise ValidationError(f"{field}: job {name!r} cannot depend on itself", field=field)
        missing = sorted(n for n in names if n not in graph and n != name)
        if missing:
            listed = ", ".join(repr(n) for n in missing)
            raise ValidationError(f"{field}: no job named {listed}", field=field)
    jobs = dict(graph)
    jobs[name] = (list(after), list(on_failure))
    cycle = find_cycle(jobs)
    if cycle is not None and name in cycle:
        field = "after" if after else "on_failure"
        i = cycle.index(name)  # told from the job being written
        cycle = [*cycle[i:-1], *cycle[:i], name]
        raise ValidationError(f"{field}: a cycle of dependencies: {' -> '.join(cycle)}",
                              field=field)


def edges(graph: Graph) -> dict[str, list[str]]:
    """job -> the jobs its runs may start (its dependents and failure handlers), sorted."""
    out: dict[str, set[str]] = {n: set() for n in graph}
    for job, (after, on_failure) in graph.items():
        for parent in after:
            out.setdefault(parent, set()).add(job)
        out.setdefault(job, set()).update(on_failure)
    return {k: sorted(v) for k, v in out.items()}


def find_cycle(graph: Graph) -> list[str] | None:
    """One cycle of `edges(graph)` as `[a, b, ..., a]`, or None. Iterative, deterministic."""
    out = edges(graph)
    state: dict[str, int] = {}  # 1: on the path, 2: done
    for start in sorted(out):
        if state.get(start):
            continue
        path: list[str] = [start]
        stack = [iter(out.get(start, ()))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
                continue
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(out.get(nxt, ())))
    return None


def after_parent(after: Sequence[str], successes: Mapping[str, Mapping[str, Any] | None],
                 last_fired: str | None) -> str | None:
    """The parent run id that makes a job with `after` due, or None when it is not.

    Due when every job in `after` has a success (`successes[job]`: its newest succeeded run,
    `{id, finished_at}`) that finished after the job's own last run (`last_fired`, None if it
    never ran). The parent is the newest of those successes (ties: the larger run id), so
    every leader that looks at the same state names the same parent, and the state refuses a
    second run for one parent.
    """
    if not after:
        return None
    newest: tuple[str, str] | None = None
    for dep in after:
        run = successes.get(dep)
        if not run or not run.get("finished_at"):
            return None
        finished = str(run["finished_at"])
        if last_fired is not None and _t(finished) <= _t(last_fired):
            return None
        key = (finished, str(run["id"]))
        if newest is None or (_t(key[0]), key[1]) > (_t(newest[0]), newest[1]):
            newest = key
    assert newest is not None
    return newest[1]


def _t(text: str) -> str:
    """API times compare as text once their fraction is padded (`...:05Z` < `...:05.5Z`)."""
    if text.endswith("Z") and "." not in text:
        return text[:-1] + ".000000Z"
    head, _, frac = text[:-1].partition(".")
    return f"{head}.{frac.ljust(6, '0')}Z"


def final_failure(run: Mapping[str, Any], retries: int) -> bool:
    """A run that ended failed, timed_out or lost, with no retry after it (attempt from 1)."""
    return (str(run.get("status")) in FAILURE_STATUSES
            and int(run.get("attempt") or 1) > max(0, int(retries or 0)))


def consecutive_failures(runs: Iterable[Mapping[str, Any]], retries: int,
                         since: str | None = None) -> tuple[int, str | None]:
    """(failed slots in a row, the newest failed run) among `runs`, newest first.

    A slot's outcome is its last attempt: a failure with a retry left is not counted, and a
    slot that succeeded (or is still running) ends the streak. Runs that never ran (skipped,
    missed, cancelled) neither count nor break it. `since` (API time): runs fired before it
    are not looked at (the job was resumed then).
    """
    count, newest = 0, None
    for run in runs:
        if since is not None and run.get("fired_at") and _t(str(run["fired_at"])) <= _t(since):
            break
        status = str(run.get("status"))
        if status in ("skipped", "missed", "cancelled"):
            continue
        if status in FAILURE_STATUSES:
            if not final_failure(run, retries):
                continue
            count += 1
            newest = newest or str(run.get("id"))
            continue
        break  # succeeded, pending or running: the streak ends here
    return count, newest


def pause_text(failures: int, run_id: str | None) -> str:
    """The reason shown on a job that `pause_after_failures` paused."""
    return f"paused after {failures} consecutive failures; last run {run_id}"


class TooManySlots(ValidationError):
    """More slots in the range than the cap: `count` says how many (at least)."""

    def __init__(self, count: int, cap: int) -> None:
        super().__init__(f"the range holds {count} slots, more than the cap of {cap}; "
                         "narrow it or raise `cap`", field="to")
        self.count = count


def backfill_slots(schedule: Any, start: datetime, end: datetime, cap: int) -> list[datetime]:
    """Every slot of `schedule` (`Schedule.next_after`) in `[start, end]`, oldest first.

    Raises `TooManySlots` with the exact count (counted up to `MAX_CAP * 10`) past `cap`.
    """
    if end < start:
        raise ValidationError("to: must not be before from", field="to")
    out: list[datetime] = []
    t = schedule.next_after(start - _EPSILON)
    count = 0
    while t is not None and t <= end:
        count += 1
        if count <= cap:
            out.append(t)
        elif count >= MAX_CAP * 10:
            break
        t = schedule.next_after(t)
    if count > cap:
        raise TooManySlots(count, cap)
    return out
