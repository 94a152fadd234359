"""`raftcron peers list|add HOST:PORT|remove HOST:PORT`: the Raft members, changed at runtime.

    raftcron peers list [--json]
    raftcron peers add 10.0.0.4:7100      # then: raftcron --join 10.0.0.1:7100 --self 10.0.0.4:7100
    raftcron peers remove 10.0.0.3:7100   # then stop it

Any peer's API answers (`--api URL`, default `$RAFTCRON_API`); the leader makes the change,
one at a time. A malformed address is refused here (exit 2); a change the cluster refuses
(a member added twice, a non-member removed, a change that would leave no reachable
majority) prints the API's reason and exits 4, a conflict (docs/cli.md, exit codes).
"""

from __future__ import annotations

import argparse
import urllib.parse
from typing import Any

from raftcron.cli.client_cmds import add_api_arguments, client_from_args, print_json
from raftcron.config.cluster import parse_peer_address


def add_arguments(parser: argparse.ArgumentParser, name: str | None) -> None:
    parser.description = "List, add or remove the Raft members (membership changes)."
    add_api_arguments(parser)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="every member: id, API, leader, reachable")
    add_api_arguments(p)
    p = sub.add_parser("add", help="add a member (then start it with --join)")
    p.add_argument("peer", metavar="HOST:PORT", help="the new peer's raft address")
    add_api_arguments(p)
    p = sub.add_parser("remove", help="remove a member (then stop it)")
    p.add_argument("peer", metavar="HOST:PORT", help="the member's raft address")
    add_api_arguments(p)


def run(args: argparse.Namespace) -> int:
    """Run one action; user and API errors raise `RaftcronError` (the dispatcher exits 2)."""
    as_json = bool(getattr(args, "json", False))
    if args.action != "list":
        parse_peer_address(args.peer, field="peer")  # exit 2 before any request
    client = client_from_args(args)
    if args.action == "list":
        answer = client.request("GET", "/peers")
        if as_json:
            print_json(answer)
        else:
            print(_table(answer.get("items") or []))
        return 0
    if args.action == "add":
        answer = client.request("POST", "/peers", body={"id": args.peer})
        line = f"added {args.peer}; start it with --join and --self {args.peer}"
    else:
        answer = client.request("DELETE", f"/peers/{urllib.parse.quote(args.peer, safe=':')}")
        line = f"removed {args.peer}; stop that peer now"
    if as_json:
        print_json(answer)
    else:
        print(line)
        print("members: " + ", ".join(answer.get("members") or []))
    return 0


def _table(items: list[dict[str, Any]]) -> str:
    header = ["ID", "ROLE", "REACHABLE", "API"]
    rows = [[str(p.get("id")), "leader" if p.get("leader") else "follower",
             "yes" if p.get("reachable") else "no", str(p.get("api") or "")] for p in items]
    cells = [header, *rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
                     for r in cells)
