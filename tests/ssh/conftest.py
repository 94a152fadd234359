"""The SSH tier: a real OpenSSH sshd on 127.0.0.1 (tests/support/sshd.py; a missing sshd is an
error, never a skip). Every test here is marked `ssh`.

- `sshd`: one server per test module (keys and config in a tmp dir), stopped after it.
- `executor`: an `SshExecutor` writing output under tmp_path, closed after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from raftcron.executor.ssh import SshExecutor
from tests.support.markers import mark_directory
from tests.support.sshd import Sshd


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_directory(items, Path(__file__).parent, pytest.mark.ssh)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    server = Sshd.start(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture
async def executor(tmp_path: Path) -> AsyncIterator[SshExecutor]:
    ssh = SshExecutor(tmp_path / "output")
    yield ssh
    await ssh.close()
