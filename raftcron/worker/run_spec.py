"""From a replicated run record and its job to a `RunSpec` an executor can run.

Pure: no I/O. The job is the API-shaped dict that `ReadDb.get_job` returns (the canonical
`job_to_dict` form plus read-only fields, which are ignored); the node, when the run targets
one, is already a `model.Node`. Each problem is a `ValidationError` naming the field, which
the worker turns into a `failed` run with that message as its reason.

Which job spec runs: the run record carries only the job's name, so a run executes the job as
it is in this peer's copy when the run starts, not as it was when the slot fired. A job
changed between fire and start (milliseconds apart, normally) runs its new command; a job
deleted in between fails with a reason saying so.
"""

from __future__ import annotations

import base64
import binascii
import shlex
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from raftcron.durations import parse_duration, parse_time
from raftcron.errors import ValidationError
from raftcron.executor.base import DEFAULT_KILL_GRACE, DEFAULT_OUTPUT_TAIL, RunSpec
from raftcron.model import DEFAULT_SCRIPT_INTERPRETER, Node
from raftcron.model.sizes import output_limit


def run_id_of(run: Mapping[str, Any]) -> str:
    """A run record's id: `run_id` in a `fire` record, `id` in an API-shaped run."""
    value = run.get("run_id") or run.get("id")
    if not isinstance(value, str) or not value:
        raise ValidationError("run record has no run id", field="run_id")
    return value


def build_run_spec(
    run: Mapping[str, Any], job: Mapping[str, Any], *, self_id: str, target: Node | None
) -> RunSpec:
    """The `RunSpec` for `run` of `job`, executed by peer `self_id` on `target`.

    `target` None means this peer itself.
    """
    kind = str(job.get("type") or "command")
    command: list[str] | str | None = None
    script: bytes | None = None
    interpreter: list[str] | None = None
    if kind == "command":
        command = job.get("command")
        if isinstance(command, list):
            command = [str(a) for a in command]
        elif not isinstance(command, str):
            raise ValidationError("job has no command to run", field="command")
    elif kind in ("script", "binary"):
        script = _decode_script(job.get("script"))
        interpreter = _interpreter(job.get("interpreter"))
        if kind == "script" and not interpreter:
            interpreter = list(DEFAULT_SCRIPT_INTERPRETER)
        if kind == "binary":
            interpreter = None
    else:
        raise ValidationError(f"unknown job type {kind!r}", field="type")
    env = job.get("env") or {}
    if not isinstance(env, Mapping):
        raise ValidationError("env must be an object", field="env")
    return RunSpec(
        run_id=run_id_of(run),
        job=str(run.get("job") or job.get("name")),
        attempt=int(run.get("attempt") or 1),
        slot=parse_time(str(run.get("slot")), field="slot"),
        peer=self_id,
        target=target,
        command=command,
        script=script,
        interpreter=interpreter,
        env={str(k): str(v) for k, v in env.items()},
        cwd=job.get("cwd") or None,
        user=job.get("user") or None,
        timeout=_duration(job.get("timeout"), "timeout"),
        kill_grace=_duration(job.get("kill_grace"), "kill_grace") or DEFAULT_KILL_GRACE,
        output_tail=_output_tail(job.get("output_tail")),
        output_limit=output_limit(job.get("output_limit")),
        triggered_by=run.get("triggered_by") or None,
        success_exit_codes=tuple(int(c) for c in job.get("success_exit_codes") or (0,)),
        fail_if_output_matches=job.get("fail_if_output_matches") or None,
    )


def _decode_script(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValidationError("job has no script content", field="script")
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("script is not valid base64", field="script") from None


def _interpreter(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise ValidationError(f"interpreter: {exc}", field="interpreter") from None
    if isinstance(value, list) and all(isinstance(a, str) for a in value):
        return list(value)
    raise ValidationError("interpreter must be an argv list or a string", field="interpreter")


def _duration(value: Any, field: str) -> timedelta | None:
    if value is None:
        return None
    return parse_duration(value, field=field)


def _output_tail(value: Any) -> int:
    if value is None:
        return DEFAULT_OUTPUT_TAIL
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError("output_tail must be a number of bytes", field="output_tail")
    return value
