"""The shared executor behaviour suite (tests/executor_contract.py) against SshExecutor.

The target is a real OpenSSH sshd on 127.0.0.1, so the suite's pid and file checks on this
machine see the remote side.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from raftcron.executor.ssh import SshExecutor
from tests.support.executor_contract import ContractHarness, ExecutorContract
from tests.support.sshd import Sshd, make_node


class TestSshExecutorContract(ExecutorContract):
    @pytest.fixture
    async def harness(self, sshd: Sshd, tmp_path: Path) -> AsyncIterator[ContractHarness]:
        out = tmp_path / "output"
        executor = SshExecutor(out)
        node = make_node(sshd, name="contract-node")
        yield ContractHarness(executor=executor, output_dir=out, target=node)
        await executor.close()
