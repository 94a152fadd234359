"""`raftcron jobs|runs|nodes|status`: the client subcommands, over HTTP only.

    raftcron jobs add NAME --schedule EXPR [--tz ZONE] [options] -- COMMAND [ARG...]
    raftcron jobs list | show NAME | pause NAME | resume NAME | run NAME [--wait] | rm NAME
    raftcron runs list [--job NAME] [--status S] | show RUN_ID | logs RUN_ID | cancel RUN_ID
    raftcron nodes list
    raftcron status

`--api URL` (default `$RAFTCRON_API`, else http://127.0.0.1:8101); the token comes from
`$RAFTCRON_TOKEN` (the write or admin token), else `$RAFTCRON_READ_TOKEN` (reads only),
never from a flag. Without a token, a job's `env` values show as `***`. Every error prints
one line on stderr and exits with status 2; `--json` prints the API's JSON instead of a table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from raftcron.cli.job_options import add_window_options, window_fields
from raftcron.client import DEFAULT_API, Client
from raftcron.errors import RaftcronError, ValidationError
from raftcron.model import TERMINAL_STATUSES

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
    parser.add_argument("--api", default=argparse.SUPPRESS,
                        help=f"API base URL (default ${API_ENV} or {DEFAULT_API})")
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON")
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


def _add_job_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("name")
    p.add_argument("--schedule", action="append",
                   help="cron (5 or 6 fields), @every 5m, @at TIME, H H * * *; repeat it for "
                        "several schedules (the union of their slots)")
    p.add_argument("--tz", help="IANA time zone (default UTC)")
    p.add_argument("--description")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--cwd")
    p.add_argument("--user", help="run as this user (needs the admin token)")
    p.add_argument("--timeout", dest="job_timeout", metavar="DURATION",
                   help="the job's timeout, e.g. 2h")
    p.add_argument("--retries", type=int)
    p.add_argument("--concurrency", choices=("allow", "forbid", "replace", "queue", "queue_all"))
    add_window_options(p)
    p.add_argument("--catchup", choices=("latest", "all", "none"))
    p.add_argument("--jitter", metavar="DURATION")
    p.add_argument("--hosts", choices=("any", "all"))
    p.add_argument("--roles", help="comma-separated roles")
    p.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--max-runs", type=int)
    p.add_argument("--paused", action="store_true")
    p.add_argument("--shell", action="store_true",
                   help="run the command words as one string through /bin/sh -c")
    p.add_argument("--file", help="a job file (JSON or TOML) instead of the options")
    p.add_argument("--replace", action="store_true", help="replace the job if it exists")
    p.set_defaults(takes_command=True, cmd=[])


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """The arguments of `raftcron NAME` (NAME in jobs, runs, nodes, status)."""
    add_api_arguments(parser)
    if name == "status":
        return
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION",
                                parser_class=_CommandParser)

    def action(word: str, help_text: str, *args: str) -> argparse.ArgumentParser:
        p = sub.add_parser(word, help=help_text)
        add_api_arguments(p)
        for arg in args:
            p.add_argument(arg)
        return p

    if name == "jobs":
        _add_job_options(action("add", "create a job (or replace it with --replace)"))
        p = action("list", "list jobs")
        p.add_argument("--status", choices=("scheduled", "paused", "finished"))
        p.add_argument("--role")
        p.add_argument("--label", metavar="KEY:VALUE")
        action("show", "show one job", "name")
        action("pause", "pause a job", "name")
        action("resume", "resume a job", "name")
        p = action("run", "run a job now", "name")
        p.add_argument("--wait", action="store_true", help="wait for the run to end")
        p.add_argument("--wait-timeout", type=_seconds(MAX_WAIT_TIMEOUT), default=300.0)
        action("rm", "delete a job", "name")
        action("apply", "create or replace the jobs of a job file or a directory of them "
               "(all of a batch or none)", "path")
    elif name == "runs":
        p = action("list", "list runs, newest first")
        for opt in ("--job", "--status", "--peer", "--since", "--until"):
            p.add_argument(opt)
        p.add_argument("--limit", type=int, default=50)
        action("show", "show one run", "run_id")
        p = action("logs", "print a run's whole output", "run_id")
        p.add_argument("--stream", choices=("stdout", "stderr"))
        action("cancel", "cancel an active run", "run_id")
    elif name == "nodes":
        action("list", "list peers and SSH nodes")


def client_from_args(args: argparse.Namespace) -> Client:
    base = getattr(args, "api", None) or os.environ.get(API_ENV) or DEFAULT_API
    token = os.environ.get(TOKEN_ENV) or os.environ.get(READ_TOKEN_ENV) or None
    return Client(base, token=token,
                  timeout=getattr(args, "http_timeout", None) or 10.0)


def _pairs(values: list[str], option: str) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValidationError(f"{option}: expected KEY=VALUE, got {item!r}", field=option)
        out[key] = value
    return out


def job_body(args: argparse.Namespace) -> dict[str, Any]:
    """The job resource that `jobs add` sends (only the fields given)."""
    if args.file:
        from raftcron import model  # the file formats live in the config layer
        from raftcron.config import cluster as config

        body = model.job_to_dict(config.load_job_file(args.file))
        body["name"] = args.name
        return body
    if not args.schedule:
        raise ValidationError("--schedule: needed (or --file)", field="schedule")
    if not args.cmd:
        raise ValidationError("command: give the command after '--'", field="command")
    schedule = args.schedule[0] if len(args.schedule) == 1 else list(args.schedule)
    body: dict[str, Any] = {"name": args.name, "schedule": schedule,
                            "command": " ".join(args.cmd) if args.shell else list(args.cmd)}
    simple = {"tz": args.tz, "description": args.description, "cwd": args.cwd,
              "user": args.user, "timeout": args.job_timeout, "retries": args.retries,
              "concurrency": args.concurrency, "catchup": args.catchup, "jitter": args.jitter,
              "hosts": args.hosts, "max_runs": args.max_runs, **window_fields(args)}
    body.update({k: v for k, v in simple.items() if v is not None})
    if args.env:
        body["env"] = _pairs(args.env, "--env")
    if args.label:
        body["labels"] = _pairs(args.label, "--label")
    if args.roles:
        body["roles"] = [r.strip() for r in args.roles.split(",") if r.strip()]
    if args.paused:
        body["paused"] = True
    return body


def _table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [header] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
                     for r in cells)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


def _emit(as_json: bool, value: Any, line: str) -> None:
    """The API's JSON with --json, else one human line."""
    if as_json:
        print_json(value)
    else:
        print(line)


