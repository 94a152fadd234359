"""The Celery side of `scripts/bench compare`: imported by `celery beat` and `celery worker`
from the `.bench-venv` virtualenv the script creates, never by raftcron.

N every-second beat entries (RedBeat's `rrule("SECONDLY")`, aligned to whole seconds from
`BENCH_BEGIN`), each sending the task `benchapp.stamp`; the task, in a prefork worker, spawns
the same process a raftcron run is: `bash -c 'echo "$EPOCHREALTIME <slot> <id> 1 celery"
>> <out>/<job>'`. The slot is the whole second beat sent it for (`SlotScheduler`): beat sends
an entry only once it is due, so the slot is the second its boundary passed; a slot beat was
more than a second late for is never sent (RedBeat runs the current one, not the ones it
slept through) and counts as missed.

Settings come from the environment: BENCH_REDIS (redis URL), BENCH_OUT (stamp directory),
BENCH_JOBS, BENCH_BEGIN (epoch seconds of the first slot).
"""

from __future__ import annotations

import math
import os
import shlex
import subprocess
import time
from datetime import UTC, datetime

from celery import Celery
from redbeat import RedBeatScheduler
from redbeat.schedules import rrule

REDIS = os.environ["BENCH_REDIS"]
OUT = os.environ["BENCH_OUT"]
JOBS = int(os.environ["BENCH_JOBS"])
BEGIN = int(os.environ["BENCH_BEGIN"])

app = Celery("benchapp", broker=REDIS)
app.conf.update(
    redbeat_redis_url=REDIS,
    redbeat_key_prefix="bench:",
    beat_max_loop_interval=1,
    task_ignore_result=True,
    timezone="UTC",
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
_start = datetime.fromtimestamp(BEGIN, UTC)
app.conf.beat_schedule = {
    f"fire-{i:04d}": {"task": "benchapp.stamp", "args": [f"fire-{i:04d}"],
                      "schedule": rrule("SECONDLY", dtstart=_start)}
    for i in range(JOBS)
}


class SlotScheduler(RedBeatScheduler):
    """RedBeat, sending each task with the whole second it was due for."""

    def apply_async(self, entry, producer=None, advance=True, **kwargs):  # type: ignore[no-untyped-def]
        entry = self.reserve(entry) if advance else entry
        slot = math.floor(time.time())
        task = self.app.tasks[entry.task]
        return task.apply_async(list(entry.args), {"slot": slot}, producer=producer,
                                **entry.options)


@app.task(name="benchapp.stamp")
def stamp(job: str, slot: int) -> None:
    path = shlex.quote(os.path.join(OUT, job))
    subprocess.run(["bash", "-c", f'echo "$EPOCHREALTIME {slot} c$$ 1 celery" >> {path}'],
                   check=False)
