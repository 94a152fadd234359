"""The CLI tier's shared pieces: a served API the client subcommands talk to, and a runner
that calls `raftcron.cli.main` in-process and captures what it printed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from raftcron.cli import main
from tests.support.api import TOKEN, LiveApi


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveApi]:
    """A LiveApi with a write token; RAFTCRON_API and RAFTCRON_TOKEN point the CLI at it."""
    live = LiveApi(tmp_path / "api", token=TOKEN)
    monkeypatch.setenv("RAFTCRON_API", live.url)
    monkeypatch.setenv("RAFTCRON_TOKEN", TOKEN)
    yield live
    live.close()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`raftcron ARGV...` in-process: (exit status, stdout, stderr)."""
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err
