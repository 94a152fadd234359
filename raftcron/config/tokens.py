"""Named API tokens and their roles: the `[tokens.NAME]` tables of the cluster config.

A token is a bearer secret with a *name* and a *role*::

    [tokens.ci]
    role = "writer"               # reader | writer | admin
    token_env = "CI_TOKEN"        # the value from this environment variable (or: token = "...")

The name is what logs and the audit history show; the value never appears anywhere but the
config (or the environment) and the `Authorization` header. The three single tokens of older
configs (`token`, `read_token`, `admin_token`, and their `RAFTCRON_*` variables) are named
tokens too: `all_tokens` lists them under their config key's name with the role they always
had (writer, reader, admin).

The rules (enforced by `raftcron.api.auth`; one statement of them, here):

- writes need a token when at least one `writer` token is configured;
- reads need a token when `reads_need_token = true` or the single `read_token` is set;
- a job that runs as root or as another user needs an `admin` token (`model.privilege`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from raftcron.model import checks as c

__all__ = ["LEGACY_TOKENS", "NamedToken", "TokenRole", "all_tokens", "parse_tokens"]


class TokenRole(StrEnum):
    """What a token may do, lowest first."""

    READER = "reader"
    WRITER = "writer"
    ADMIN = "admin"


#: The single tokens of the config (`key`) -> the role each has always had.
LEGACY_TOKENS: tuple[tuple[str, TokenRole], ...] = (
    ("token", TokenRole.WRITER),
    ("read_token", TokenRole.READER),
    ("admin_token", TokenRole.ADMIN),
)
_KEYS = ("role", "token", "token_env")
#: Long enough to resist guessing; shorter values are refused when the config is read.
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class NamedToken:
    """One configured token. `value` never shows in repr() or str()."""

    name: str
    role: TokenRole
    value: str = field(repr=False)


def parse_tokens(data: object, environ: Mapping[str, str] | None = None,
                 field_name: str = "tokens") -> tuple[NamedToken, ...]:
    """The `[tokens]` table -> named tokens; ValidationError naming `tokens.NAME.KEY`.

    Each entry has a `role` and exactly one of `token` (the value) or `token_env` (the
    environment variable holding it, read now from `environ`). Two entries with the same
    value are refused: a presented token must name one caller.
    """
    if data is None:
        return ()
    env = os.environ if environ is None else environ
    table = c.mapping(data, field_name)
    found: list[NamedToken] = []
    for name, entry in table.items():
        where = c.sub(field_name, name)
        c.name(name, where)
        spec = c.mapping(entry, where)
        c.check_keys(spec, _KEYS, prefix=where)
        role = c.choice(spec.get("role"), TokenRole, c.sub(where, "role"))
        found.append(NamedToken(name, role, _value(spec, where, env)))
    _refuse_duplicates(found, field_name)
    return tuple(found)


def _value(spec: Mapping[str, Any], where: str, env: Mapping[str, str]) -> str:
    if ("token" in spec) == ("token_env" in spec):
        raise c.fail(where, "give exactly one of 'token' (the value) or 'token_env' "
                            "(the environment variable holding it)")
    if "token_env" in spec:
        var = c.string(spec["token_env"], c.sub(where, "token_env"))
        value = env.get(var, "")
        if not value:
            raise c.fail(c.sub(where, "token_env"), f"environment variable {var} is not set")
        key = "token_env"
    else:
        value, key = c.string(spec["token"], c.sub(where, "token")), "token"
    if len(value) < MIN_TOKEN_LENGTH:
        # The value itself is never echoed back: only its length is wrong.
        raise c.fail(c.sub(where, key), f"a token needs at least {MIN_TOKEN_LENGTH} characters")
    return value


def _refuse_duplicates(tokens: Iterable[NamedToken], field_name: str) -> None:
    seen: dict[str, str] = {}
    for token in tokens:
        if token.value in seen:
            raise c.fail(c.sub(field_name, token.name),
                         f"has the same value as tokens.{seen[token.value]}")
        seen[token.value] = token.name


def all_tokens(named: Iterable[NamedToken], **single: str | None) -> tuple[NamedToken, ...]:
    """The named tokens plus the single ones (`token=`, `read_token=`, `admin_token=`) that
    are set, each under its key's name; a name used twice is refused."""
    tokens = list(named)
    for key, role in LEGACY_TOKENS:
        value = single.get(key)
        if value:
            tokens.append(NamedToken(key, role, value))
    names = [t.name for t in tokens]
    for name in names:
        if names.count(name) > 1:
            raise c.fail(c.sub("tokens", name), f"{name!r} is also a single token's key; "
                                                "name it differently")
    return tuple(tokens)
