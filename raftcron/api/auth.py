"""Who is asking, and may they: the one place that authorises an API request.

Three optional tokens, compared in constant time (`hmac.compare_digest`), each presented as
`Authorization: Bearer <token>`:

- the write token (`RAFTCRON_TOKEN` / `token`): every write. Unset: writes are open.
- the read token (`RAFTCRON_READ_TOKEN` / `read_token`): when set, every read needs it (or
  the write or admin token). Unset (the default): reads are open.
- the admin token (`RAFTCRON_ADMIN_TOKEN` / `admin_token`): good for everything, and the
  only token that may create or change a privileged job (`raftcron.model.privilege`).

A caller's `Role` is the highest a presented token earns. Each route says what it `Need`s
(`routes.py`): `NONE` (liveness, readiness, the static dashboard shell), `READ` or `WRITE`.
A presented token that matches none is refused (401) wherever a token counts; on `NONE`
routes it is ignored, so a probe with a stale header still sees the peer alive.

Secrets (a job's `env` values) are shown only to a caller holding a valid token of any kind
(`Request.sees_secrets`): with no token configured nobody can prove who they are, so nobody
sees them.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from raftcron.api.http import HttpError, Role

__all__ = ["Need", "Role", "Tokens", "authorize", "bearer", "role_of"]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class Need(StrEnum):
    """What a route requires."""

    NONE = "none"
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class Tokens:
    """The configured tokens (None: not configured). Never shown by repr()."""

    write: str | None = field(default=None, repr=False)
    read: str | None = field(default=None, repr=False)
    admin: str | None = field(default=None, repr=False)


def bearer(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, value = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _same(presented: str, configured: str | None) -> bool:
    if configured is None:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), configured.encode("utf-8"))


def role_of(presented: str | None, tokens: Tokens) -> Role | None:
    """The role `presented` earns; None when a token was presented that matches none.

    Every configured token is compared (no early exit), so the time taken does not say
    which one matched."""
    if presented is None:
        return Role.ANONYMOUS
    matches = [(Role.ADMIN, _same(presented, tokens.admin)),
               (Role.WRITER, _same(presented, tokens.write)),
               (Role.READER, _same(presented, tokens.read))]
    for role, matched in matches:
        if matched:
            return role
    return None


def authorize(need: Need, presented: str | None, tokens: Tokens) -> Role:
    """The caller's role if it may use a route needing `need`; HttpError 401/403 otherwise."""
    role = role_of(presented, tokens)
    if need is Need.NONE:
        return role if role is not None else Role.ANONYMOUS
    if role is None:
        raise HttpError(401, "authorization: wrong token", field="authorization",
                        headers=_CHALLENGE)
    if need is Need.READ:
        if role >= Role.READER or tokens.read is None:
            return role
        raise HttpError(401, "authorization: reads need 'Authorization: Bearer <token>' "
                             "(the read, write or admin token)", field="authorization",
                        headers=_CHALLENGE)
    if role >= Role.WRITER or tokens.write is None:
        return role
    if role is Role.READER:
        raise HttpError(403, "authorization: the read token cannot write",
                        field="authorization")
    raise HttpError(401, "authorization: this write needs 'Authorization: Bearer <token>'",
                    field="authorization", headers=_CHALLENGE)

