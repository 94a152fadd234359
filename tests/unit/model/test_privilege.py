"""The privileged-job rule (raftcron.model.privilege): who a job runs as, and who may create it."""

from __future__ import annotations

import pytest

from raftcron.model.privilege import Identity, decide, privileged_reason, ssh_refusal

ROOT = Identity(uid=0, name="root")
DAEMON = Identity(uid=1000, name="raftcron")
NAMELESS = Identity(uid=1000, name=None)
NOBODY = frozenset({"nobody"})


@pytest.mark.parametrize(
    ("user", "daemon", "unprivileged", "privileged"),
    [
        (None, ROOT, frozenset(), True),          # inherits root
        ("", ROOT, frozenset(), True),
        (None, DAEMON, frozenset(), False),       # runs as the daemon's own user
        ("root", DAEMON, frozenset(), True),
        ("0", DAEMON, frozenset(), True),
        ("root", ROOT, frozenset(), True),
        ("0", ROOT, NOBODY, True),
        ("raftcron", DAEMON, frozenset(), False),  # the daemon's own user, by name
        ("1000", DAEMON, frozenset(), False),      # ... and by uid
        ("1000", NAMELESS, frozenset(), False),
        ("raftcron", NAMELESS, frozenset(), True),  # no name known: only the uid matches
        ("backup", DAEMON, frozenset(), True),     # another user
        ("1001", DAEMON, frozenset(), True),
        ("backup", ROOT, frozenset(), True),       # root switching to any user
        ("nobody", ROOT, NOBODY, False),           # ... unless the operator listed it
        ("nobody", DAEMON, NOBODY, False),
        (None, ROOT, NOBODY, True),                # the list never covers "no user"
    ],
)
def test_privileged_reason_table(user: str | None, daemon: Identity,
                                 unprivileged: frozenset[str], privileged: bool) -> None:
    reason = privileged_reason(user, daemon, unprivileged)
    assert (reason is not None) == privileged, reason


@pytest.mark.parametrize(
    ("user", "daemon", "is_admin", "admin_configured", "allow", "allowed"),
    [
        # not privileged: any writer
        (None, DAEMON, False, True, False, True),
        (None, DAEMON, False, False, False, True),
        # privileged, admin token configured: only the admin, whatever allow says
        (None, ROOT, False, True, False, False),
        (None, ROOT, False, True, True, False),
        (None, ROOT, True, True, False, True),
        ("root", DAEMON, False, True, True, False),
        ("root", DAEMON, True, True, False, True),
        ("backup", ROOT, False, True, False, False),
        ("backup", ROOT, True, True, False, True),
        # privileged, no admin token: refused unless the operator allowed them
        (None, ROOT, False, False, False, False),
        ("root", DAEMON, False, False, False, False),
        ("backup", DAEMON, False, False, False, False),
        (None, ROOT, False, False, True, True),
        ("root", DAEMON, False, False, True, True),
    ],
)
def test_decide_table(user: str | None, daemon: Identity, is_admin: bool,
                      admin_configured: bool, allow: bool, allowed: bool) -> None:
    decision = decide(user, daemon, is_admin=is_admin, admin_configured=admin_configured,
                      allow_privileged=allow)
    assert decision.allowed == allowed
    if not allowed:
        assert decision.message and decision.message.startswith("user: ")
        hint = "admin token" if admin_configured else "allow_privileged_jobs"
        assert hint in decision.message


@pytest.mark.parametrize(
    ("user", "ssh_user", "refused"),
    [
        (None, "deploy", False),   # runs as the node's login
        ("deploy", "deploy", False),
        ("backup", "deploy", True),  # a node logs in as one user only
        (None, "root", True),      # root there must be asked for by name ...
        (None, "0", True),
        ("root", "root", False),   # ... which makes the job privileged (admin token)
        ("deploy", "root", True),
    ],
)
def test_ssh_refusal_table(user: str | None, ssh_user: str, refused: bool) -> None:
    reason = ssh_refusal(user, ssh_user, "web1")
    assert (reason is not None) == refused, reason
    if refused:
        assert "web1" in reason  # type: ignore[operator]


def test_root_login_is_privileged_by_the_same_rule() -> None:
    # The one way onto a root SSH login is user = "root", and that needs the admin token.
    assert ssh_refusal("root", "root", "n") is None
    assert privileged_reason("root", DAEMON) is not None
