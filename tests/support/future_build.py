"""`python -m tests.support.future_build ...`: a raftcron peer acting as the NEXT release.

It reads and writes command envelope version `VERSION + 1` (every command it proposes carries
it), and gossips that it reads it, as a release that added a command would; its state copy is
at schema `SCHEMA_VERSION + 1` (a no-op migration from the current one), so its snapshots
are too. The upgrade tests
run it beside the current build: the current build must stop on such an entry, loudly and
without touching its copy, and resume once "upgraded" (restarted as this module).
"""

from __future__ import annotations

import sys
from typing import Any

from raftcron.db import sqlite
from raftcron.model import commands

NEXT = commands.VERSION + 1
commands.VERSION = NEXT
NEXT_SCHEMA = sqlite.SCHEMA_VERSION + 1
sqlite.MIGRATIONS[sqlite.SCHEMA_VERSION] = lambda conn: None
sqlite.SCHEMA_VERSION = NEXT_SCHEMA


def _next_version(op: str, args: Any) -> int:
    return NEXT


commands.version_of = _next_version

if __name__ == "__main__":
    from raftcron.cli import main

    sys.exit(main(sys.argv[1:]))
