"""Who a job runs as, and who may create it: the one rule, as pure functions (docs/jobs.md).

A job is *privileged* when it will run as root or as another user than the daemon's:

- `user` is `root` or `0` (uid 0, whatever the daemon runs as);
- `user` names another user than the daemon's (by name or numeric uid): a root daemon drops
  privileges to it, and that user's files and processes are then the job's;
- no `user`, and the daemon runs as uid 0: the job inherits root.

So on a root daemon every job is privileged (it runs as root, or as a user root switches
to), unless its `user` is one the operator listed in `unprivileged_users` (accounts with
nothing to protect, such as `nobody`; never root): naming one of those is enough for the
write token. A privileged job may be created or changed only by the admin token. When no
admin token is configured, privileged jobs are refused unless the operator opted in with
`allow_privileged_jobs = true` (then any writer may create them, as before). A job that is
not privileged needs only the write token. The check is made on the peer that answers the
write, against that peer's own user: peers are expected to run as the same user.

SSH nodes. A job on an SSH node runs as the node's `ssh_user`: a job whose `user` is set
runs only where `user` equals that `ssh_user`. A job with no `user` runs on a node that
logs in as `root` only if it says `user = "root"`, which makes it privileged: so root on a
remote host always takes the same admin decision as root here, whatever node is added
later (`ssh_refusal`, checked by the SSH executor at run time).
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

ROOT_NAMES = frozenset({"root", "0"})


@dataclass(frozen=True)
class Identity:
    """A Unix user: the daemon's effective uid and its name (the name may be unknown)."""

    uid: int
    name: str | None = None

    @classmethod
    def current(cls) -> Identity:
        """This process's effective user."""
        uid = os.geteuid()
        try:
            name: str | None = pwd.getpwuid(uid).pw_name
        except KeyError:  # a uid with no passwd entry (containers): compare by number only
            name = None
        return cls(uid=uid, name=name)


def _is_self(user: str, daemon: Identity) -> bool:
    if user.isdigit():
        return int(user) == daemon.uid
    return daemon.name is not None and user == daemon.name


def privileged_reason(user: str | None, daemon: Identity,
                      unprivileged_users: frozenset[str] = frozenset()) -> str | None:
    """Why a job with `user` is privileged on a daemon running as `daemon`, or None.

    `unprivileged_users`: users any writer may name (root in it is ignored)."""
    if not user:
        if daemon.uid == 0:
            return ("the job has no user and the daemon runs as root, so it would run as "
                    "root: name a user listed in unprivileged_users, or use the admin token")
        return None
    if user in ROOT_NAMES:
        return "the job runs as root"
    if _is_self(user, daemon):
        return None if daemon.uid != 0 else "the job runs as root"
    if user in unprivileged_users:
        return None
    own = daemon.name or f"uid {daemon.uid}"
    return f"the job runs as user {user!r}, not as the daemon's user {own!r}"


@dataclass(frozen=True)
class Decision:
    """Whether a job write is allowed, and the message for a refusal."""

    allowed: bool
    message: str | None = None


def decide(user: str | None, daemon: Identity, *, is_admin: bool, admin_configured: bool,
           allow_privileged: bool, unprivileged_users: frozenset[str] = frozenset(),
           ) -> Decision:
    """May a caller (`is_admin`: it presented the admin token) create or change this job?"""
    reason = privileged_reason(user, daemon, unprivileged_users)
    if reason is None:
        return Decision(True)
    if admin_configured:
        if is_admin:
            return Decision(True)
        return Decision(False, f"user: {reason}; only the admin token may create or change it")
    if allow_privileged:
        return Decision(True)
    return Decision(False, f"user: {reason}; no admin token is configured, and privileged "
                           "jobs are refused unless allow_privileged_jobs = true")


def ssh_refusal(user: str | None, ssh_user: str | None, node: str) -> str | None:
    """Why a job with `user` may not run on SSH node `node` logging in as `ssh_user`, or None."""
    if user:
        if user != ssh_user:
            return (f"cannot run as {user!r} on SSH node {node!r}: commands run as its "
                    f"ssh_user {ssh_user!r}")
        return None
    if ssh_user in ROOT_NAMES:
        return (f"SSH node {node!r} logs in as root: only a job with user = \"root\" (which "
                "needs the admin token) runs there")
    return None
