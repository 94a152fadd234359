"""Model: the value types of jobs, nodes and runs, their validation and their wire codecs.

Pure (no I/O, no clock, no threads). May import: `raftcron.schedule` and the base modules
(`errors`, `durations`). Modules: `types` (frozen dataclasses and the `StrEnum` vocabularies,
`RunStatus` among them), `job` and `node` (validation from JSON/TOML and the canonical JSON
form), `checks` (field-by-field checks shared by every validator), `commands` (the versioned
JSON command envelope that enters the Raft log; `commands_v4` its version-4 ops), `job_rules`
(dependency, pause and success-rule fields).

The package re-exports the public surface of `types`, `job` and `node`, so callers write
`from raftcron.model import Job, job_from_dict`.
"""

from __future__ import annotations

from raftcron.model.job import job_from_dict, job_to_dict
from raftcron.model.node import node_from_dict, node_to_dict
from raftcron.model.types import (
    ACTIVE_STATUSES,
    DEFAULT_OUTPUT_TAIL,
    DEFAULT_SCRIPT_INTERPRETER,
    FAILURE_STATUSES,
    FINISH_STATUSES,
    FIRE_STATUSES,
    JOB_STATUSES,
    MAX_KEEP_RUNS,
    MAX_OUTPUT_TAIL,
    MAX_RETRIES,
    MAX_SCRIPT_BYTES,
    RUN_STATUSES,
    TERMINAL_STATUSES,
    Catchup,
    Concurrency,
    ConnectionType,
    Hosts,
    Job,
    JobStatus,
    JobType,
    Node,
    Notify,
    NotifyEvent,
    Owner,
    RunStatus,
)

__all__ = [
    "ACTIVE_STATUSES",
    "DEFAULT_OUTPUT_TAIL",
    "DEFAULT_SCRIPT_INTERPRETER",
    "FAILURE_STATUSES",
    "FINISH_STATUSES",
    "FIRE_STATUSES",
    "JOB_STATUSES",
    "MAX_KEEP_RUNS",
    "MAX_OUTPUT_TAIL",
    "MAX_RETRIES",
    "MAX_SCRIPT_BYTES",
    "RUN_STATUSES",
    "TERMINAL_STATUSES",
    "Catchup",
    "Concurrency",
    "ConnectionType",
    "Hosts",
    "Job",
    "JobStatus",
    "JobType",
    "Node",
    "Notify",
    "NotifyEvent",
    "Owner",
    "RunStatus",
    "job_from_dict",
    "job_to_dict",
    "node_from_dict",
    "node_to_dict",
]
