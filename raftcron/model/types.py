"""Jobs and nodes as plain values, and the policies they name.

Everything here is a frozen, keyword-only dataclass or a `StrEnum`: no I/O, no clock. A `Job`
or `Node` built by `job_from_dict`/`node_from_dict` has been validated field by field (every
refusal is a `ValidationError` whose `field` is the dotted name of the bad field); one built
directly by its constructor is trusted as it stands. `job_to_dict`/`node_to_dict` give the
canonical JSON form that the API returns and the replicated commands carry; for every valid
value `x`, `x_from_dict(x_to_dict(x)) == x`.

Collections inside these values (`command`, `roles`, `env`, ...) are plain lists and dicts so
they pass unchanged to executors and JSON; treat them as read-only. Because of them the values
are comparable but not hashable.

The validators live in `model/job.py` and `model/node.py`, which import this module; the four
public functions below reach them lazily so this module stays the one public surface without
an import cycle.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

#: Decoded size cap of an uploaded script or binary (it lives in the replicated state).
MAX_SCRIPT_BYTES = 1024 * 1024
#: Bytes of each output stream kept with a run: default and hard cap (docs/jobs.md).
DEFAULT_OUTPUT_TAIL = 4096
MAX_OUTPUT_TAIL = 65536
MAX_RETRIES = 100
MAX_KEEP_RUNS = 100_000
#: Interpreter of a `type = "script"` job that names none.
DEFAULT_SCRIPT_INTERPRETER = ("/bin/sh",)


class Concurrency(StrEnum):
    """What a slot does while the previous run of the same job is still active."""

    ALLOW = "allow"      # run anyway, side by side
    FORBID = "forbid"    # record the new slot as `skipped`
    REPLACE = "replace"  # stop the old run, start the new one
    QUEUE = "queue"      # start after the old run ends; at most one waiting
    QUEUE_ALL = "queue_all"  # every overlapping slot waits, oldest first, up to `queue_cap`


class Catchup(StrEnum):
    """Which missed slots run when scheduling resumes (bounded by `catchup_window`)."""

    LATEST = "latest"  # the newest missed slot, once
    ALL = "all"        # every missed slot, oldest first
    NONE = "none"      # none; all are recorded as `missed`


class Hosts(StrEnum):
    """Placement: one run per slot on one eligible target, or one on every eligible target."""

    ANY = "any"
    ALL = "all"


class JobType(StrEnum):
    COMMAND = "command"  # `command`: argv list, or a string for /bin/sh -c
    SCRIPT = "script"    # `script` (base64) run through `interpreter`
    BINARY = "binary"    # `script` (base64) executed directly


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    LOST = "lost"
    SKIPPED = "skipped"
    MISSED = "missed"
    CANCELLED = "cancelled"
    #: A rolling fan-out's target waiting its turn (`max_parallel`): recorded, not started.
    WAITING = "waiting"

    @property
    def is_active(self) -> bool:
        """Pending or running: the run may still change."""
        return self in ACTIVE_STATUSES

    @property
    def is_terminal(self) -> bool:
        """Every status but pending and running: the run's outcome is final."""
        return not self.is_active


class JobStatus(StrEnum):
    SCHEDULED = "scheduled"
    PAUSED = "paused"
    FINISHED = "finished"  # no slots left: past end_at, max_runs reached, or a fired @at


#: The run-status vocabulary's sets, the one source for every layer (commands, state SQL,
#: API filters, OpenAPI, worker, CLI). Members are `RunStatus`, equal to their strings.
RUN_STATUSES: frozenset[str] = frozenset(RunStatus)
#: A process may exist (or is about to): the run can still change.
ACTIVE_STATUSES: frozenset[str] = frozenset({RunStatus.PENDING, RunStatus.RUNNING})
TERMINAL_STATUSES: frozenset[str] = RUN_STATUSES - ACTIVE_STATUSES - {RunStatus.WAITING}
#: Statuses a `fire` record may carry; skipped and missed are stored as terminal at once,
#: waiting (v4) stays until the leader starts or skips it (`fanout_step`).
FIRE_STATUSES: frozenset[str] = frozenset({RunStatus.PENDING, RunStatus.SKIPPED,
                                           RunStatus.MISSED, RunStatus.WAITING})
#: Statuses a `run_finished` may report.
FINISH_STATUSES: frozenset[str] = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED,
                                             RunStatus.TIMED_OUT, RunStatus.CANCELLED})
#: Outcomes that count as a failure: retried under the job's policy, notified as `failure`.
FAILURE_STATUSES: frozenset[str] = frozenset({RunStatus.FAILED, RunStatus.TIMED_OUT,
                                              RunStatus.LOST})
JOB_STATUSES: frozenset[str] = frozenset(JobStatus)


class NotifyEvent(StrEnum):
    """When a job's notification targets are told."""

    FAILURE = "failure"    # a run ended failed, timed_out or lost
    RECOVERY = "recovery"  # a run succeeded after a failure
    SUCCESS = "success"    # every successful run
    MISSED = "missed"      # a slot was recorded as missed (or skipped) instead of running
    ABSENT = "absent"      # dead man's switch: no success within `absent_after`
    PAUSED = "paused"      # `pause_after_failures` paused the job (told to every target)
    SLOW = "slow"          # a run went past `expected_duration` (told to every target)


