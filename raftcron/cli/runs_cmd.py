"""`raftcron runs ...`, and waiting on a run (`jobs run --wait`, `runs logs --follow`).

`runs logs RUN --follow` polls the run and its whole output (`GET /runs/{id}/output`, from the
peer that runs it) and prints what is new, complete lines while the run is active and the rest
once it has ended, stdout on stdout and stderr on stderr; it exits 0 if the run succeeded and
1 otherwise (the outcome on stderr). With `--json` each new piece is one JSON line
`{"stream", "text"}` and the last line is `{"run": {...}}`.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from raftcron.cli import exits, views
from raftcron.cli.output import (
    emit,
    print_json,
    print_json_line,
    run_outcome,
    stderr_tail,
    table,
    utc_time,
)
from raftcron.client import Client
from raftcron.errors import NotFoundError, UnavailableError
from raftcron.model import TERMINAL_STATUSES

#: Seconds between two polls of a run (a CLI waiting on a run: poll gently).
POLL = 0.3
STREAMS = ("stdout", "stderr")


def wait_run(client: Client, run_id: str, timeout: float) -> dict:
    """Poll the run until it is terminal, or UnavailableError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        run = client.get_run(run_id)
        if run.get("status") in TERMINAL_STATUSES:
            return run
        if time.monotonic() > deadline:
            raise UnavailableError(f"run {run_id} still {run.get('status')} after {timeout:g}s "
                                   f"(raftcron runs show {run_id} tells how it goes on)")
        time.sleep(POLL)


def _output(client: Client, run_id: str) -> dict[str, str] | None:
    """Both streams so far, or None while there is none (not started, peer unreachable)."""
    try:
        out = client.run_output(run_id)
    except (NotFoundError, UnavailableError):
        return None
    return out if isinstance(out, dict) else None


def follow(client: Client, run_id: str, streams: tuple[str, ...], as_json: bool,
           timeout: float) -> dict:
    """Print the run's output as it grows until the run ends; return the ended run."""
    printed = dict.fromkeys(streams, 0)
    deadline = time.monotonic() + timeout
    while True:
        run = client.get_run(run_id)
        done = run.get("status") in TERMINAL_STATUSES
        out = _output(client, run_id)  # read after the status: complete once done
        if out is None and done and not any(printed.values()):
            out = {s: run.get(f"{s}_tail") or "" for s in STREAMS}  # the output is gone
        for stream in streams:
            text = (out or {}).get(stream) or ""
            new = text[printed[stream]:]
            if not done:  # whole lines only while it runs (a line may still grow)
                new = new[:new.rfind("\n") + 1]
            if not new:
                continue
            printed[stream] += len(new)
            if as_json:
                print_json_line({"stream": stream, "text": new})
            else:
                target = sys.stdout if stream == "stdout" else sys.stderr
                target.write(new)
                target.flush()
        if done:
            return run
        if time.monotonic() > deadline:
            raise UnavailableError(f"run {run_id} still {run.get('status')} after {timeout:g}s")
        time.sleep(POLL)


def runs(client: Client, args: argparse.Namespace, as_json: bool) -> int:
    act = args.action
    if act == "list":
        page = client.list_runs(job=args.job, status=args.status, peer=args.peer,
                                since=args.since, until=args.until, limit=args.limit)
        if as_json:
            print_json(page)
            return 0
        rows = [[r["id"], r.get("job"), utc_time(r.get("slot")), r.get("attempt"),
                 r.get("target") or r.get("peer"), views.flagged(r),
                 "-" if r.get("exit_code") is None else r["exit_code"]] for r in page["items"]]
        print(table(rows, ["ID", "JOB", "SLOT (UTC)", "ATTEMPT", "ON", "STATUS", "EXIT"]))
        return 0
    if act == "show":
        run = client.get_run(args.run_id)
        emit(as_json, run, views.run_text(run))
        return 0
    if act == "logs":
        return _logs(client, args, as_json)
    if act == "cancel":
        run = client.cancel_run(args.run_id)
        emit(as_json, run, f"cancelling run {args.run_id}")
        return 0
    raise AssertionError(act)  # pragma: no cover - argparse only gives the actions above


def _logs(client: Client, args: argparse.Namespace, as_json: bool) -> int:
    streams: tuple[str, ...] = (args.stream,) if args.stream else STREAMS
    if args.follow:
        run = follow(client, args.run_id, streams, as_json, args.follow_timeout)
        if as_json:
            print_json_line({"run": run})
        else:
            print(run_outcome(run), file=sys.stderr)
        return exits.OK if run.get("status") == "succeeded" else exits.RUN_FAILED
    out: Any = client.run_output(args.run_id, stream=args.stream)
    if as_json:
        print_json({args.stream: out} if isinstance(out, str) else out)
    elif isinstance(out, str):
        sys.stdout.write(out)
    else:
        sys.stdout.write(out.get("stdout", ""))
        sys.stdout.flush()
        sys.stderr.write(out.get("stderr", ""))
    return 0


def print_wait_outcome(run: dict, as_json: bool) -> int:
    """`jobs run --wait`'s last word: the outcome (with its reason), and the exit status."""
    ok = run.get("status") == "succeeded"
    if as_json:
        print_json(run)
    else:
        print(run_outcome(run))
        if not ok:
            stderr_tail(run)
    return exits.OK if ok else exits.RUN_FAILED
