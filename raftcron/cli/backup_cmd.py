"""`raftcron backup` and `raftcron restore`: a consistent copy of the state, and a new
cluster from it.

    raftcron backup FILE [--api URL] [--strong]
    raftcron restore FILE --data-dir DIR [--force]

`backup` asks any running peer for `GET /backup` (a SQLite online backup of its copy) and
writes it to FILE atomically, after checking it (schema version, `quick_check`). The route
needs the API token when the cluster has one (a backup holds every job's environment): it
comes from `$RAFTCRON_TOKEN`, never from a flag. `--strong` first makes the peer apply
everything committed (needs a leader); without it the copy is as of the peer's applied index.

`restore` prepares ONE peer's data directory from FILE (`raftcron.daemon.restore`): run it for
every peer of a new cluster with the same file, then start the peers. It refuses a data
directory that holds anything unless `--force`, a file that is not a raftcron backup, and a
backup from a newer schema. Every error prints one line on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from pathlib import Path

from raftcron.cli.client_cmds import API_ENV, TOKEN_ENV
from raftcron.client import DEFAULT_API, AuthError, Client
from raftcron.daemon.restore import check_backup, prepare_data_dir
from raftcron.errors import RaftcronError, ValidationError

BACKUP_HELP = ("Write a consistent copy of the cluster's state (jobs, nodes, run history) "
               "from any running peer to FILE.")
RESTORE_HELP = ("Prepare one peer's data directory from a backup; do it for every peer of a "
                "new cluster with the same FILE, then start the peers.")
#: Socket timeout of the download: the peer copies its state before the first byte comes.
DEFAULT_TIMEOUT = 300.0


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """The arguments of `raftcron backup` / `raftcron restore`."""
    parser.description = BACKUP_HELP if name == "backup" else RESTORE_HELP
    if name == "backup":
        parser.add_argument("file", metavar="FILE", help="where to write the backup")
        parser.add_argument("--api", help=f"any peer's API URL, or several, comma-separated "
                                          f"(default ${API_ENV} or "
                                          f"{DEFAULT_API})")
        parser.add_argument("--strong", action="store_true",
                            help="first make the peer apply everything committed")
        parser.add_argument("--http-timeout", type=float, default=DEFAULT_TIMEOUT,
                            metavar="SECONDS", help="socket timeout (default %(default)g)")
        parser.epilog = f"The API token comes from ${TOKEN_ENV}."
    else:
        parser.add_argument("file", metavar="FILE", help="a file written by `raftcron backup`")
        parser.add_argument("--data-dir", required=True, metavar="DIR",
                            help="the new peer's data directory (created if missing)")
        parser.add_argument("--force", action="store_true",
                            help="replace the raftcron state and raft log of a used data dir")
    parser.add_argument("--json", action="store_true",
                        help="print what was done as JSON (nothing else on stdout)")


def run(args: argparse.Namespace) -> int:
    return _backup(args) if args.command == "backup" else _restore(args)


def _backup(args: argparse.Namespace) -> int:
    dest = Path(args.file)
    if not dest.parent.is_dir():
        raise ValidationError(f"{dest.parent}: no such directory", field="file")
    base = args.api or os.environ.get(API_ENV) or DEFAULT_API
    token = os.environ.get(TOKEN_ENV) or None
    client = Client(base, token=token, timeout=args.http_timeout)
    partial = dest.with_name(f".{dest.name}.partial")
    try:
        try:
            size = client.download_backup(partial, consistency="strong" if args.strong else None)
        except AuthError as exc:
            hint = (f"{TOKEN_ENV} is not accepted" if token
                    else f"the cluster has an API token: set {TOKEN_ENV}")
            raise AuthError(f"backup needs the API token ({hint}); {base} said: "
                            f"{exc.message}", field="token") from None
        except OSError as exc:
            raise ValidationError(f"{partial}: cannot write ({exc.strerror})",
                                  field="file") from None
        index = check_backup(partial)
        os.replace(partial, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    if args.json:
        print(json.dumps({"api": client.base_url, "applied_index": index, "file": str(dest),
                          "bytes": size}))
    else:
        print(f"backup of {client.base_url} at applied index {index}: {dest} ({size} bytes)")
    return 0


def _restore(args: argparse.Namespace) -> int:
    try:
        done = prepare_data_dir(Path(args.file), Path(args.data_dir), force=args.force)
    except OSError as exc:
        raise RaftcronError(f"{args.data_dir}: cannot write ({exc.strerror})",
                            field="data_dir") from None
    if args.json:
        print(json.dumps({"jobs": done.jobs, "nodes": done.nodes, "runs": done.runs,
                          "backup_index": done.backup_index,
                          "data_dir": str(done.state_file.parent)}))
        return 0
    print(f"restored {done.jobs} jobs, {done.nodes} nodes and {done.runs} runs (backup taken "
          f"at index {done.backup_index}) into {done.state_file.parent}")
    print("restore every peer of the new cluster from the same file, then start them")
    return 0
