"""What seeding from `--jobs-dir` does to each job: a pure decision, table-tested.

The rules (docs/jobs.md, "Jobs from files"):

- A job a file defines is *file-managed*: the state marks it `managed_by = "file:<file>"`
  and the API refuses to replace or delete it (409 naming the file). Pause, resume and
  manual runs are operational and allowed.
- A file's job that is not in the state is created from the file (`create`).
- A file-managed job whose file changed is replaced by the file's version (`update`); so is
  one another file defined before (the file was renamed). A job that already matches is left
  alone (`unchanged`): a restart with the same files writes nothing.
- A job made through the API with the name of a file's job: the file wins (`take_over`),
  logged at WARNING, since the operator put the file in `--jobs-dir`.
- `paused` in a file is the job's state when the file creates it. After that pausing and
  resuming are operational: seeding keeps the state's `paused` and never compares it, so a
  restart never reverts a pause or a resume.
- A file-managed job whose file is gone is *released* (`release`, WARNING): it stays, with its
  history, and is managed through the API from then on. It is never deleted because a file is
  missing: a mistyped or unmounted `--jobs-dir` must not delete jobs and their runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["create", "update", "take_over", "unchanged", "release"]

#: The prefix of `managed_by` for a job defined by a file in `--jobs-dir`.
FILE_PREFIX = "file:"


def file_marker(file_name: str) -> str:
    """The `managed_by` value of a job defined by `file_name` (relative to `--jobs-dir`)."""
    return FILE_PREFIX + file_name


@dataclass(frozen=True)
class JobDecision:
    """One job's fate. `job` is what put_job carries (create, update, take_over), else None;
    `managed_by` the marker put_job sets or release_job clears; `notes` say why, for the log,
    `warn` whether they are worth a WARNING."""

    action: Action
    name: str
    managed_by: str
    job: dict[str, Any] | None = None
    notes: tuple[str, ...] = field(default=())
    warn: bool = False


def _definition(job: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if k != "paused"}


def _matches(canonical: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Every field the file defines has the same value in the state (`paused` aside)."""
    return all(k in current and current[k] == v for k, v in _definition(canonical).items())


def decide_jobs(files: Sequence[tuple[str, Mapping[str, Any]]],
                state: Mapping[str, Mapping[str, Any]]) -> list[JobDecision]:
    """Decide every job: `files` are (marker, canonical job dict) pairs, `state` maps a job
    name to the job as the state has it (with `paused` and `managed_by`); it must hold every
    job a file names and every file-managed job. Files first in their order, then releases by
    name."""
    out: list[JobDecision] = []
    named = set()
    for marker, canonical in files:
        name = str(canonical["name"])
        named.add(name)
        current = state.get(name)
        if current is None:
            out.append(JobDecision("create", name, marker, dict(canonical)))
            continue
        owner = current.get("managed_by")
        paused = bool(current.get("paused", False))
        job = {**canonical, "paused": paused}
        notes: list[str] = []
        if bool(canonical.get("paused", False)) != paused:
            notes.append(f"the file says paused = {str(bool(canonical.get('paused'))).lower()} "
                         f"but the job is {'paused' if paused else 'resumed'}; pausing is "
                         "operational, the state's is kept (raftcron jobs pause|resume)")
        if owner is None:
            notes.insert(0, f"it was made through the API (or by a raftcron before file-"
                            f"managed jobs); {marker.removeprefix(FILE_PREFIX)} in --jobs-dir "
                            "defines it now and replaces it")
            out.append(JobDecision("take_over", name, marker, job, tuple(notes), warn=True))
        elif owner != marker:
            notes.insert(0, f"it was defined by {owner.removeprefix(FILE_PREFIX)}, now by "
                            f"{marker.removeprefix(FILE_PREFIX)}")
            out.append(JobDecision("update", name, marker, job, tuple(notes), warn=True))
        elif _matches(canonical, current):
            out.append(JobDecision("unchanged", name, marker, None, tuple(notes)))
        else:
            out.append(JobDecision("update", name, marker, job, tuple(notes)))
    for name in sorted(state):
        owner = state[name].get("managed_by")
        if name in named or not isinstance(owner, str) or not owner.startswith(FILE_PREFIX):
            continue
        out.append(JobDecision(
            "release", name, owner, None,
            (f"its file {owner.removeprefix(FILE_PREFIX)} is no longer in --jobs-dir; the job "
             f"stays and is managed through the API now (remove it with raftcron jobs rm "
             f"{name})",), warn=True))
    return out
