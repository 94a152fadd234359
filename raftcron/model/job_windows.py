"""Job fields added with blackout windows, several schedules and rolling fan-out: their
checks, apart from `job.py` so that module stays within its size. Each raises
`ValidationError` naming the field, like every check of `job_from_dict`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from raftcron import schedule as schedules
from raftcron.errors import ValidationError
from raftcron.model import checks as c

#: `max_parallel` as a share of the targets: "1%" to "100%".
PERCENT_RE = re.compile(r"([1-9][0-9]?|100)%")
MAX_PARALLEL = 10_000


def max_parallel(value: Any) -> int | str | None:
    """None, a whole number 1-10,000, or a percentage "1%"-"100%" of the targets."""
    if value is None:
        return None
    if isinstance(value, str):
        if not PERCENT_RE.fullmatch(value.strip()):
            raise c.fail("max_parallel", f"expected a whole number or a percentage like "
                                         f"'25%', got {value!r}")
        return value.strip()
    return c.integer(value, "max_parallel", minimum=1, maximum=MAX_PARALLEL)


#: The most blackout windows one job (or the cluster config) may list.
MAX_BLACKOUTS = 32


def blackout_list(value: Any, *, tz: str, field: str) -> list[str]:
    """Blackout windows: cron expressions (five or six fields, or a macro) in `tz`, each parsed
    to prove it. A window is the instants its expression matches, to the minute (to the
    second with six fields): `* 0-6 * * sat,sun` is Saturday and Sunday, 00:00 to 06:59:59."""
    if isinstance(value, str):  # one window is a list of one
        value = [value]
    items = c.string_list([] if value is None else value, field)
    if len(items) > MAX_BLACKOUTS:
        raise c.fail(field, f"at most {MAX_BLACKOUTS} windows, got {len(items)}")
    for i, text in enumerate(items):
        blackout_expr(text, tz=tz, field=f"{field}.{i}")
    return items


def blackout_expr(text: Any, *, tz: str, field: str) -> str:
    """One window's cron expression, checked (`ValidationError` naming `field`)."""
    expr = c.string(text, field, max_len=schedules.MAX_LENGTH)
    if expr.strip().startswith(("@every", "@at", "{")) or "\n" in expr:
        raise c.fail(field, "a blackout window is a cron expression (like "
                            "'* 0-6 * * sat,sun'), not an interval or a one-shot time")
    try:
        schedules.parse(expr, tz=tz)
    except ValidationError as exc:
        raise c.fail(field, str(exc)) from None
    return expr


def schedule_out(value: Any) -> Any:
    """A job's `schedule` in the canonical form (lists and mappings copied)."""
    if isinstance(value, list | tuple):
        return [schedule_out(v) for v in value]
    return dict(value) if isinstance(value, Mapping) else value


def one_schedule(value: Any, field: str) -> str | dict[str, str]:
    """One schedule of a job: a string, or distcrond's `{interval, reference}` mapping."""
    if isinstance(value, Mapping):
        c.check_keys(value, ("interval", "reference"), prefix=field)
        if value.get("interval") is None:
            raise c.fail(f"{field}.interval", "an interval schedule needs an interval")
        return {k: c.string(v, f"{field}.{k}", max_len=64)
                for k, v in value.items() if v is not None}
    text = c.string(value, field, max_len=1024)
    if "\n" in text:  # the separator of several schedules' stored text (schedule.union)
        raise c.fail(field, "a line break inside a schedule (give several as a list)")
    return text
