"""`raftcron jobs|runs|nodes|status`: the client subcommands, over HTTP only.

    raftcron jobs add NAME --schedule EXPR [--tz ZONE] [options] -- COMMAND [ARG...]
    raftcron jobs edit NAME --set KEY=VALUE [--unset KEY]
    raftcron jobs list | show NAME | pause NAME | resume NAME | run NAME [--wait] | rm NAME
    raftcron jobs history NAME [--limit N]
    raftcron runs list [--job NAME] [--status S] | show RUN_ID | logs RUN_ID [--follow]
    raftcron runs cancel RUN_ID
    raftcron nodes list | history NAME [--limit N]
    raftcron status

`--api URL[,URL...]` (default `$RAFTCRON_API`, else http://127.0.0.1:8101): a list of peers
is tried in turn. The token comes from `$RAFTCRON_TOKEN` (the write or admin token), else
`$RAFTCRON_READ_TOKEN` (reads only), never from a flag. Without a token, a job's `env` values
show as `***`. Every error prints one line on stderr and exits with the status of its kind
(`raftcron.cli.exits`); `--json` prints the API's JSON only, instead of a table or a line.
The actions live in `jobs_cmd` and `runs_cmd`; this module builds the parsers.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from raftcron.cli import jobs_cmd, runs_cmd
from raftcron.cli.history_cmd import add_history_action, history
from raftcron.cli.job_options import add_edit_options, add_job_options
from raftcron.cli.output import print_json, table
from raftcron.client import DEFAULT_API, Client

__all__ = ["add_api_arguments", "add_arguments", "client_from_args", "print_json", "run"]

API_ENV = "RAFTCRON_API"
TOKEN_ENV = "RAFTCRON_TOKEN"
READ_TOKEN_ENV = "RAFTCRON_READ_TOKEN"
#: Bounds of `--http-timeout` and `jobs run --wait-timeout`, in seconds.
MAX_HTTP_TIMEOUT = 3600.0
MAX_WAIT_TIMEOUT = 7 * 86400.0


class _CommandParser(argparse.ArgumentParser):
    """`jobs add`: everything after `--` (or any leftover word) is the job's command.

    argparse cannot take a variadic positional after options and `--` once a positional was
    matched, so the command is split off before parsing.
    """

    def parse_known_args(self, args: Sequence[str] | None = None,
                         namespace: argparse.Namespace | None = None) -> Any:
        words = list(sys.argv[1:] if args is None else args)
        command: list[str] = []
        if "--" in words:
            cut = words.index("--")
            words, command = words[:cut], words[cut + 1:]
        ns, extra = super().parse_known_args(words, namespace)
        if getattr(ns, "takes_command", False):
            unknown = [w for w in extra if w.startswith("-")]
            if unknown:
                self.error(f"unrecognized arguments: {' '.join(unknown)}")
            ns.cmd = extra + command
            return ns, []
        return ns, extra + (["--", *command] if command else [])


def add_api_arguments(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subparser's default must not overwrite a value given before the action.
    parser.add_argument("--api", default=argparse.SUPPRESS, metavar="URL[,URL...]",
                        help=f"API base URL of a peer, or of several, comma-separated, tried "
                             f"in turn (default ${API_ENV} or {DEFAULT_API})")
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON only (nothing else on stdout)")
    parser.add_argument("--http-timeout", type=_seconds(MAX_HTTP_TIMEOUT),
                        default=argparse.SUPPRESS,
                        help=f"seconds per request (default 10, at most {MAX_HTTP_TIMEOUT:g})")


def _seconds(maximum: float) -> Callable[[str], float]:
    """An argparse type: a finite number of seconds in (0, maximum]; argparse names the
    option and exits 2 otherwise (a socket given inf or NaN raises instead of waiting)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
        if not math.isfinite(value) or not 0 < value <= maximum:
            raise argparse.ArgumentTypeError(
                f"expected seconds from more than 0 to {maximum:g}, got {text!r}")
        return value
    parse.__name__ = "seconds"
    return parse


