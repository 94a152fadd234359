"""The top of the command line: --version, --help, --help-daemon, unknown commands, and the
completion scripts (run through a real bash)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from raftcron import __version__
from raftcron.cli import SUBCOMMANDS, main


def test_cli_version_prints_the_package_version(capsys: pytest.CaptureFixture) -> None:
    for flag in ("--version", "-V"):
        assert main([flag]) == 0
        assert capsys.readouterr().out == f"raftcron {__version__}\n"


def test_cli_help_lists_every_subcommand_and_how_to_run_a_peer(
        capsys: pytest.CaptureFixture) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for name in SUBCOMMANDS:
        assert any(line.split()[:1] == [name] and len(line.split()) > 1 for line in lines), name
    assert "raftcron --peers a:7100,b:7100,c:7100" in out
    assert "--help-daemon" in out


def test_cli_help_daemon_shows_the_daemon_flags(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help-daemon"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--peers", "--self", "--data-dir", "--config", "--api"):
        assert flag in out


def test_cli_unknown_command_exits_2_with_a_suggestion(capsys: pytest.CaptureFixture) -> None:
    assert main(["jbos", "list"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'jbos'" in err and "'jobs'" in err and "Traceback" not in err


def test_cli_bad_usage_exits_2_without_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "raftcron", "completion", "fish"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr and "Traceback" not in proc.stderr


def _complete(script: str, *words: str) -> list[str]:
    words_text = " ".join(f"'{w}'" for w in words)
    program = (f"{script}\nCOMP_WORDS=(raftcron {words_text}); "
               "COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _raftcron; echo \"${COMPREPLY[*]}\"")
    proc = subprocess.run(["bash", "--norc", "--noprofile", "-c", program],
                          capture_output=True, text=True, timeout=30, check=True)
    return proc.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_cli_completion_bash_completes_commands_actions_options_and_choices(
        capsys: pytest.CaptureFixture) -> None:
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert sorted(_complete(script, "")) == sorted(SUBCOMMANDS)
    assert _complete(script, "jobs", "--api", "http://x", "pa") == ["pause"]
    assert _complete(script, "jobs", "add", "--concurrency", "") == [
        "allow", "forbid", "replace", "queue", "queue_all"]
    assert _complete(script, "--log-f") == ["--log-format"]
    assert _complete(script, "completion", "") == ["bash", "zsh"]
    assert "--data-dir" in _complete(script, "restore", "--")


def test_cli_completion_zsh_wraps_the_bash_script(capsys: pytest.CaptureFixture) -> None:
    assert main(["completion", "zsh"]) == 0
    script = capsys.readouterr().out
    assert script.startswith("#compdef raftcron\n") and "bashcompinit" in script
    assert "complete -o default -F _raftcron raftcron" in script
