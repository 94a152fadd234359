"""`raftcron jobs apply DIR|FILE`: create or replace the jobs of job files in one go.

The files are the `--jobs-dir` format (`.toml`/`.json`, `raftcron.config.files`): a
directory is every job file in it, in file-name order. Every file is loaded and validated
first (any bad file: exit 2, nothing sent, each bad file named); the jobs then go through
`POST /jobs:batch`, 1,000 per request, each request all or nothing. A refused request names
the job's file and field; the jobs of earlier requests stay applied and are counted on
stderr. Prints a summary (`applied 12 jobs from jobs.d: 3 created, 9 replaced`) or, with
`--json`, the items the API answered.

Unlike `--jobs-dir`, the jobs applied here are ordinary API jobs (not file-managed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from raftcron.client import Client
from raftcron.client.http import BATCH
from raftcron.config.files import load_job_file, load_jobs_dir_files
from raftcron.errors import RaftcronError
from raftcron.model import job_to_dict


def load(path: str) -> tuple[list[dict], list[str]]:
    """The job bodies of `path` (a file or a directory) and the file of each."""
    where = Path(path)
    if where.is_dir():
        pairs = load_jobs_dir_files(where)
        return [job_to_dict(j) for j, _ in pairs], [str(where / f) for _, f in pairs]
    return [job_to_dict(load_job_file(where))], [str(where)]


def apply(client: Client, args: argparse.Namespace, as_json: bool) -> int:
    """Run `raftcron jobs apply PATH`."""
    bodies, files = load(args.path)
    items: list[dict] = []
    for i in range(0, len(bodies), BATCH):
        try:
            items += client.apply_jobs(bodies[i:i + BATCH])
        except RaftcronError as exc:
            field = exc.field or ""
            if field.startswith("jobs["):
                index = int(field[5:field.index("]")]) + i
                rest = field[field.index("]") + 1:].lstrip(".")
                message = exc.message.split(": ", 1)[-1]
                exc = RaftcronError(f"{files[index]}: {message}", field=rest or None)
            if items:
                print(f"raftcron: applied before the failure: {len(items)} job(s)",
                      file=sys.stderr)
            raise exc from None
    if as_json:
        print(json.dumps(items, indent=2, sort_keys=True, ensure_ascii=False))
        return 0
    created = sum(1 for it in items if it.get("created"))
    print(f"applied {len(items)} job{'s' if len(items) != 1 else ''} from {args.path}: "
          f"{created} created, {len(items) - created} replaced")
    return 0
