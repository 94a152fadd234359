"""Success rules on a finished run (`worker.success.judge`), as a table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from raftcron.executor.base import RunOutcome, RunSpec
from raftcron.model import RunStatus
from raftcron.worker.success import judge

T = datetime(2024, 5, 1, tzinfo=UTC)


def outcome(status: RunStatus, code: int | None, out: str = "", reason: str | None = None):
    return RunOutcome(status=status, exit_code=code, stdout_tail=out, stderr_tail="",
                      reason=reason, started_at=T, finished_at=T)


def spec(codes=(0,), pattern=None) -> RunSpec:
    return RunSpec(run_id="r", job="j", attempt=1, slot=T, peer="p",
                   success_exit_codes=tuple(codes), fail_if_output_matches=pattern)


F, S = RunStatus.FAILED, RunStatus.SUCCEEDED


@pytest.mark.parametrize("given, rules, status, reason", [
    (outcome(S, 0), spec(), S, None),
    (outcome(F, 1, reason="exit status 1"), spec(), F, "exit status 1"),
    (outcome(F, 3, reason="exit status 3"), spec((0, 3)), S,
     "exit status 3 (in success_exit_codes)"),
    (outcome(S, 0), spec((3,)), F, "exit status 0 (not in success_exit_codes)"),
    (outcome(S, 0, "all good\nERROR: disk\n"), spec(pattern="^ERROR"), F,
     "output matches fail_if_output_matches"),
    (outcome(S, 0, "fine\n"), spec(pattern="^ERROR"), S, None),
    (outcome(RunStatus.TIMED_OUT, None, "ERROR", "timed out"), spec(pattern="ERROR"),
     RunStatus.TIMED_OUT, "timed out"),
    (outcome(F, None, reason="killed by signal SIGKILL"), spec((0, 137)), F,
     "killed by signal SIGKILL"),
])
def test_worker_success_rules(given, rules, status, reason) -> None:
    judged = judge(given, rules)
    assert (judged.status, judged.reason) == (status, reason)
