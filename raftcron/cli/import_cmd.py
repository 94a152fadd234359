"""`raftcron import-crontab FILE`: a classic crontab becomes jobs (docs/cli.md).

    raftcron import-crontab FILE [--user-field | --no-user-field] [--prefix NAME] [--tz ZONE]
                            [--dry-run] [--api URL] [--json]

All or nothing: the whole file is parsed and validated first (`raftcron.config.crontab`), then the
names are checked against the jobs that already exist, and only then are the jobs created,
through `POST /jobs:batch` (create-only, 1,000 jobs per request, each request all or
nothing). Any problem before creating exits with status 2 and nothing created, every bad
line named as `FILE:LINE: message`. If a request is refused (another writer took a name in
between, or the server refuses a job), nothing of it is created; the jobs created by earlier
requests (past 1,000 jobs) are named on stderr and the exit status is 2. `--dry-run`
prints the job resources as a JSON array and calls no API.
The API and token are found as for the other client subcommands (`client_cmds`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from raftcron.cli.client_cmds import add_api_arguments, client_from_args, print_json
from raftcron.client.http import BATCH
from raftcron.config.crontab import CrontabJob, is_system_crontab, parse_crontab
from raftcron.errors import ConfigError, RaftcronError


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """The arguments of `raftcron import-crontab`."""
    add_api_arguments(parser)
    parser.add_argument("file", help="the crontab to import")
    parser.add_argument("--user-field", action=argparse.BooleanOptionalAction, default=None,
                        help="lines have a user field after the schedule (default: only for "
                             "/etc/crontab and /etc/cron.d/*)")
    parser.add_argument("--prefix", help="job name prefix (default: the file's stem)")
    parser.add_argument("--tz", help="time zone of the jobs before any CRON_TZ= line "
                                     "(default: the API's, UTC)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the jobs as JSON, create nothing")


def load(args: argparse.Namespace) -> list[CrontabJob]:
    """Read and parse `args.file`; `ConfigError`/`CrontabError` naming the file on failure."""
    try:
        with open(args.file, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"cannot read: {reason}", file=args.file, field="file") from None
    user_field = args.user_field
    if user_field is None:
        user_field = is_system_crontab(os.path.abspath(args.file))
    return parse_crontab(text, file=args.file, user_field=user_field, prefix=args.prefix,
                         tz=args.tz)


def _create(args: argparse.Namespace, jobs: list[CrontabJob]) -> int:
    client = client_from_args(args)
    wanted = {j.body["name"]: j.line for j in jobs}
    taken = sorted(j["name"] for j in client.iter_jobs() if j.get("name") in wanted)
    if taken:
        for name in taken:
            print(f"raftcron: {args.file}:{wanted[name]}: job {name!r} already exists",
                  file=sys.stderr)
        print("raftcron: nothing imported", file=sys.stderr)
        return 2
    # One `POST /jobs:batch` per 1,000 jobs, create-only: a name another writer took in
    # between refuses its whole batch, so nothing of it is created.
    created: list[dict] = []
    bodies = [j.body for j in jobs]
    for i in range(0, len(bodies), BATCH):
        try:
            created += client.apply_jobs(bodies[i:i + BATCH], create_only=True)
        except RaftcronError as exc:
            job = jobs[i + _index(exc.field)]
            message = exc.message.split(": ", 1)[-1] if exc.field else exc.message
            print(f"raftcron: {args.file}:{job.line}: job {job.body['name']!r}: {message}",
                  file=sys.stderr)
            done = ", ".join(c["name"] for c in created) or "none"
            print(f"raftcron: created before the failure: {done}", file=sys.stderr)
            return 2
    if getattr(args, "json", False):
        print_json(created)
    else:
        for c in created:
            print(f"created job {c['name']}")
        print(f"imported {len(created)} job{'s' if len(created) != 1 else ''} from {args.file}")
    return 0


def _index(field: str | None) -> int:
    """The job index in a `jobs[i].field` error field (0 when there is none)."""
    if field and field.startswith("jobs["):
        return int(field[5:field.index("]")])
    return 0


def run(args: argparse.Namespace) -> int:
    """Run `raftcron import-crontab`; exit status 2 on any error, with nothing imported."""
    try:
        jobs = load(args)
        if args.dry_run:
            print(json.dumps([j.body for j in jobs], indent=2, sort_keys=True,
                             ensure_ascii=False))
            return 0
        return _create(args, jobs)
    except RaftcronError as exc:
        for line in exc.message.splitlines():
            print(f"raftcron: {line}", file=sys.stderr)
        return 2
