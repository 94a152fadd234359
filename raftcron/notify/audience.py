"""Which jobs may have someone to tell: the notifier's cheap test before it reads a run.

`Audience` answers `may_tell(job)` with a set lookup on the loop, so the end of a run whose
job has nobody to tell costs no read. It is a superset: a job it lets through is read and the
read decides the events; a job it leaves out is never notified, so it errs towards yes.

- Without a cluster target (no `[notify] webhook` or `email`) only the jobs that name a
  target of their own and list an event can be told. The leader reads them when it starts
  (`ReadDb.notify_jobs`, through a partial index: few jobs), and until that read
  is done every job may be told.
- With a cluster target every job whose `notify.on` lists an event (the default lists
  `failure`) has someone to tell, so the set would be every job: a read of every spec when
  leadership starts (17 s at 1,000,000 jobs) and a name per job in memory. Instead it keeps
  the complement: the jobs known to want no event (`on = []`), from the `put_job`s applied
  while this peer leads. A job made silent before that is read at its runs' ends and the read
  finds nothing to tell: a read too many, never a notification lost.

Loop-only: the notifier calls it from apply listeners and its own tasks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from raftcron.config.cluster import NotifyConfig
from raftcron.notify import decisions as notify


class Audience:
    """The jobs that may have someone to tell, for one leadership at a time."""

    def __init__(self, config: NotifyConfig) -> None:
        self.config = config
        #: A cluster target: every job with an event to tell has someone to tell it to.
        self.everyone = bool(config.webhook or config.email)
        #: Without a cluster target: the jobs with a target and an event (a superset).
        self._told: set[str] = set()
        #: With a cluster target: the jobs known to want no event.
        self._silent: set[str] = set()
        #: True from `begin_load` to `loaded`: until then every job may be told.
        self.loading = False

    @property
    def needs_load(self) -> bool:
        """Whether a starting leader must read the jobs with a target of their own."""
        return not self.everyone

    def begin_load(self) -> None:
        self.clear()
        self.loading = self.needs_load

    def loaded(self, jobs: Iterable[Mapping[str, Any]]) -> None:
        """The starting leader's read: jobs to add (those with someone to tell count)."""
        self._told.update(str(j["name"]) for j in jobs if self.has_targets(j))
        self.loading = False

    def clear(self) -> None:
        self._told.clear()
        self._silent.clear()
        self.loading = False

    def may_tell(self, job: str) -> bool:
        if self.everyone:
            return job not in self._silent
        return self.loading or job in self._told

    def may_tell_any(self) -> bool:
        """Whether any job at all may be told (a starting leader's recovery looks only then)."""
        return self.everyone or self.loading or bool(self._told)

    def on_put(self, spec: Mapping[str, Any]) -> None:
        """An applied `put_job`: the job's policy as it is now."""
        name = str(spec.get("name"))
        if self.has_targets(spec):
            self._told.add(name)
            self._silent.discard(name)
        else:
            self._told.discard(name)
            if self.everyone:
                self._silent.add(name)

    def on_delete(self, name: str) -> None:
        self._told.discard(name)
        self._silent.discard(name)

    def has_targets(self, job: Mapping[str, Any]) -> bool:
        """Whether a job (a `put_job` spec or a job read from the copy) may have anyone to
        tell: events to notify and a target, its own or the cluster's."""
        policy = job.get("notify") or {}
        if not isinstance(policy, Mapping):
            return True
        if not policy.get("on"):
            return False  # no event wanted (as the notifier's read decides)
        if not (policy.get("webhook") or policy.get("email") or self.config.webhook
                or self.config.email):
            return False  # `targets` would find none: the common case, asked per put in a fill
        where = notify.targets(policy, global_webhook=self.config.webhook,
                               global_email=self.config.email)
        return bool(where.webhooks or where.emails)
