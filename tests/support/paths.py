"""Where the repository's files are, for tests in any directory of tests/."""

from __future__ import annotations

from pathlib import Path

#: tests/
TESTS = Path(__file__).resolve().parent.parent
#: The repository root (pyproject.toml, docs/, scripts/, configs/).
ROOT = TESTS.parent
#: Input files shared by several tiers: seed jobs and nodes, cluster configs.
DATA = TESTS / "data"
#: Frozen wire formats (one file per replicated command).
GOLDEN = TESTS / "golden"
SCRIPTS = ROOT / "scripts"