class ConnectionType(StrEnum):
    LOCAL = "local"
    SSH = "ssh"


@dataclass(frozen=True, kw_only=True)
class Notify:
    """A job's notification policy. Global targets from the cluster config apply as well."""

    on: list[NotifyEvent] = field(
        default_factory=lambda: [NotifyEvent.FAILURE, NotifyEvent.RECOVERY])
    webhook: str | None = None          # http(s) URL that gets a JSON POST
    email: list[str] = field(default_factory=list)
    #: For `absent`: how long without a success before telling. None: derived from the
    #: schedule by the notifier (e.g. twice the period).
    absent_after: timedelta | None = None
    #: Signs the `webhook`'s bodies (HMAC-SHA256, `X-Raftcron-Signature`). A secret: shown
    #: only to a caller with a token, like `env` values.
    webhook_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True, kw_only=True)
class Owner:
    """A job owner, as distcrond lists them."""

    name: str
    email_address: str | None = None


#: `queue_all`: how many overlapping slots may wait by default, and at most.
DEFAULT_QUEUE_CAP = 10
MAX_QUEUE_CAP = 1000


@dataclass(frozen=True, kw_only=True)
class Job:
    """One job: the job resource of docs/jobs.md.

    Exactly one of `command` (type command) and `script` (type script or binary) is set.
    `schedule` is what the user wrote: a string, or distcrond's `{"interval", "reference"}`,
    or a list of those (several schedules: the union of their slots).
    Times are aware UTC datetimes; durations are timedeltas in whole milliseconds.
    """

    name: str
    description: str = ""
    schedule: str | dict[str, str] | list[str | dict[str, str]]
    tz: str = "UTC"
    type: JobType = JobType.COMMAND
    command: list[str] | str | None = None
    script: str | None = None               # base64, exactly as given
    interpreter: list[str] | None = None    # ["/bin/sh"] by default for scripts
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    user: str | None = None
    timeout: timedelta | None = None        # None: no timeout
    kill_grace: timedelta = timedelta(seconds=5)
    retries: int = 0
    retry_backoff: timedelta = timedelta(seconds=10)
    retry_backoff_max: timedelta = timedelta(minutes=10)
    concurrency: Concurrency = Concurrency.FORBID
    catchup: Catchup = Catchup.LATEST
    catchup_window: timedelta = timedelta(hours=1)
    jitter: timedelta = timedelta(0)
    start_at: datetime | None = None
    end_at: datetime | None = None
    max_runs: int | None = None
    hosts: Hosts = Hosts.ANY
    roles: list[str] = field(default_factory=list)
    keep_runs: int = 100
    paused: bool = False
    output_tail: int = DEFAULT_OUTPUT_TAIL
    notify: Notify = field(default_factory=Notify)
    labels: dict[str, str] = field(default_factory=dict)
    owners: list[Owner] = field(default_factory=list)
    #: Dependencies and success rules (`model.job_rules`, docs/jobs.md).
    after: list[str] = field(default_factory=list)
    on_failure: list[str] = field(default_factory=list)
    pause_after_failures: int | None = None
    success_exit_codes: list[int] = field(default_factory=lambda: [0])
    fail_if_output_matches: str | None = None
    expected_duration: timedelta | None = None
    #: Bytes each output file of a run may grow to (None: the daemon's `output_limit`).
    output_limit: int | None = None
    #: Cron expressions in `tz`: a slot inside one is not run (recorded `skipped`).
    blackout: list[str] = field(default_factory=list)
    #: `queue_all`: at most this many slots wait; beyond it the oldest are `skipped`.
    queue_cap: int = DEFAULT_QUEUE_CAP
    #: `hosts = "all"`: targets started at a time, a number or "25%" (None: all at once).
    max_parallel: int | str | None = None
    #: `hosts = "all"` with `max_parallel`: start further targets after one failed.
    keep_going: bool = True
    #: Runs of the jobs of one group share its limit (config or API); over it they wait.
    concurrency_group: str | None = None

    @property
    def script_bytes(self) -> bytes | None:
        """The decoded script or binary (validated base64), or None for a command job."""
        if self.script is None:
            return None
        try:
            return base64.b64decode("".join(self.script.split()), validate=True)
        except (binascii.Error, ValueError) as exc:  # only for a Job built without validation
            raise ValueError(f"job {self.name!r}: script is not valid base64") from exc


@dataclass(frozen=True, kw_only=True)
class Node:
    """An execution target other than a peer: a remote host over SSH, or a local one.

    An SSH node has `ssh_host`, `ssh_user` and `ssh_port` (22 unless given); a local node has
    none of the `ssh_*` fields (`ssh_port` is None). `known_hosts` None means `~/.ssh/known_hosts`;
    host keys are checked unless `insecure_no_host_key_check` is set explicitly.
    """

    name: str
    roles: list[str] = field(default_factory=list)
    connection_type: ConnectionType = ConnectionType.LOCAL
    ssh_user: str | None = None
    ssh_host: str | None = None
    ssh_port: int | None = None
    ssh_private_key_file: str | None = None
    known_hosts: str | None = None
    insecure_no_host_key_check: bool = False
    capacity: int = 4
    max_sessions: int = 8
    connect_timeout: timedelta = timedelta(seconds=10)