def _schedule_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _jobs(client: Client, args: argparse.Namespace, as_json: bool) -> int:
    act = args.action
    if act == "add":
        body = job_body(args)
        if args.replace:
            job, created = client.put_job(args.name, body)
            print(f"{'created' if created else 'replaced'} job {job['name']}")
        else:
            job = client.create_job(body)
            print(f"created job {job['name']}")
        if as_json:
            print_json(job)
        elif job.get("next_runs"):
            print(f"next run: {job['next_runs'][0]}")
        return 0
    if act == "list":
        items = list(client.iter_jobs(status=args.status, role=args.role, label=args.label))
        if as_json:
            print_json(items)
            return 0
        rows = [[j["name"], j.get("status"), _schedule_text(j.get("schedule")),
                 j.get("next_run") or "-", (j.get("last_run") or {}).get("status", "-")]
                for j in items]
        print(_table(rows, ["NAME", "STATUS", "SCHEDULE", "NEXT RUN", "LAST"]))
        return 0
    if act == "show":
        print_json(client.get_job(args.name))
        return 0
    if act in ("pause", "resume"):
        job = (client.pause_job if act == "pause" else client.resume_job)(args.name)
        _emit(as_json, job, f"job {args.name} is {job.get('status')}")
        return 0
    if act == "run":
        run = client.run_job(args.name)
        if not args.wait:
            on = run.get("target") or run.get("peer")
            _emit(as_json, run, f"run {run['id']} of {args.name} on {on}")
            return 0
        run = _wait_run(client, run["id"], args.wait_timeout)
        if as_json:
            print_json(run)
        else:
            print(f"run {run['id']} {run['status']} (exit {run.get('exit_code')})")
        return 0 if run["status"] == "succeeded" else 1
    if act == "apply":
        from raftcron.cli import apply_cmd  # job files: only this action reads them

        return apply_cmd.apply(client, args, as_json)
    if act == "rm":
        client.delete_job(args.name)
        print(f"deleted job {args.name}")
        return 0
    raise AssertionError(act)  # pragma: no cover - argparse only gives the actions above


