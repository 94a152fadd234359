"""`raftcron jobs ...`: what each action sends and prints.

A write whose outcome is unknown (sent, never confirmed: `OutcomeUnknownError`, exit 7) is
reported as such with the command that tells whether it was applied; the client already
retried it at every peer with the same Idempotency-Key.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

from raftcron.cli import runs_cmd, views
from raftcron.cli.history_cmd import history
from raftcron.cli.job_options import job_body, patch_body
from raftcron.cli.output import emit, print_json, table, zone_time
from raftcron.client import Client
from raftcron.errors import OutcomeUnknownError

T = TypeVar("T")


def checked(check: str, write: Callable[[], T]) -> T:
    """`write()`, with the command that tells its outcome added to an unknown outcome."""
    try:
        return write()
    except OutcomeUnknownError as exc:
        raise OutcomeUnknownError(
            f"outcome unknown: {exc.message}. Check with `{check}` before trying again "
            "(the retries used one Idempotency-Key, so nothing was applied twice)",
            field=exc.field) from None


def _schedule_text(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _next_line(job: dict) -> str | None:
    runs = job.get("next_runs") or []
    return f"next run: {zone_time(runs[0], job.get('tz'))}" if runs else None


def _add(client: Client, args: argparse.Namespace, as_json: bool) -> int:
    body = job_body(args)
    show = f"raftcron jobs show {args.name}"
    if args.replace:
        job, created = checked(show, lambda: client.put_job(args.name, body))
        verb = "created" if created else "replaced"
    else:
        job = checked(show, lambda: client.create_job(body))
        verb = "created"
    if as_json:
        print_json(job)
        return 0
    print(f"{verb} job {job['name']}")
    line = _next_line(job)
    if line:
        print(line)
    return 0


def _edit(client: Client, args: argparse.Namespace, as_json: bool) -> int:
    patch = patch_body(args)
    job = checked(f"raftcron jobs show {args.name}", lambda: client.patch_job(args.name, patch))
    if as_json:
        print_json(job)
        return 0
    print(f"changed job {job['name']} (version {job.get('version')})")
    line = _next_line(job)
    if line:
        print(line)
    return 0


def _list(client: Client, args: argparse.Namespace, as_json: bool) -> int:
    items = list(client.iter_jobs(status=args.status, role=args.role, label=args.label))
    if as_json:
        print_json(items)
        return 0
    rows = [[j["name"], views.flagged(j), _schedule_text(j.get("schedule")),
             zone_time(j.get("next_run"), j.get("tz")),
             (j.get("last_run") or {}).get("status", "-")] for j in items]
    print(table(rows, ["NAME", "STATUS", "SCHEDULE", "NEXT RUN (job's time zone)", "LAST"]))
    return 0


def _run(client: Client, args: argparse.Namespace, as_json: bool) -> int:
    # A manual run is not idempotent across invocations: say how to look before retrying.
    run = checked(f"raftcron runs list --job {args.name}", lambda: client.run_job(args.name))
    if not args.wait:
        on = run.get("target") or run.get("peer")
        emit(as_json, run, f"run {run['id']} of {args.name} on {on}")
        return 0
    run = runs_cmd.wait_run(client, run["id"], args.wait_timeout)
    return runs_cmd.print_wait_outcome(run, as_json)


def jobs(client: Client, args: argparse.Namespace, as_json: bool) -> int:
    act = args.action
    name = getattr(args, "name", None)
    show = f"raftcron jobs show {name}"
    if act == "add":
        return _add(client, args, as_json)
    if act == "edit":
        return _edit(client, args, as_json)
    if act == "list":
        return _list(client, args, as_json)
    if act == "show":
        job = client.get_job(args.name)
        emit(as_json, job, views.job_text(job))
        return 0
    if act == "history":
        return history(client.job_history, args, as_json)
    if act in ("pause", "resume"):
        write = client.pause_job if act == "pause" else client.resume_job
        job = checked(show, lambda: write(args.name))
        emit(as_json, job, f"job {args.name} is {job.get('status')}")
        return 0
    if act == "run":
        return _run(client, args, as_json)
    if act == "backfill":
        bf = checked(f"raftcron runs list --job {args.name}",
                     lambda: client.backfill_job(args.name, args.start, args.end, args.cap))
        emit(as_json, bf, f"backfill {bf['id']} of {args.name}: {bf['total']} slots")
        return 0
    if act == "apply":
        from raftcron.cli import apply_cmd  # job files: only this action reads them

        return apply_cmd.apply(client, args, as_json)
    if act == "rm":
        out = checked(show, lambda: client.delete_job(args.name))
        emit(as_json, out, f"deleted job {args.name}")
        return 0
    raise AssertionError(act)  # pragma: no cover - argparse only gives the actions above
