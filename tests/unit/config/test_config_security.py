"""The security keys of the config: tokens, allow_privileged_jobs, unprivileged_users."""

from __future__ import annotations

from pathlib import Path

import pytest

from raftcron.config.daemon import resolve_settings, uid_of
from raftcron.errors import ConfigError
from tests.support.ports import free_port

SELF = "127.0.0.1:{port}"


def settings(tmp_path: Path, text: str, environ: dict[str, str] | None = None,
             **flags: object):
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    port = free_port()
    return resolve_settings(peers=SELF.format(port=port), config=str(path),
                            api=f"127.0.0.1:{free_port()}", data_dir=str(tmp_path / "d"),
                            environ=environ or {}, **flags)  # type: ignore[arg-type]


def test_security_keys_default_to_secure(tmp_path: Path) -> None:
    s = settings(tmp_path, "")
    assert s.read_token is None and s.admin_token is None
    assert s.allow_privileged_jobs is False and s.unprivileged_users == frozenset()


def test_security_keys_from_file_env_and_flag(tmp_path: Path) -> None:
    text = ('token = "w-secret"\nread_token = "r-file"\nadmin_token = "a-file"\n'
            'unprivileged_users = ["nobody", "1234"]\n')
    s = settings(tmp_path, text, environ={"RAFTCRON_READ_TOKEN": "r-env",
                                          "RAFTCRON_ADMIN_TOKEN": "a-env"},
                 allow_privileged_jobs=True)
    assert (s.token, s.read_token, s.admin_token) == ("w-secret", "r-env", "a-env")
    assert s.allow_privileged_jobs is True
    assert s.unprivileged_users == frozenset({"nobody", "1234"})
    for secret in ("w-secret", "r-env", "a-env"):
        assert secret not in repr(s)
    assert settings(tmp_path, "allow_privileged_jobs = true\n").allow_privileged_jobs


@pytest.mark.parametrize(
    ("text", "field", "says"),
    [
        ('unprivileged_users = ["root"]\n', "unprivileged_users", "never unprivileged"),
        ('unprivileged_users = ["0"]\n', "unprivileged_users", "never unprivileged"),
        ('unprivileged_users = ["no body"]\n', "unprivileged_users", "user name"),
        ('allow_privileged_jobs = "yes"\n', "allow_privileged_jobs", "true or false"),
        # reads closed while writes are open
        ('read_token = "r"\n', "read_token", "needs a write token"),
    ],
)
def test_security_keys_refused(tmp_path: Path, text: str, field: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings(tmp_path, text)
    assert (err.value.field or "").startswith(field), err.value
    assert says in err.value.message


def test_uid_of_names_and_numbers() -> None:
    # The daemon refuses an unprivileged_users entry that is uid 0 here by another name.
    assert uid_of("root") == 0 and uid_of("0") == 0 and uid_of("1234") == 1234
    assert uid_of("no-such-user-here") is None