def add_actions(parser: argparse.ArgumentParser,
                **subparsers: Any) -> Callable[..., argparse.ArgumentParser]:
    """Give `parser` (with the API options) its ACTION subcommands; returns
    `action(word, help, *positionals)`, which adds one with the API options too (they may
    come before or after the action). `subparsers` go to `add_subparsers`."""
    add_api_arguments(parser)
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION", **subparsers)

    def action(word: str, help_text: str, *args: str) -> argparse.ArgumentParser:
        p = sub.add_parser(word, help=help_text)
        add_api_arguments(p)
        for arg in args:
            p.add_argument(arg)
        return p

    return action


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """The arguments of `raftcron NAME` (NAME in jobs, runs, nodes, status)."""
    if name == "status":
        add_api_arguments(parser)
        return
    action = add_actions(parser, parser_class=_CommandParser)
    if name == "jobs":
        add_job_options(action("add", "create a job (or replace it with --replace)"))
        add_edit_options(action("edit", "change some fields of a job (the others stay)"))
        p = action("list", "list jobs")
        p.add_argument("--status", choices=("scheduled", "paused", "finished"),
                       help="only jobs with this status")
        p.add_argument("--role", help="only jobs with this role")
        p.add_argument("--label", metavar="KEY:VALUE",
                       help="only jobs with this label (KEY alone: with the label at all)")
        action("show", "show one job", "name")
        add_history_action(action, "job")
        action("pause", "pause a job", "name")
        action("resume", "resume a job", "name")
        p = action("run", "run a job now", "name")
        p.add_argument("--wait", action="store_true",
                       help="wait for the run to end; print its outcome and reason")
        p.add_argument("--wait-timeout", type=_seconds(MAX_WAIT_TIMEOUT), default=300.0,
                       help="give up waiting after this many seconds (default 300)")
        p = action("backfill", "run every slot of a past time range, oldest first", "name")
        p.add_argument("--from", dest="start", required=True, metavar="TIME",
                       help="the range's start (ISO 8601), inclusive")
        p.add_argument("--to", dest="end", required=True, metavar="TIME",
                       help="the range's end (ISO 8601), exclusive")
        p.add_argument("--cap", type=int, help="at most this many slots (default 1000)")
        action("rm", "delete a job", "name")
        action("apply", "create or replace the jobs of a job file or a directory of them "
               "(all of a batch or none)", "path")
    elif name == "runs":
        p = action("list", "list runs, newest first")
        for opt, text in (("--job", "only runs of this job"), ("--status", "only runs "
                          "with this status"), ("--peer", "only runs executed by this peer"),
                          ("--since", "only runs slotted at or after this time (ISO 8601)"),
                          ("--until", "only runs slotted at or before this time")):
            p.add_argument(opt, help=text)
        p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
        action("show", "show one run", "run_id")
        p = action("logs", "print a run's whole output", "run_id")
        p.add_argument("--stream", choices=("stdout", "stderr"), help="only this stream")
        p.add_argument("--follow", "-f", action="store_true",
                       help="print the output as it grows until the run ends; exit 0 only "
                            "if it succeeded")
        p.add_argument("--follow-timeout", type=_seconds(MAX_WAIT_TIMEOUT), default=86400.0,
                       help="stop following after this many seconds (default a day)")
        action("cancel", "cancel an active run", "run_id")
    elif name == "nodes":
        action("list", "list peers and SSH nodes")
        add_history_action(action, "node")


def client_from_args(args: argparse.Namespace) -> Client:
    base = getattr(args, "api", None) or os.environ.get(API_ENV) or DEFAULT_API
    token = os.environ.get(TOKEN_ENV) or os.environ.get(READ_TOKEN_ENV) or None
    return Client(base, token=token,
                  timeout=getattr(args, "http_timeout", None) or 10.0)


def _nodes(client: Client, args: argparse.Namespace, as_json: bool) -> int:
    if args.action == "history":
        return history(client.node_history, args, as_json)
    items = client.list_nodes()["items"]
    if as_json:
        print_json(items)
        return 0

    def load(n: dict) -> str:
        return "-" if n.get("load") is None else f"{round(n['load'] * 100)}%"

    rows = [[n["name"] + (" *" if n.get("leader") else ""), n.get("kind"),
             ",".join(n.get("roles") or []), "up" if n.get("healthy") else "down", load(n),
             n.get("active_runs", 0)] for n in items]
    print(table(rows, ["NAME", "KIND", "ROLES", "HEALTH", "LOAD", "ACTIVE"]))
    return 0


def _status(client: Client, args: argparse.Namespace, as_json: bool) -> int:
    st = client.status()
    if as_json:
        print_json(st)
        return 0
    print(f"peer     {st.get('id')} ({st.get('role')})")
    print(f"leader   {st.get('leader') or 'none'}")
    print(f"term     {st.get('term')}")
    print(f"index    commit {st.get('commit_index')} applied {st.get('applied_index')}"
          f" (lag {st.get('apply_lag', 0)})")
    peers = st.get("peers") or []
    if peers:
        print("peers")
        for p in peers:
            state = "reachable" if p.get("reachable") else "unreachable"
            print(f"  {p.get('id')}  {state}")
    return 0


_HANDLERS: dict[str, Callable[[Client, argparse.Namespace, bool], int]] = {
    "jobs": jobs_cmd.jobs, "runs": runs_cmd.runs, "nodes": _nodes, "status": _status,
}


def run(args: argparse.Namespace) -> int:
    """Run `raftcron jobs|runs|nodes|status ...`; an error raises (`raftcron.cli.main`
    prints it and exits with its status)."""
    client = client_from_args(args)
    return _HANDLERS[args.command](client, args, bool(getattr(args, "json", False)))
