"""Success rules of a finished run (docs/jobs.md): `success_exit_codes` and
`fail_if_output_matches`, applied by the executing peer before it reports `run_finished`.

Only a run that exited on its own is judged: a run that timed out, was cancelled or was killed
by a signal keeps its status. Its exit code decides first (in `success_exit_codes`:
succeeded, else failed); a run that so succeeded but whose captured output (the stdout and
stderr tails) matches `fail_if_output_matches` failed. Pure.
"""

from __future__ import annotations

import dataclasses

from raftcron.executor.base import RunOutcome, RunSpec
from raftcron.model import RunStatus
from raftcron.model.job_rules import output_matches


def judge(outcome: RunOutcome, spec: RunSpec) -> RunOutcome:
    """`outcome` with its status (and reason) decided by the job's success rules."""
    if outcome.status not in (RunStatus.SUCCEEDED, RunStatus.FAILED) or outcome.exit_code is None:
        return outcome
    codes = spec.success_exit_codes
    code = outcome.exit_code
    if code in codes:
        status, reason = RunStatus.SUCCEEDED, (None if code == 0 else
                                               f"exit status {code} (in success_exit_codes)")
    else:
        status = RunStatus.FAILED
        reason = outcome.reason if codes == (0,) else (
            f"exit status {code} (not in success_exit_codes)")
    pattern = spec.fail_if_output_matches
    if status is RunStatus.SUCCEEDED and pattern and output_matches(
            pattern, outcome.stdout_tail, outcome.stderr_tail):
        status, reason = RunStatus.FAILED, "output matches fail_if_output_matches"
    if status is outcome.status and reason == outcome.reason:
        return outcome
    return dataclasses.replace(outcome, status=status, reason=reason)
