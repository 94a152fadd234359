"""The behaviour every `Executor` keeps, as one suite run against each implementation.

Use it from a test module by subclassing and providing a `harness` fixture::

    from tests.support.executor_contract import ContractHarness, ExecutorContract

    class TestLocalExecutorContract(ExecutorContract):
        @pytest.fixture
        def harness(self, tmp_path):
            out = tmp_path / "output"
            return ContractHarness(executor=LocalExecutor(out), output_dir=out)

The commands run on the target through `/bin/sh`; the tests read files and check process ids
on this machine, so a remote target must be this machine too (an sshd on 127.0.0.1).
Everything that waits polls with a deadline; nothing asserts on speed.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from raftcron.executor.base import Executor, RunOutcome, RunSpec
from raftcron.executor.process_group import pid_alive
from raftcron.model import Node, RunStatus
from tests.support.wait import wait_until_async

SLOT = datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
WAIT = 20.0  # seconds: the deadline of every poll (never a speed claim: a hang guard)


@dataclass
class ContractHarness:
    """How the suite drives one executor: the executor, its output dir, the run's target."""

    executor: Executor
    output_dir: Path
    target: Node | None = None
    peer: str = "127.0.0.1:7101"
    started: list[datetime] = field(default_factory=list)

    def spec(self, **overrides: Any) -> RunSpec:
        values: dict[str, Any] = {
            "run_id": f"r-{uuid.uuid4().hex[:12]}",
            "job": "contract-job",
            "attempt": 1,
            "slot": SLOT,
            "peer": self.peer,
            "target": self.target,
            # On an SSH node a job runs as its ssh_user; a root login must be asked for by
            # name (raftcron.model.privilege.ssh_refusal), and these tests may run as root.
            "user": getattr(self.target, "ssh_user", None),
            "timeout": timedelta(seconds=60),
            "kill_grace": timedelta(seconds=1),
        }
        values.update(overrides)
        return RunSpec(**values)

    async def run(self, spec: RunSpec) -> RunOutcome:
        return await asyncio.wait_for(
            self.executor.run(spec, on_started=self.started.append), timeout=WAIT * 3
        )


async def read_pid(path: Path) -> int:
    await wait_until_async(lambda: path.exists() and path.read_text().strip().isdigit(), WAIT,
                           f"pid in {path}")
    return int(path.read_text().strip())


