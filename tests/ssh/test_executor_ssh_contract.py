"""The shared executor behaviour suite (tests/executor_contract.py) against SshExecutor.

The target is a real OpenSSH sshd on 127.0.0.1, so the suite's pid and file checks on this
machine see the remote side.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from executor_contract import ContractHarness, ExecutorContract
from sshd import Sshd, make_node

from raftcron.executor.ssh import SshExecutor

pytestmark = pytest.mark.ssh


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    server = Sshd.start(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


class TestSshExecutorContract(ExecutorContract):
    @pytest.fixture
    async def harness(self, sshd: Sshd, tmp_path: Path) -> AsyncIterator[ContractHarness]:
        out = tmp_path / "output"
        executor = SshExecutor(out)
        node = make_node(sshd, name="contract-node")
        yield ContractHarness(executor=executor, output_dir=out, target=node)
        await executor.close()
