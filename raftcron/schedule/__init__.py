"""The schedule engine: when does a job fire? Pure: no clock, no I/O; time is passed in.

    from raftcron.schedule import parse, Schedule, jitter, validate_tz
    s = parse("0 30 2 * * *", tz="Europe/Berlin", name="backup")
    s.next_after(now)            # aware datetime in Europe/Berlin, strictly after `now`

Forms (see `fields` for the cron grammar):

- cron, five fields (minute precision) or six with **seconds first** (distcrond, Quartz,
  Dkron); names, lists, ranges, steps, `a/n`, `L`, `LW`, `nW`, `n#k`, `nL`; `H` items.
- macros `@yearly @annually @monthly @weekly @daily @midnight @hourly`.
- `@every 1h30m` (>= 1s): slots `anchor + k*interval`, k >= 1, where the anchor is the job's
  `start_at` or creation time. The anchor is not a slot itself, except with
  `anchor_is_slot=True` (for `start_at`: the job starts then). Without an anchor the slots are
  on the Unix epoch grid (`@every 5m` fires at :00, :05, ...), every k.
- `{interval = "10m", reference = "03:10"}` (a mapping, or that text): slots
  `R + k*interval` for all integer k, in real elapsed time, where R is the reference wall
  time (HH:MM or HH:MM:SS, in the job's zone) on 2000-01-01. A fixed date, so the slots
  depend only on the expression and the zone; for an interval that divides both a day and the
  zone's DST shifts (10m, 15m, 1h in most zones) the reference wall time is a slot every day,
  otherwise only on days the elapsed-time grid passes through it. Without `reference` it is
  `@every interval`.
- `@at 2026-12-01T10:00:00Z`: one shot; the offset is required.

Day-of-month and day-of-week, the cronie rule: when both are restricted a day matches either
(`0 0 13 * 5` is every 13th and every Friday); when either field starts with `*` a day must
match both (`0 0 */2 * 1` is odd-numbered Mondays).

`H` (Jenkins style): `H`, `H(a-b)`, `H/n`, `H(a-b)/n`, in any field including seconds. Each
field draws from its own sha256 of (job name, field, item position), so `H H * * *` reaches
every minute of the day; a bare `H` in day-of-month draws 1-28 (every month has the day).
`Schedule.expanded` shows the result (`H/15` becomes e.g. `7-59/15`).

Time zones and daylight saving time, as cronie does it. Instants are what fire; the zone
decides which instants match:

1. Real time: the minute or the hour field starts with `*` (`*/5 * * * *`, `0 */2 * * *`,
   `@hourly`). The job follows the clock on the wall: a time that does not exist never
   fires, a time that happens twice fires twice. New York, 2024-03-10 (02:00 EST jumps to
   03:00 EDT): `0 */2 * * *` fires 00:00-05:00, then 04:00-04:00 (02:00 never happened);
   `*/30 * * * *` fires 01:30-05:00 then 03:00-04:00. 2024-11-03 (01:00-01:59 happens twice):
   `30 * * * *` fires 00:30-04:00, 01:30-04:00, 01:30-05:00, 02:30-05:00.
2. Wall clock: any other expression (`30 2 * * *`, `0 0 * * *`, `@daily`, `H H * * *`). Each
   matching wall time fires once. A time in the spring-forward gap fires at the first instant
   after the gap: `30 2 * * *` in New York fires 2024-03-10T03:00:00-04:00 (07:00Z). Several
   skipped times, and a slot at the end of the gap itself, make one fire, not several:
   `0,30 2,3 * * *` fires 03:00-04:00 once, then 03:30-04:00. A time in the repeated hour
   fires on its first occurrence only: `30 1 * * *` fires 2024-11-03T01:30:00-04:00, not
   again at 01:30-05:00.

The same rules hold for 30-minute shifts (Australia/Lord_Howe) and for transitions at
midnight (America/Santiago, where `0 0 * * *` on a spring-forward day fires at 01:00). A
six-field expression decides by its minute and hour fields too (the seconds field does not
count). `H` items count as numbers, not `*`.

Why not croniter (pinned in pyproject.toml and measured against these rules): 7.0.0 reads a
bare six-field string seconds-last, reads `5-5` as the whole cycle, ORs `*/2` in day-of-month
with a weekday, rejects `nW` inside lists, hashes `H` with one CRC32 for all fields (240 of
the 1,440 minutes reachable), fires twice on fall-back and invents a 03:00 fire for
`0 */2 * * *` on spring-forward day, and costs about 40 us per fire. Every one of those would
need a fix around it; the matcher here is smaller than the fixes, is checked against a
brute-force oracle in the tests, and costs a few microseconds.

`jitter(job, slot, max_jitter, next_slot)` is the deterministic delay of a slot's run.

No schedule fires at or after `HORIZON` (9990-01-01T00:00:00Z), so a slot plus a job's jitter
stays a representable time; an `@at` at or after it is refused.
"""

from __future__ import annotations

from raftcron.schedule.core import HORIZON, Schedule
from raftcron.schedule.jitter import jitter
from raftcron.schedule.parser import MACROS, MAX_LENGTH, parse
from raftcron.schedule.zones import validate_tz

__all__ = ["HORIZON", "MACROS", "MAX_LENGTH", "Schedule", "jitter", "parse", "validate_tz"]
