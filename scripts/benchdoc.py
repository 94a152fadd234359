"""Writes one benchmark's markdown section into docs/benchmarks.md.

Each section sits between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`; re-running a
benchmark with `--write` replaces its section and leaves the others alone.
"""

from __future__ import annotations

import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def machine() -> str:
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return f"{platform.machine()}, {cores} cores, Python {platform.python_version()}"


def publish(name: str, body: str, argv: list[str] | None = None) -> None:
    """Print the section; with `--write` in argv, also store it in docs/benchmarks.md."""
    argv = sys.argv[1:] if argv is None else argv
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    section = (
        f"<!-- bench:{name} -->\n{body.rstrip()}\n\n"
        f"_Run {stamp} on {machine()}._\n<!-- /bench:{name} -->"
    )
    print(section)
    if "--write" not in argv:
        return
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"<!-- bench:{name} -->.*?<!-- /bench:{name} -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    DOC.write_text(text)
