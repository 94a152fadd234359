"""`jobs show` and `runs show` for people: one field a line, times as a person reads them
(a job's in its own time zone, a run's in UTC, whole seconds). `--json` prints the API's JSON
instead (`raftcron.cli.output`)."""

from __future__ import annotations

import json
import shlex
from typing import Any

from raftcron.cli.output import utc_time, zone_time
from raftcron.model.job import FIELDS

_JOB_TIMES = ("start_at", "end_at", "created_at", "updated_at")
_RUN_FIELDS = ("id", "job", "status", "exit_code", "reason", "slot", "attempt", "manual",
               "retry_of", "peer", "target", "fired_at", "started_at", "finished_at",
               "output_bytes", "cancel_requested")
_RUN_TIMES = ("slot", "fired_at", "started_at", "finished_at")


def _text(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    if isinstance(value, dict) and all(isinstance(v, str | int | None) for v in value.values()):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _lines(pairs: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in pairs) + 2
    out = []
    for key, value in pairs:
        first, *rest = value.splitlines() or [""]
        out.append(f"{key:<{width}}{first}".rstrip())
        out += [f"{'':<{width}}{line}".rstrip() for line in rest]
    return "\n".join(out)


def job_text(job: dict) -> str:
    """The job, one field a line, status and next runs first."""
    tz = job.get("tz")
    pairs = [("name", str(job.get("name"))), ("status", _text(job.get("status"))),
             ("next runs", "\n".join(zone_time(t, tz) for t in job.get("next_runs") or [])
              or "-")]
    last = job.get("last_run")
    if last:
        pairs.append(("last run", f"{last.get('id')} {last.get('status')} "
                                  f"(slot {zone_time(last.get('slot'), tz)})"))
    for key in FIELDS[1:]:
        value = job.get(key)
        if key in _JOB_TIMES:
            pairs.append((key, zone_time(value, tz) if value else "-"))
        elif key == "command" and isinstance(value, str):
            pairs.append((key, f"{value}   (through /bin/sh -c)"))
        elif key in ("command", "interpreter") and isinstance(value, list):
            pairs.append((key, shlex.join(value)))  # argv words, quoted as a shell would
        elif key == "script" and value:
            pairs.append((key, f"({len(value)} characters of base64)"))
        elif key == "notify" and isinstance(value, dict):
            pairs += [(f"notify.{k}", _text(v)) for k, v in value.items()]
        else:
            pairs.append((key, _text(value)))
    for key in ("version", "created_at", "updated_at", "managed_by", "counts"):
        if key in job:
            value = job[key]
            pairs.append((key, zone_time(value, tz) if key in _JOB_TIMES else _text(value)))
    return _lines(pairs)


def run_text(run: dict) -> str:
    """The run, one field a line, then the replicated tails of its output."""
    pairs = []
    for key in _RUN_FIELDS:
        value = run.get(key)
        pairs.append((key, utc_time(value) if key in _RUN_TIMES else _text(value)))
    for stream in ("stdout", "stderr"):
        tail = run.get(f"{stream}_tail") or ""
        pairs.append((f"{stream} (tail)", tail.rstrip("\n") or "-"))
    return _lines(pairs)


def flagged(item: dict) -> str:
    """A job's or run's status with what marks it: why it was paused, backfill, slow, parent."""
    flags = [item["pause_reason"]] if item.get("pause_reason") else []
    flags += [f for f in ("backfill", "slow") if item.get(f)]
    flags += [f"after {item['triggered_by']}"] if item.get("triggered_by") else []
    return f"{item.get('status')} ({', '.join(flags)})" if flags else str(item.get("status"))