class ExecutorContract:
    """Subclass in a test module and define the `harness` fixture (a `ContractHarness`)."""

    async def test_executor_success_reports_tails_and_start(self, harness: ContractHarness):
        spec = harness.spec(command=["sh", "-c", "echo hello; echo oops >&2"])
        out = await harness.run(spec)
        assert out.status == RunStatus.SUCCEEDED
        assert out.exit_code == 0
        assert out.stdout_tail == "hello\n"
        assert out.stderr_tail == "oops\n"
        assert out.output_bytes == len("hello\n") + len("oops\n")
        assert len(harness.started) == 1
        assert out.started_at == harness.started[0]
        assert out.started_at <= out.finished_at

    async def test_executor_failing_exit_is_failed_with_code(self, harness: ContractHarness):
        out = await harness.run(harness.spec(command="echo partial; exit 3"))
        assert out.status == RunStatus.FAILED
        assert out.exit_code == 3
        assert out.stdout_tail == "partial\n"
        assert out.reason and "3" in out.reason

    async def test_executor_missing_executable_is_failed(self, harness: ContractHarness):
        out = await harness.run(harness.spec(command=["/nonexistent/raftcron-no-such-binary"]))
        assert out.status == RunStatus.FAILED
        assert out.reason

    async def test_executor_timeout_kills_tree_with_term_ignoring_child(
        self, harness: ContractHarness, tmp_path: Path
    ):
        pids = tmp_path / "pids"
        # The child ignores SIGTERM (an ignored signal stays ignored across exec), so only
        # the SIGKILL after the grace period can end it.
        script = (
            f"(trap '' TERM; exec sleep 300) & echo $! > {pids}.child; echo $$ > {pids}.main; wait"
        )
        spec = harness.spec(
            command=script,
            timeout=timedelta(milliseconds=500),
            kill_grace=timedelta(milliseconds=300),
        )
        out = await harness.run(spec)
        assert out.status == RunStatus.TIMED_OUT
        assert out.reason and "timed out" in out.reason
        child = await read_pid(Path(f"{pids}.child"))
        main = await read_pid(Path(f"{pids}.main"))
        await wait_until_async(lambda: not pid_alive(child), WAIT,
                               f"the SIGTERM-ignoring child {child} to die")
        await wait_until_async(lambda: not pid_alive(main), WAIT, f"the main process {main} to die")

    async def test_executor_env_has_raftcron_vars_and_job_env(self, harness: ContractHarness):
        names = [
            "RAFTCRON_JOB",
            "RAFTCRON_RUN_ID",
            "RAFTCRON_ATTEMPT",
            "RAFTCRON_SCHEDULED_AT",
            "RAFTCRON_SCHEDULED_TS",
            "RAFTCRON_PEER",
            "RAFTCRON_TARGET",
            "GREETING",
        ]
        command = "".join(f'echo "{n}=${n}"; ' for n in names)
        spec = harness.spec(command=command, attempt=3, env={"GREETING": "hi there"})
        out = await harness.run(spec)
        assert out.status == RunStatus.SUCCEEDED, out.reason
        seen = dict(line.split("=", 1) for line in out.stdout_tail.splitlines())
        assert seen == {
            "RAFTCRON_JOB": "contract-job",
            "RAFTCRON_RUN_ID": spec.run_id,
            "RAFTCRON_ATTEMPT": "3",
            "RAFTCRON_SCHEDULED_AT": "2024-05-01T12:00:00.250000Z",
            "RAFTCRON_SCHEDULED_TS": "1714564800.25",
            "RAFTCRON_PEER": harness.peer,
            "RAFTCRON_TARGET": spec.target_name,
            "GREETING": "hi there",
        }

    async def test_executor_output_tail_is_capped(self, harness: ContractHarness):
        # 20,000 bytes of 'a' then a marker: the tail is the last 100 bytes only.
        spec = harness.spec(
            command="head -c 20000 /dev/zero | tr '\\0' a; printf END", output_tail=100
        )
        out = await harness.run(spec)
        assert out.status == RunStatus.SUCCEEDED, out.reason
        assert out.stdout_tail == "a" * 97 + "END"
        assert out.output_bytes == 20003

    async def test_executor_output_tail_hard_cap_64k(self, harness: ContractHarness):
        spec = harness.spec(command="head -c 200000 /dev/zero | tr '\\0' b", output_tail=10_000_000)
        out = await harness.run(spec)
        assert out.status == RunStatus.SUCCEEDED, out.reason
        assert out.stdout_tail == "b" * 65536

    async def test_executor_full_output_files_written(self, harness: ContractHarness):
        spec = harness.spec(command="seq 1 20000; seq 1 300 >&2", output_tail=64)
        out = await harness.run(spec)
        assert out.status == RunStatus.SUCCEEDED, out.reason
        stdout = (harness.output_dir / f"{spec.run_id}.stdout").read_text()
        stderr = (harness.output_dir / f"{spec.run_id}.stderr").read_text()
        assert stdout == "".join(f"{i}\n" for i in range(1, 20001))
        assert stderr == "".join(f"{i}\n" for i in range(1, 301))
        assert out.output_bytes == len(stdout) + len(stderr)
        assert stdout.endswith(out.stdout_tail)

    async def test_executor_script_runs_through_interpreter(self, harness: ContractHarness):
        script = b'echo "script says hi"\necho "path=$0"\n'
        out = await harness.run(harness.spec(script=script, interpreter=["/bin/sh"]))
        assert out.status == RunStatus.SUCCEEDED, out.reason
        lines = out.stdout_tail.splitlines()
        assert lines[0] == "script says hi"
        path = Path(lines[1].removeprefix("path="))
        assert not path.exists(), "the temporary script must be removed after the run"

    async def test_executor_binary_executed_directly(self, harness: ContractHarness):
        binary = b"#!/bin/sh\necho direct-exec\nexit 4\n"
        out = await harness.run(harness.spec(script=binary, interpreter=None))
        assert out.status == RunStatus.FAILED
        assert out.exit_code == 4
        assert out.stdout_tail == "direct-exec\n"

    async def test_executor_cancel_stops_run(self, harness: ContractHarness, tmp_path: Path):
        pidfile = tmp_path / "cancel.pid"
        spec = harness.spec(command=f"echo $$ > {pidfile}; exec sleep 300")
        task = asyncio.create_task(harness.run(spec))
        main = await read_pid(pidfile)
        await wait_until_async(lambda: harness.started, WAIT, "on_started")
        assert await harness.executor.cancel(spec.run_id) is True
        out = await task
        assert out.status == RunStatus.CANCELLED
        assert out.reason and "cancel" in out.reason
        await wait_until_async(lambda: not pid_alive(main), WAIT,
                               f"cancelled process {main} to die")

    async def test_executor_cancel_unknown_run_is_false(self, harness: ContractHarness):
        assert await harness.executor.cancel("no-such-run") is False
