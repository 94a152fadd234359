"""The command-envelope additions of version 4 for blackout windows, several schedules,
`queue_all`, rolling fan-out and `output_limit`: the `put_blackout`, `delete_blackout` and
`fanout_step` ops, `waiting` fire records, and which jobs need version 4.

`model.commands` merges `args(_Arg)` into its table and `INTRODUCED` into its own (this
module is kept apart so as not to grow that one past its size, and is handed the argument
type rather than importing it, so the two do not import each other).
`job_version(job)` is the envelope version a `put_job` of this canonical job dict needs: an
older leader would plan a list schedule, a blackout window or `queue_all` differently (or not
at all), so such a job is written as version 4, proposed only once the cluster reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

#: The version these additions came with.
V4 = 4


def args(arg: Callable[..., Any]) -> dict[str, dict[str, Any]]:
    """op -> its arguments, built with `model.commands._Arg` (`arg`)."""
    return {
        # A cluster-wide blackout window (`PUT /blackouts/{name}`), validated by the API.
        "put_blackout": {"name": arg("name"), "schedule": arg("str"), "tz": arg("str"),
                         "description": arg("str", required=False, default=""),
                         "at": arg("time")},
        "delete_blackout": {"name": arg("name"), "at": arg("time")},
        # A rolling fan-out's next targets (pending: start; skipped: never), by the leader.
        "fanout_step": {"runs": arg("records"), "at": arg("time")},
        # A concurrency group's limit (`PUT /concurrency-groups/{name}`).
        "put_group": {"name": arg("name"), "limit": arg("count"), "at": arg("time")},
        "delete_group": {"name": arg("name"), "at": arg("time")},
    }


INTRODUCED: dict[tuple[str, str | None], int] = {
    ("put_blackout", None): V4,
    ("delete_blackout", None): V4,
    ("fanout_step", None): V4,
    ("put_group", None): V4,
    ("delete_group", None): V4,
}


def version_of_args(op: str, args: Mapping[str, Any]) -> int:
    """What version 4 adds inside existing ops: a job using the new fields (`put_job`), a
    `waiting` record (`fire`)."""
    if op == "put_job":
        return job_version(args.get("job"))
    runs = args.get("runs") if op == "fire" else None
    waiting = isinstance(runs, list) and any(
        isinstance(r, Mapping) and r.get("status") == "waiting" for r in runs)
    return V4 if waiting else 1


def job_version(job: Any) -> int:
    """The envelope version a job of this canonical dict needs (1 when nothing new is used)."""
    if not isinstance(job, Mapping):
        return 1
    if isinstance(job.get("schedule"), list) or job.get("blackout") \
            or job.get("concurrency") == "queue_all" or job.get("max_parallel") is not None \
            or job.get("keep_going") is False or job.get("concurrency_group") is not None \
            or job.get("output_limit") is not None:
        return V4
    return 1
