"""Named tokens with roles (`config/tokens.py`) and how the API checks them (`api/auth.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from raftcron.api.auth import Need, Role, Tokens, admit, identify
from raftcron.api.http import HttpError
from raftcron.config.daemon import resolve_settings
from raftcron.config.tokens import NamedToken, TokenRole, parse_tokens
from raftcron.errors import ConfigError, ValidationError
from tests.support.ports import free_port

CI = "ci-token-0123456789"
OPS = "ops-token-0123456789"
VIEW = "view-token-0123456789"


def settings(tmp_path: Path, text: str, environ: dict[str, str] | None = None):
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    return resolve_settings(peers=f"127.0.0.1:{free_port()}", config=str(path),
                            api=f"127.0.0.1:{free_port()}", data_dir=str(tmp_path / "d"),
                            environ=environ or {})


def test_named_tokens_from_file_and_environment(tmp_path: Path) -> None:
    text = ('reads_need_token = true\n'
            f'[tokens.ci]\nrole = "writer"\ntoken = "{CI}"\n'
            '[tokens.ops]\nrole = "admin"\ntoken_env = "OPS_TOKEN"\n')
    s = settings(tmp_path, text, environ={"OPS_TOKEN": OPS})
    assert [(t.name, t.role, t.value) for t in s.named_tokens] == [
        ("ci", TokenRole.WRITER, CI), ("ops", TokenRole.ADMIN, OPS)]
    assert s.reads_need_token is True
    assert CI not in repr(s) and OPS not in repr(s)


@pytest.mark.parametrize(("data", "field", "says"), [
    ({"ci": {"role": "root", "token": CI}}, "tokens.ci.role", "expected one of"),
    ({"ci": {"role": "writer"}}, "tokens.ci", "exactly one of"),
    ({"ci": {"role": "writer", "token": CI, "token_env": "X"}}, "tokens.ci", "exactly one of"),
    ({"ci": {"role": "writer", "token": "short"}}, "tokens.ci.token", "at least 16"),
    ({"ci": {"role": "writer", "token_env": "UNSET"}}, "tokens.ci.token_env", "not set"),
    ({"ci": {"role": "writer", "token": CI, "tokn": 1}}, "tokens.ci.tokn", "did you mean"),
    ({"ci": {"role": "writer", "token": CI}, "ops": {"role": "admin", "token": CI}},
     "tokens.ops", "same value as tokens.ci"),
    ({"bad name!": {"role": "writer", "token": CI}}, "tokens.bad name!", ""),
])
def test_named_token_errors_name_the_field(data, field: str, says: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_tokens(data, environ={})
    assert err.value.field == field and says in err.value.message
    assert CI not in err.value.message  # a value is never echoed back


def test_single_token_key_cannot_be_reused_as_a_name(tmp_path: Path) -> None:
    text = f'token = "{OPS}"\n[tokens.token]\nrole = "reader"\ntoken = "{CI}"\n'
    with pytest.raises(ConfigError) as err:
        settings(tmp_path, text)
    assert err.value.field == "tokens.token"


def test_closing_reads_needs_a_writer_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        settings(tmp_path,
                 f'reads_need_token = true\n[tokens.v]\nrole = "reader"\ntoken = "{VIEW}"\n')
    assert err.value.field == "reads_need_token"


NAMED = Tokens(named=(NamedToken("ci", TokenRole.WRITER, CI),
                      NamedToken("ops", TokenRole.ADMIN, OPS),
                      NamedToken("view", TokenRole.READER, VIEW)))
CLOSED = Tokens(named=NAMED.named, reads_need_token=True)
ADMIN_ONLY = Tokens(named=(NamedToken("ops", TokenRole.ADMIN, OPS),))
LEGACY = Tokens(write="w-tok", read="r-tok", admin="a-tok")


@pytest.mark.parametrize(("presented", "tokens", "caller"), [
    (CI, NAMED, (Role.WRITER, "ci")),
    (OPS, NAMED, (Role.ADMIN, "ops")),
    (VIEW, NAMED, (Role.READER, "view")),
    (None, NAMED, (Role.ANONYMOUS, None)),
    ("nope", NAMED, None),
    ("w-tok", LEGACY, (Role.WRITER, "token")),
    ("r-tok", LEGACY, (Role.READER, "read_token")),
    ("a-tok", LEGACY, (Role.ADMIN, "admin_token")),
])
def test_identify_gives_role_and_name(presented, tokens: Tokens, caller) -> None:
    assert identify(presented, tokens) == caller


@pytest.mark.parametrize(("need", "presented", "tokens", "outcome"), [
    (Need.WRITE, CI, NAMED, (Role.WRITER, "ci")),
    (Need.WRITE, None, NAMED, 401),        # a writer token exists: writes are closed
    (Need.WRITE, VIEW, NAMED, 403),        # a reader cannot write
    (Need.READ, None, NAMED, (Role.ANONYMOUS, None)),  # reads open by default
    (Need.READ, None, CLOSED, 401),        # reads_need_token
    (Need.READ, VIEW, CLOSED, (Role.READER, "view")),
    (Need.WRITE, None, ADMIN_ONLY, (Role.ANONYMOUS, None)),  # no writer token: writes open
    (Need.READ, None, LEGACY, 401),        # the single read token closes reads
])
def test_admit_table(need: Need, presented, tokens: Tokens, outcome) -> None:
    if isinstance(outcome, int):
        with pytest.raises(HttpError) as err:
            admit(need, presented, tokens)
        assert err.value.status == outcome
    else:
        assert admit(need, presented, tokens) == outcome


def test_admin_configured_by_a_named_admin_token() -> None:
    assert ADMIN_ONLY.admin_configured and NAMED.writes_closed and not ADMIN_ONLY.writes_closed
    assert not Tokens(write="w").admin_configured
