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


_this_release_version_of = commands.version_of
commands.version_of = _next_version

# The API refuses a job the cluster cannot read yet (409, `api.blackouts.check_job_version`):
# a real next release would ask that only of what it added. Here every entry is "newer", so
# the API keeps this release's rule and the entry it proposes still carries NEXT (`encode`
# looks `version_of` up in `commands` when it runs): the case of an older peer that was down
# when the cluster agreed to write the newer version.
from raftcron.api import blackouts as _api_blackouts  # noqa: E402 (after the patch above)

_api_blackouts.version_of = _this_release_version_of

if __name__ == "__main__":
    from raftcron.cli import main

    sys.exit(main(sys.argv[1:]))
