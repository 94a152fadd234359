"""`run_finished`'s `output_truncated` (version 4): stored with the run, served as a boolean."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from raftcron.db.reader import ReadDb
from raftcron.executor.base import RunOutcome
from raftcron.model import RunStatus
from raftcron.model.commands import version_of
from raftcron.state.machine import StateMachine
from raftcron.worker.reports import finished_args
from tests.support.records import run_record
from tests.support.state import Log

T = [f"2024-05-01T1{h}:00:00Z" for h in range(6)]


def test_state_run_finished_stores_output_truncated(tmp_path: Path) -> None:
    sm = StateMachine(tmp_path / "state.db")
    read = ReadDb(tmp_path / "state.db")
    try:
        log = Log(sm)
        log("put_job", {"job": {"name": "chatty"}, "at": T[0]})
        log("fire", {"runs": [run_record(f"r{i}", "chatty", T[i], target="n1") for i in (1, 2)],
                     "at": T[2]})
        base = {"status": "succeeded", "exit_code": 0, "at": T[4]}
        assert log("run_finished", {"run_id": "r1", **base, "output_truncated": True})["ok"]
        assert log("run_finished", {"run_id": "r2", **base})["ok"]
        assert read.get_run("r1")["output_truncated"] is True
        assert read.get_run("r2")["output_truncated"] is False
        assert read.get_run("r1")["status"] == "succeeded"
    finally:
        read.close()
        sm.close()


def test_reporter_sends_output_truncated_only_when_true() -> None:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    outcome = RunOutcome(status=RunStatus.SUCCEEDED, exit_code=0, stdout_tail="", stderr_tail="",
                         reason=None, started_at=now, finished_at=now, output_bytes=5)
    plain = finished_args("r1", outcome)
    assert "output_truncated" not in plain
    assert version_of("run_finished", plain) < 4  # still applied by a peer on version 3
    cut = finished_args("r1", RunOutcome(**{**outcome.__dict__, "output_truncated": True}))
    assert cut["output_truncated"] is True
    assert version_of("run_finished", cut) == 4
