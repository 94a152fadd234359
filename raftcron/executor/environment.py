"""The environment a run's process gets (docs/api.md).

Every run sees `RAFTCRON_JOB`, `RAFTCRON_RUN_ID`, `RAFTCRON_ATTEMPT`, `RAFTCRON_SCHEDULED_AT`
(ISO 8601 UTC with `Z`), `RAFTCRON_SCHEDULED_TS` (epoch seconds, decimal: `1700000000` or
`1700000000.25`), `RAFTCRON_PEER` (the executing peer) and `RAFTCRON_TARGET` (the node it
runs on). These are set last, so a job's own `env` cannot fake them.

A local run also inherits the daemon's environment, minus every `RAFTCRON_*` variable: those
hold the cluster secret and API tokens (`RAFTCRON_SECRET`, `RAFTCRON_TOKEN`,
`RAFTCRON_ADMIN_TOKEN`) and the daemon's own settings, none of which a job may see. A remote
(SSH) run gets only `job_env` — the remote host has its own environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime

from raftcron.durations import format_time
from raftcron.executor.base import RunSpec

#: Never passed from the daemon's environment to a job (all of RAFTCRON_* is withheld).
SECRET_VARS = frozenset({"RAFTCRON_SECRET", "RAFTCRON_TOKEN", "RAFTCRON_ADMIN_TOKEN"})
_PREFIX = "RAFTCRON_"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_seconds(t: datetime) -> str:
    """Aware datetime -> epoch seconds as an exact decimal string (no float rounding)."""
    delta = t.astimezone(UTC) - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), 1_000_000)
    if not frac:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:06d}".rstrip("0")


def raftcron_vars(spec: RunSpec) -> dict[str, str]:
    """The `RAFTCRON_*` variables of docs/api.md for `spec` (`RAFTCRON_TRIGGERED_BY` only
    for a run a dependency started)."""
    extra = {"RAFTCRON_TRIGGERED_BY": spec.triggered_by} if spec.triggered_by else {}
    return {**extra,
        "RAFTCRON_JOB": spec.job,
        "RAFTCRON_RUN_ID": spec.run_id,
        "RAFTCRON_ATTEMPT": str(spec.attempt),
        "RAFTCRON_SCHEDULED_AT": format_time(spec.slot),
        "RAFTCRON_SCHEDULED_TS": epoch_seconds(spec.slot),
        "RAFTCRON_PEER": spec.peer,
        "RAFTCRON_TARGET": spec.target_name,
    }


def job_env(spec: RunSpec) -> dict[str, str]:
    """The job's own `env` plus the `RAFTCRON_*` variables (what an SSH run sends)."""
    env = {str(k): str(v) for k, v in spec.env.items()}
    env.update(raftcron_vars(spec))
    return env


def inherited_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) without any `RAFTCRON_*` variable."""
    source = os.environ if base is None else base
    return {k: v for k, v in source.items() if not k.startswith(_PREFIX)}


def local_env(
    spec: RunSpec,
    base: Mapping[str, str] | None = None,
    *,
    identity: Mapping[str, str] | None = None,
    inherited: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The full environment of a local run, each layer overriding the one before.

    Inherited (`inherited_env(base)`, or `inherited` when the caller built it once already),
    then `identity` (HOME/USER/LOGNAME of the user the run is switched to), then the job's
    env, then the `RAFTCRON_*` variables.
    """
    env = dict(inherited) if inherited is not None else inherited_env(base)
    env.update(identity or {})
    env.update(job_env(spec))
    return env
