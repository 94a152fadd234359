"""`raftcron blackouts`: the cluster-wide blackout windows, over HTTP only.

    raftcron blackouts list
    raftcron blackouts show NAME
    raftcron blackouts put NAME --schedule "* 0-6 * * sat,sun" [--tz ZONE] [--description T]
    raftcron blackouts rm NAME

The API address and the token as for `raftcron jobs` (`--api`, `$RAFTCRON_API`,
`$RAFTCRON_TOKEN`); `--json` prints the API's JSON. Every error prints one line on stderr
and exits with its status in `raftcron.cli.exits`.
"""

from __future__ import annotations

import argparse

from raftcron.cli.client_cmds import add_actions, client_from_args, print_json


def add_arguments(parser: argparse.ArgumentParser, name: str | None) -> None:
    action = add_actions(parser)
    action("list", "list the windows (the config's and the API's)")
    action("show", "show one window", "name")
    p = action("put", "create or replace a window", "name")
    p.add_argument("--schedule", required=True, metavar="CRON",
                   help="the window: every instant this cron expression matches")
    p.add_argument("--tz", help="IANA time zone (default UTC)")
    p.add_argument("--description")
    action("rm", "delete a window", "name")


def run(args: argparse.Namespace) -> int:
    """Run `raftcron blackouts ACTION`; an error raises (`raftcron.cli.main` prints it and
    exits with its status)."""
    as_json = bool(getattr(args, "json", False))
    client = client_from_args(args)
    if args.action == "list":
        items = client.list_blackouts()["items"]
        if as_json:
            print_json(items)
        for w in items if not as_json else ():
            print(f"{w['name']}\t{w['schedule']}\t{w['tz']}\t{w.get('source', 'api')}")
        return 0
    if args.action == "show":
        print_json(client.get_blackout(args.name))
        return 0
    if args.action == "put":
        body = {"schedule": args.schedule, "tz": args.tz, "description": args.description}
        window, created = client.put_blackout(
            args.name, {k: v for k, v in body.items() if v is not None})
        if as_json:
            print_json(window)
        else:
            print(f"{'created' if created else 'replaced'} blackout window {args.name}")
        return 0
    client.delete_blackout(args.name)
    if not as_json:
        print(f"deleted blackout window {args.name}")
    return 0
