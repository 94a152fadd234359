"""`raftcron groups`: concurrency group limits, over HTTP only.

    raftcron groups list
    raftcron groups set NAME LIMIT
    raftcron groups rm NAME

The API address and the token as for `raftcron jobs`; `--json` prints the API's JSON. Every
error prints one line on stderr and exits with its status in `raftcron.cli.exits`.
"""

from __future__ import annotations

import argparse

from raftcron.cli.client_cmds import add_actions, client_from_args, print_json
from raftcron.errors import ValidationError


def add_arguments(parser: argparse.ArgumentParser, name: str | None) -> None:
    action = add_actions(parser)
    action("list", "list the groups: limit, active and waiting runs")
    action("set", "set a group's limit (it wins over the cluster config's)", "name", "limit")
    action("rm", "remove the limit set through the API", "name")


def run(args: argparse.Namespace) -> int:
    """Run `raftcron groups ACTION`; an error raises (`raftcron.cli.main` prints it and exits
    with its status)."""
    as_json = bool(getattr(args, "json", False))
    client = client_from_args(args)
    if args.action == "list":
        items = client.list_groups()["items"]
        if as_json:
            print_json(items)
            return 0
        for g in items:
            limit = "-" if g.get("limit") is None else g["limit"]
            print(f"{g['name']}\tlimit {limit}\tactive {g['active']}\twaiting "
                  f"{g['waiting']}\t{g.get('source') or '-'}")
        return 0
    if args.action == "set":
        if not args.limit.isdigit():
            raise ValidationError(f"limit: expected a whole number, got {args.limit!r}",
                                  field="limit")
        group, created = client.put_group(args.name, int(args.limit))
        if as_json:
            print_json(group)
        else:
            print(f"{'set' if created else 'changed'} the limit of {args.name} to "
                  f"{group['limit']}")
        return 0
    client.delete_group(args.name)
    if not as_json:
        print(f"removed the limit of {args.name}")
    return 0
