"""The cap on a run's output files (`output_limit`): OutputSink and a real local process."""

from __future__ import annotations

from pathlib import Path

from raftcron.executor.local import LocalExecutor
from raftcron.executor.output import OutputSink
from raftcron.model import RunStatus
from tests.support.executor_contract import ContractHarness


def test_output_sink_stops_each_file_at_the_limit_and_keeps_the_tails(tmp_path: Path):
    sink = OutputSink(tmp_path, "capped", 4, limit=10)
    sink.write_stdout(b"0123456")
    assert not sink.truncated
    sink.write_stdout(b"789abcdef")  # crosses the limit inside the chunk
    sink.write_stdout(b"XYZ")        # wholly past it
    sink.write_stderr(b"e" * 10)     # exactly the limit: nothing left out
    assert sink.close() == ("fXYZ", "eeee", 29)
    assert sink.truncated
    assert (tmp_path / "capped.stdout").read_bytes() == b"0123456789"
    assert (tmp_path / "capped.stderr").read_bytes() == b"e" * 10


def test_output_sink_under_the_limit_is_not_truncated(tmp_path: Path):
    sink = OutputSink(tmp_path, "small", 100, limit=10)
    sink.write_stderr(b"e" * 10)
    sink.write_stdout(b"abc")
    assert sink.close() == ("abc", "e" * 10, 13)
    assert not sink.truncated


def _harness(tmp_path: Path, **kwargs) -> ContractHarness:
    out = tmp_path / "output"
    return ContractHarness(executor=LocalExecutor(out, **kwargs), output_dir=out)


async def test_local_run_past_its_output_limit_is_truncated_at_exactly_the_limit(tmp_path):
    harness = _harness(tmp_path)
    limit = 100_000
    spec = harness.spec(command="head -c 300000 /dev/zero; printf END", output_tail=8,
                        output_limit=limit)
    out = await harness.run(spec)
    assert out.status == RunStatus.SUCCEEDED, out.reason
    assert out.output_truncated
    assert out.output_bytes == 300_003
    assert out.stdout_tail == "\0" * 5 + "END"
    assert (harness.output_dir / f"{spec.run_id}.stdout").stat().st_size == limit


async def test_local_executor_default_limit_applies_when_the_job_sets_none(tmp_path):
    harness = _harness(tmp_path, output_limit=2048)
    spec = harness.spec(command="head -c 5000 /dev/zero >&2")
    out = await harness.run(spec)
    assert out.output_truncated and out.output_bytes == 5000
    assert (harness.output_dir / f"{spec.run_id}.stderr").stat().st_size == 2048
    quiet = await harness.run(harness.spec(command="echo hi"))
    assert not quiet.output_truncated
