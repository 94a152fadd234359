"""The `raftcron` command line.

`raftcron --peers ...` (no subcommand) runs a peer; `raftcron SUBCOMMAND ...` is a client or a
tool. Every user error exits with status 2 and a message on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from raftcron.errors import RaftcronError

#: subcommand name -> module under raftcron.cli that has `add_arguments(parser)` and `run(args)`.
SUBCOMMANDS = {
    "next": "raftcron.cli.next_cmd",
    "jobs": "raftcron.cli.client_cmds",
    "runs": "raftcron.cli.client_cmds",
    "nodes": "raftcron.cli.client_cmds",
    "status": "raftcron.cli.client_cmds",
    "import-crontab": "raftcron.cli.import_cmd",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 already; keep its usage line
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


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
        module = importlib.import_module("raftcron.cli.daemon_cmd")
        parser = _Parser(prog="raftcron", description="Run one raftcron peer.")
        module.add_arguments(parser, None)
        return int(module.run(parser.parse_args(args_in)) or 0)
    except RaftcronError as exc:
        print(f"raftcron: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
