"""OutputSink, tail decoding and the run environment: the pieces executors share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from raftcron.errors import ValidationError
from raftcron.executor.base import RunSpec
from raftcron.executor.environment import epoch_seconds, job_env, local_env, raftcron_vars
from raftcron.executor.output import OutputSink, output_path
from raftcron.model import Node
from raftcron.model.tails import decode_tail


def test_output_sink_writes_files_and_keeps_tails(tmp_path: Path):
    sink = OutputSink(tmp_path / "out", "run-1", 5)
    sink.write_stdout(b"hello ")
    sink.write_stdout(b"world")
    sink.write_stderr(b"e")
    assert sink.close() == ("world", "e", 12)
    assert (tmp_path / "out" / "run-1.stdout").read_bytes() == b"hello world"
    assert (tmp_path / "out" / "run-1.stderr").read_bytes() == b"e"
    assert (tmp_path / "out" / "run-1.stdout").stat().st_mode & 0o777 == 0o600


def test_output_sink_file_holds_each_chunk_before_close(tmp_path: Path):
    # A follower of a running job's output reads the file while the sink is open.
    sink = OutputSink(tmp_path, "run-live", 100)
    sink.write_stdout(b"line 1\n")
    assert (tmp_path / "run-live.stdout").read_bytes() == b"line 1\n"
    sink.write_stderr(b"oops\n")
    assert (tmp_path / "run-live.stderr").read_bytes() == b"oops\n"
    sink.close()


def test_output_sink_makes_a_file_only_for_a_stream_that_printed(tmp_path: Path):
    sink = OutputSink(tmp_path / "out", "quiet", 100)
    assert sink.close() == ("", "", 0)
    assert not (tmp_path / "out").exists()
    sink = OutputSink(tmp_path / "out", "half", 100)
    sink.write_stderr(b"x")
    sink.close()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["half.stderr"]


def test_output_sink_close_is_idempotent_and_ignores_late_writes(tmp_path: Path):
    sink = OutputSink(tmp_path, "run-2", 100)
    sink.write_stdout(b"a")
    first = sink.close()
    sink.write_stdout(b"late")
    assert sink.close() == first == ("a", "", 1)


def test_output_sink_tail_clamped_to_hard_cap(tmp_path: Path):
    sink = OutputSink(tmp_path, "run-3", 10**9)
    for _ in range(3):
        sink.write_stdout(b"x" * 50_000)
    stdout_tail, _, total = sink.close()
    assert stdout_tail == "x" * 65536
    assert total == 150_000


def test_output_sink_zero_tail_keeps_nothing_in_memory(tmp_path: Path):
    sink = OutputSink(tmp_path, "run-4", 0)
    sink.write_stdout(b"abc")
    assert sink.close() == ("", "", 3)


@pytest.mark.parametrize("run_id", ["", ".", "..", "a/b", "../x", "a\\b", "a\0b"])
def test_output_path_refuses_unsafe_run_id(tmp_path: Path, run_id: str):
    with pytest.raises(ValidationError) as err:
        output_path(tmp_path, run_id, "stdout")
    assert err.value.field == "run_id"


def test_output_path_refuses_unknown_stream(tmp_path: Path):
    with pytest.raises(ValidationError) as err:
        output_path(tmp_path, "r", "stdin")
    assert err.value.field == "stream"


def test_decode_tail_cuts_on_character_boundary():
    data = "añ€😀".encode()  # 1 + 2 + 3 + 4 bytes
    assert decode_tail(data, 4) == "😀"
    assert decode_tail(data, 5) == "😀"  # the last byte of € alone is dropped, not replaced
    assert decode_tail(data, 7) == "€😀"
    assert decode_tail(data, 100) == "añ€😀"


def test_decode_tail_replaces_invalid_bytes_within_the_cap():
    data = b"ok\xff\xfe\xfd"
    text = decode_tail(data, 5)
    assert text.endswith("\ufffd")
    assert len(text.encode()) <= 5


def test_decode_tail_zero_and_empty():
    assert decode_tail(b"abc", 0) == ""
    assert decode_tail(b"", 10) == ""


def _spec(**kw) -> RunSpec:
    values = {
        "run_id": "r1",
        "job": "backup",
        "attempt": 2,
        "slot": datetime(2024, 3, 10, 7, 0, tzinfo=UTC),
        "peer": "10.0.0.1:7100",
    }
    values.update(kw)
    return RunSpec(**values)


def test_environment_raftcron_vars_for_local_run():
    assert raftcron_vars(_spec()) == {
        "RAFTCRON_JOB": "backup",
        "RAFTCRON_RUN_ID": "r1",
        "RAFTCRON_ATTEMPT": "2",
        "RAFTCRON_SCHEDULED_AT": "2024-03-10T07:00:00Z",
        "RAFTCRON_SCHEDULED_TS": "1710054000",
        "RAFTCRON_PEER": "10.0.0.1:7100",
        "RAFTCRON_TARGET": "10.0.0.1:7100",
    }


def test_environment_target_is_the_node_name_for_remote_run():
    node = Node(name="db1", connection_type="ssh", ssh_host="db1.example")
    assert raftcron_vars(_spec(target=node))["RAFTCRON_TARGET"] == "db1"


def test_environment_epoch_seconds_is_exact_decimal():
    base = datetime(2024, 3, 10, 7, 0, tzinfo=UTC)
    assert epoch_seconds(base) == "1710054000"
    assert epoch_seconds(base + timedelta(microseconds=1)) == "1710054000.000001"
    assert epoch_seconds(base + timedelta(milliseconds=500)) == "1710054000.5"
    plus_two = timezone(timedelta(hours=2))
    assert epoch_seconds(base.astimezone(plus_two)) == "1710054000"
    assert epoch_seconds(datetime(1969, 12, 31, 23, 59, 58, 500000, tzinfo=UTC)) == "-1.5"


def test_environment_local_env_layers_and_withholds_secrets():
    base = {"PATH": "/bin", "RAFTCRON_SECRET": "s", "RAFTCRON_TOKEN": "t", "HOME": "/root"}
    env = local_env(
        _spec(env={"PATH": "/opt/bin", "RAFTCRON_RUN_ID": "forged"}),
        base,
        identity={"HOME": "/home/backup"},
    )
    assert env["PATH"] == "/opt/bin"
    assert env["HOME"] == "/home/backup"
    assert env["RAFTCRON_RUN_ID"] == "r1"
    assert "RAFTCRON_SECRET" not in env and "RAFTCRON_TOKEN" not in env


def test_environment_job_env_has_no_inherited_vars(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DAEMON_ONLY", "x")
    env = job_env(_spec(env={"A": "1"}))
    assert env["A"] == "1"
    assert "DAEMON_ONLY" not in env