def _wait_run(client: Client, run_id: str, timeout: float) -> dict:
    """Poll the run until it is terminal, or UnavailableError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        run = client.get_run(run_id)
        if run.get("status") in TERMINAL_STATUSES:
            return run
        if time.monotonic() > deadline:
            from raftcron.errors import UnavailableError

            raise UnavailableError(f"run {run_id} still {run.get('status')} after {timeout:g}s")
        time.sleep(0.2)  # a CLI waiting on a run: poll gently


def _runs(client: Client, args: argparse.Namespace, as_json: bool) -> int:
    act = args.action
    if act == "list":
        page = client.list_runs(job=args.job, status=args.status, peer=args.peer,
                                since=args.since, until=args.until, limit=args.limit)
        if as_json:
            print_json(page)
            return 0
        rows = [[r["id"], r.get("job"), r.get("slot"), r.get("attempt"), r.get("target")
                 or r.get("peer"), r.get("status"), r.get("exit_code")] for r in page["items"]]
        print(_table(rows, ["ID", "JOB", "SLOT", "ATTEMPT", "ON", "STATUS", "EXIT"]))
        return 0
    if act == "show":
        print_json(client.get_run(args.run_id))
        return 0
    if act == "logs":
        out = client.run_output(args.run_id, stream=args.stream)
        if isinstance(out, str):
            sys.stdout.write(out)
        elif as_json:
            print_json(out)
        else:
            sys.stdout.write(out.get("stdout", ""))
            sys.stdout.flush()
            sys.stderr.write(out.get("stderr", ""))
        return 0
    if act == "cancel":
        run = client.cancel_run(args.run_id)
        _emit(as_json, run, f"cancelling run {args.run_id}")
        return 0
    raise AssertionError(act)  # pragma: no cover


def _nodes(client: Client, args: argparse.Namespace, as_json: bool) -> int:
    items = client.list_nodes()["items"]
    if as_json:
        print_json(items)
        return 0

    def load(n: dict) -> str:
        return "-" if n.get("load") is None else f"{round(n['load'] * 100)}%"

    rows = [[n["name"] + (" *" if n.get("leader") else ""), n.get("kind"),
             ",".join(n.get("roles") or []), "up" if n.get("healthy") else "down", load(n),
             n.get("active_runs", 0)] for n in items]
    print(_table(rows, ["NAME", "KIND", "ROLES", "HEALTH", "LOAD", "ACTIVE"]))
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
    "jobs": _jobs, "runs": _runs, "nodes": _nodes, "status": _status,
}


def run(args: argparse.Namespace) -> int:
    """Run `raftcron jobs|runs|nodes|status ...`; exit status 2 on any error."""
    try:
        client = client_from_args(args)
        return _HANDLERS[args.command](client, args, bool(getattr(args, "json", False)))
    except RaftcronError as exc:
        message = exc.message
        if exc.field and exc.field not in message:
            message = f"{exc.field}: {message}"
        print(f"raftcron: {message}", file=sys.stderr)
        return 2
