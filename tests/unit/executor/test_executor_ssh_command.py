"""The shell text of SSH runs (raftcron.executor.ssh_command), without sshd.

The lines are run here by the login shells sshd could hand them to (bash, dash), which is
what matters: quoting that survives one shell and not another is the classic bug.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raftcron.errors import ValidationError
from raftcron.executor.ssh_command import (
    PgidFilter,
    command_words,
    kill_line,
    passphrase_for,
    passphrase_var,
    run_line,
    validate_env,
)

SHELLS = [s for s in ("bash", "dash", "sh") if shutil.which(s)]


def run_as_login_shell(shell: str, line: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([shell, "-c", line], capture_output=True, timeout=30, check=False)


def strip_marker(stderr: bytes) -> tuple[int | None, bytes]:
    passed: list[bytes] = []
    filt = PgidFilter(passed.append)
    filt.write(stderr)
    filt.close()
    return filt.pgid, b"".join(passed)


@pytest.mark.parametrize("shell", SHELLS)
def test_run_line_env_argv_and_status_survive_login_shell(shell: str, tmp_path):
    env = {"Q": 'it\'s "q" $HOME `id` \\ \n end', "EMPTY": ""}
    words = command_words(["sh", "-c", 'printf "%s|%s|%s" "$Q" "$EMPTY" "$1"; exit 5', "x", "a b"])
    result = run_as_login_shell(shell, run_line(words, env=env, cwd=str(tmp_path)))
    assert result.returncode == 5
    assert result.stdout.decode() == f"{env['Q']}||a b"
    pgid, rest = strip_marker(result.stderr)
    assert pgid is not None and pgid > 1
    assert rest == b""


def test_run_line_runs_in_own_process_group():
    words = command_words("ps -o pgid= -p $$")
    result = run_as_login_shell("sh", run_line(words, env={}))
    pgid, _ = strip_marker(result.stderr)
    assert int(result.stdout.decode().strip()) == pgid


def test_run_line_removes_cleanup_dir(tmp_path):
    doomed = tmp_path / "upload"
    doomed.mkdir()
    (doomed / "script").write_text("echo hi\n")
    words = command_words(None, script_path=str(doomed / "script"), interpreter="/bin/sh -e")
    result = run_as_login_shell("sh", run_line(words, env={}, cleanup_dir=str(doomed)))
    assert result.stdout == b"hi\n"
    assert not doomed.exists()


def test_command_words_string_goes_through_sh_c():
    assert command_words("echo $HOME") == "sh -c 'echo $HOME'"


@pytest.mark.parametrize(
    ("command", "field"), [("", "command"), ("   ", "command"), ([], "command"), (None, "command")]
)
def test_command_words_empty_refused(command, field):
    with pytest.raises(ValidationError) as info:
        command_words(command)
    assert info.value.field == field


def test_command_words_bad_interpreter_names_field():
    with pytest.raises(ValidationError) as info:
        command_words(None, script_path="/tmp/x", interpreter="python 'unclosed")
    assert info.value.field == "interpreter"


@pytest.mark.parametrize("name", ["1ABC", "A-B", "A B", "", "A=B", "Ä"])
def test_validate_env_refuses_non_identifiers(name):
    with pytest.raises(ValidationError) as info:
        validate_env({name: "x"})
    assert info.value.field == "env"


def test_validate_env_refuses_nul():
    with pytest.raises(ValidationError, match="NUL"):
        validate_env({"A": "a\0b"})


ARG = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"))


@given(st.lists(ARG, max_size=5))
@settings(max_examples=40, deadline=None)
def test_command_words_argv_roundtrip_through_sh(argv):
    words = command_words(["printf", "%s\\0", "start", *argv])
    result = subprocess.run(["sh", "-c", words], capture_output=True, check=True)
    assert result.stdout.decode().split("\0")[1:-1] == argv


def test_kill_line_refuses_init_and_own_group():
    for pgid in (0, 1, -5):
        with pytest.raises(ValueError):
            kill_line(pgid, 1.0)


def test_kill_line_of_gone_group_succeeds():
    # A group that does not exist: nothing to signal, and the line still exits 0.
    result = run_as_login_shell("sh", kill_line(2**22 - 3, 0.2))
    assert result.returncode == 0


def test_pgid_filter_marker_split_across_chunks():
    passed: list[bytes] = []
    filt = PgidFilter(passed.append)
    seen: list[int | None] = []
    filt.on_pgid(seen.append)
    for chunk in (b"RAFTC", b"RON-PGID 4", b"21\nerr", b"or\n"):
        filt.write(chunk)
    assert (filt.pgid, seen, b"".join(passed)) == (421, [421], b"error\n")


def test_pgid_filter_skips_login_shell_noise_before_marker():
    passed: list[bytes] = []
    filt = PgidFilter(passed.append)
    for chunk in (b"stty: 'standard input': Inappropriate ioctl", b" for device\nRAFTCRON-PG"):
        filt.write(chunk)
    filt.write(b"ID 77\njob says RAFTCRON-PGID 5\n")
    assert filt.pgid == 77
    assert b"".join(passed) == (
        b"stty: 'standard input': Inappropriate ioctl for device\njob says RAFTCRON-PGID 5\n"
    )


def test_pgid_filter_gives_up_after_scan_limit():
    passed: list[bytes] = []
    filt = PgidFilter(passed.append)
    noise = b"x" * 1000 + b"\n"
    for _ in range(20):
        filt.write(noise)
    filt.write(b"RAFTCRON-PGID 9\n")  # too late: by now the job may be printing
    assert filt.pgid is None
    assert b"".join(passed) == noise * 20 + b"RAFTCRON-PGID 9\n"


def test_pgid_filter_without_marker_passes_everything():
    passed: list[bytes] = []
    filt = PgidFilter(passed.append)
    filt.write(b"sh: 1: setsid: not found\n")
    filt.close()
    assert filt.pgid is None
    assert b"".join(passed) == b"sh: 1: setsid: not found\n"


def test_pgid_filter_close_flushes_partial_prefix():
    passed: list[bytes] = []
    filt = PgidFilter(passed.append)
    seen: list[int | None] = []
    filt.write(b"RAFT")
    filt.close()
    filt.on_pgid(seen.append)  # registered after the end: told at once
    assert (b"".join(passed), seen) == (b"RAFT", [None])


def test_passphrase_lookup_prefers_node_variable():
    assert passphrase_var("db-1.example") == "RAFTCRON_SSH_PASSPHRASE_DB_1_EXAMPLE"
    env = {"RAFTCRON_SSH_PASSPHRASE": "global", "RAFTCRON_SSH_PASSPHRASE_DB_1": "mine"}
    assert passphrase_for("db-1", env) == "mine"
    assert passphrase_for("web", env) == "global"
    assert passphrase_for("web", {}) is None
