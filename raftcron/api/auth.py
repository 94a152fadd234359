"""Who is asking, and may they: the one place that authorises an API request.

Named tokens (`[tokens.NAME]`, each a reader, writer or admin: `raftcron.config.tokens`) and
three optional single ones, all compared in constant time (`hmac.compare_digest`), each
presented as `Authorization: Bearer <token>`. The caller's token *name* (never its value) goes
with the request (`Request.actor`) into the log and the audit history. The single tokens:

- the write token (`RAFTCRON_TOKEN` / `token`): every write. Without any writer token
  configured, writes are open.
- the read token (`RAFTCRON_READ_TOKEN` / `read_token`): when set, every read needs a token
  (as with `reads_need_token = true`). Otherwise (the default) reads are open.
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
from raftcron.config.tokens import NamedToken, TokenRole, all_tokens

__all__ = ["Need", "Role", "Tokens", "admit", "authorize", "bearer", "identify", "role_of"]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


class Need(StrEnum):
    """What a route requires."""

    NONE = "none"
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class Tokens:
    """The configured tokens (None: not configured). Never shown by repr().

    `write`, `read` and `admin` are the single tokens of the config; `named` the
    `[tokens.NAME]` ones (`raftcron.config.tokens` states the rules)."""

    write: str | None = field(default=None, repr=False)
    read: str | None = field(default=None, repr=False)
    admin: str | None = field(default=None, repr=False)
    named: tuple[NamedToken, ...] = ()
    reads_need_token: bool = False
    entries: tuple[NamedToken, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", all_tokens(
            self.named, token=self.write, read_token=self.read, admin_token=self.admin))

    @property
    def writes_closed(self) -> bool:
        """Writes need a token: at least one writer token is configured."""
        return any(t.role is TokenRole.WRITER for t in self.entries)

    @property
    def reads_closed(self) -> bool:
        """Reads need a token: `reads_need_token`, or the single read token is set."""
        return self.reads_need_token or self.read is not None

    @property
    def admin_configured(self) -> bool:
        """An admin token exists: privileged jobs need it (`model.privilege`)."""
        return any(t.role is TokenRole.ADMIN for t in self.entries)


#: A token's role in the config -> what it proves to the API.
_ROLES = {TokenRole.READER: Role.READER, TokenRole.WRITER: Role.WRITER,
          TokenRole.ADMIN: Role.ADMIN}


def bearer(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, value = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def identify(presented: str | None, tokens: Tokens) -> tuple[Role, str | None] | None:
    """The role `presented` earns and the matching token's name (`(ANONYMOUS, None)` without a
    token); None when a token was presented that matches none.

    Every configured token is compared in constant time (`hmac.compare_digest`), with no early
    exit, so the time taken does not say which one matched."""
    if presented is None:
        return Role.ANONYMOUS, None
    # aiohttp decodes header bytes as UTF-8 with surrogateescape: a value that is not UTF-8
    # (schemathesis sent one) is encoded back to its bytes, matches nothing, and is a 401.
    given = presented.encode("utf-8", "surrogateescape")
    found: tuple[Role, str | None] | None = None
    for token in tokens.entries:
        if hmac.compare_digest(given, token.value.encode("utf-8")):
            role = _ROLES[token.role]
            if found is None or role > found[0]:  # the highest role the value earns
                found = role, token.name
    return found


def role_of(presented: str | None, tokens: Tokens) -> Role | None:
    """The role `presented` earns; None when a token was presented that matches none."""
    caller = identify(presented, tokens)
    return None if caller is None else caller[0]


def authorize(need: Need, presented: str | None, tokens: Tokens) -> Role:
    """The caller's role if it may use a route needing `need`; HttpError 401/403 otherwise."""
    return admit(need, presented, tokens)[0]


def admit(need: Need, presented: str | None,
          tokens: Tokens) -> tuple[Role, str | None]:
    """`authorize`, also giving the name of the caller's token (None: no token)."""
    caller = identify(presented, tokens)
    if need is Need.NONE:
        return caller if caller is not None else (Role.ANONYMOUS, None)
    if caller is None:
        raise HttpError(401, "authorization: wrong token", field="authorization",
                        headers=_CHALLENGE)
    role = caller[0]
    if need is Need.READ:
        if role >= Role.READER or not tokens.reads_closed:
            return caller
        raise HttpError(401, "authorization: reads need 'Authorization: Bearer <token>' "
                             "(a reader, writer or admin token)", field="authorization",
                        headers=_CHALLENGE)
    if role >= Role.WRITER or not tokens.writes_closed:
        return caller
    if role is Role.READER:
        raise HttpError(403, "authorization: a reader token cannot write",
                        field="authorization")
    raise HttpError(401, "authorization: this write needs 'Authorization: Bearer <token>'",
                    field="authorization", headers=_CHALLENGE)
