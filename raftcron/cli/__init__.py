"""The `raftcron` command line.

`raftcron --peers ...` (no subcommand) runs a peer; `raftcron SUBCOMMAND ...` is a client or a
tool. `raftcron --help` lists the subcommands (one line each, from `SUMMARIES`) and how to run
a peer; `raftcron --help-daemon` (or `raftcron --peers ... --help`) lists the daemon's flags;
`raftcron SUBCOMMAND --help` one subcommand's; `raftcron --version` prints `raftcron X.Y.Z`.
Every error prints one line on stderr, never a traceback, and exits with the status
`raftcron.cli.exits` gives its kind (2 for bad flags, an unknown subcommand or a bad value; 3
not found, 4 conflict, 5 unauthorized, 6 unavailable, 7 outcome unknown).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence

from raftcron import __version__
from raftcron.cli import exits
from raftcron.errors import RaftcronError

#: subcommand name -> module under raftcron.cli that has `add_arguments(parser)` and `run(args)`.
SUBCOMMANDS = {
    "next": "raftcron.cli.next_cmd",
    "jobs": "raftcron.cli.client_cmds",
    "runs": "raftcron.cli.client_cmds",
    "nodes": "raftcron.cli.client_cmds",
    "peers": "raftcron.cli.peers_cmd",
    "status": "raftcron.cli.client_cmds",
    "blackouts": "raftcron.cli.blackouts_cmd",
    "groups": "raftcron.cli.groups_cmd",
    "import-crontab": "raftcron.cli.import_cmd",
    "backup": "raftcron.cli.backup_cmd",
    "restore": "raftcron.cli.backup_cmd",
    "completion": "raftcron.cli.completion_cmd",
}

#: subcommand -> its line in `raftcron --help` (a subcommand missing here shows its module's
#: first docstring line instead).
SUMMARIES = {
    "jobs": "add, list, show, pause, resume, run now or remove jobs",
    "runs": "list runs, show one, print its whole output, cancel it",
    "nodes": "list the peers and SSH nodes with their roles, health and load",
    "peers": "list, add or remove the Raft members (membership changes at runtime)",
    "status": "one peer's view: role, leader, term, indices, members",
    "blackouts": "list, show, put or remove the cluster-wide blackout windows",
    "groups": "list concurrency groups, set or remove a group's limit",
    "next": "print when a schedule fires next (local: no cluster needed)",
    "import-crontab": "turn a classic crontab into jobs, all or nothing",
    "backup": "copy the state (jobs, nodes, run history) from any running peer to a file",
    "restore": "prepare a new peer's data directory from a backup",
    "completion": "print a bash or zsh completion script",
}

DAEMON_HELP = "--help-daemon"
VERSION_FLAGS = ("--version", "-V")
HELP_FLAGS = ("--help", "-h")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 already; keep its usage line
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _summary(name: str) -> str:
    if name in SUMMARIES:
        return SUMMARIES[name]
    import importlib

    doc = importlib.import_module(SUBCOMMANDS[name]).__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def overview() -> str:
    """The text of `raftcron --help`."""
    width = max(len(name) for name in SUBCOMMANDS) + 2
    commands = "\n".join(f"  {name:<{width}}{_summary(name)}" for name in sorted(SUBCOMMANDS))
    return f"""\
usage: raftcron --peers H:P,H:P,H:P [daemon options]   run one peer
       raftcron COMMAND [options]                      a client command or a tool

raftcron {__version__}: a distributed cron daemon on Raft.

Run a peer (every peer gets the same --peers list, itself included):
  raftcron --peers a:7100,b:7100,c:7100 [--self b:7100] [--data-dir DIR] [--config FILE]
  raftcron {DAEMON_HELP}   every daemon flag (--api, --roles, --capacity, --jobs-dir, ...)

Commands:
{commands}

Options:
  -h, --help     this overview (raftcron COMMAND --help: one command's options)
  -V, --version  print the version and exit
  {DAEMON_HELP}  the daemon's flags

Client commands talk to $RAFTCRON_API or --api (default http://127.0.0.1:8101; a comma-separated
list of peers is tried in turn); the API token comes from $RAFTCRON_TOKEN, the cluster secret
from $RAFTCRON_SECRET, never from flags. --json prints JSON only.

Exit status:
{exits.help_text()}
"""


def top_level_parser() -> argparse.ArgumentParser:
    """The daemon's parser plus the top-level flags (`--version`, `--help-daemon`)."""
    import importlib

    module = importlib.import_module("raftcron.cli.daemon_cmd")
    parser = _Parser(prog="raftcron", description="Run one raftcron peer.")
    module.add_arguments(parser, None)
    parser.add_argument(*VERSION_FLAGS, action="version", version=f"raftcron {__version__}")
    parser.add_argument(DAEMON_HELP, action="help", help="show the daemon's flags and exit")
    return parser


def _unknown(word: str) -> int:
    close = difflib.get_close_matches(word, list(SUBCOMMANDS), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    print(f"raftcron: unknown command '{word}'{hint} (raftcron --help lists them)",
          file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    import importlib

    args_in = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_in and args_in[0] in SUBCOMMANDS:
            name = args_in[0]
            module = importlib.import_module(SUBCOMMANDS[name])
            parser = _Parser(prog=f"raftcron {name}")
            module.add_arguments(parser, name)
            args = parser.parse_args(args_in[1:])
            args.command = name
            return int(module.run(args) or 0)
        if len(args_in) == 1 and args_in[0] in HELP_FLAGS:
            print(overview(), end="")
            return 0
        if len(args_in) == 1 and args_in[0] in VERSION_FLAGS:
            print(f"raftcron {__version__}")
            return 0
        if args_in and not args_in[0].startswith("-"):
            return _unknown(args_in[0])
        parser = top_level_parser()
        module = importlib.import_module("raftcron.cli.daemon_cmd")
        return int(module.run(parser.parse_args(args_in)) or 0)
    except RaftcronError as exc:
        print(f"raftcron: {exits.message(exc)}", file=sys.stderr)
        return exits.code_for(exc)
    except KeyboardInterrupt:
        return exits.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
