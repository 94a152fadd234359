"""Builders of the dicts the state and the API take: job bodies, `put_job` arguments and the
run records of a `fire` command. Keyword arguments add or override fields, so each test
states only what it is about."""

from __future__ import annotations

from typing import Any

#: What `job_body` schedules when a test does not care.
HOURLY = "0 * * * *"
_SAME = object()


def job_body(name: str = "backup", **fields: Any) -> dict[str, Any]:
    """A job as a client sends it: a name, an hourly schedule, and `fields`."""
    return {"name": name, "schedule": HOURLY, **fields}


def put_job_args(job: dict[str, Any], at: str, expanded: str | None = HOURLY) -> dict[str, Any]:
    """The arguments of a `put_job` command (`expanded=None` leaves the key out)."""
    args: dict[str, Any] = {"job": job}
    if expanded is not None:
        args["expanded"] = expanded
    args["at"] = at
    return args


def run_record(run_id: str, job: str, slot: str, *, peer: str | None = "p1",
               target: Any = _SAME, fired_at: str | None = None, **fields: Any) -> dict[str, Any]:
    """One record of a `fire` command, every field spelled out: attempt 1, pending, not manual,
    no retry; `target` defaults to `peer`, `fired_at` to `slot`; `fields` override."""
    return {"run_id": run_id, "job": job, "slot": slot, "attempt": 1, "peer": peer,
            "target": peer if target is _SAME else target, "status": "pending",
            "reason": None, "manual": False, "retry_of": None,
            "fired_at": fired_at or slot, **fields}
