"""What a local run needs before its process starts: the user to switch to, the argv (a
script written to a private scratch directory), the working directory; and how a failed start
or a signal is described. `StartError` is a start refused for a reason the run records.

Split from `local.py`, which starts, watches and stops the process.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import signal
import tempfile
from collections.abc import Mapping
from pathlib import Path

from raftcron.executor.base import RunSpec

__all__ = ["StartError", "check_cwd", "prepare_argv", "resolve_user", "signal_name",
           "spawn_failure"]


class StartError(Exception):
    """The run could not be started; `reason` is what the outcome says."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def resolve_user(user: str | None) -> tuple[dict[str, object], dict[str, str] | None]:
    """Popen's user/group/extra_groups for `user`, and HOME/USER/LOGNAME for its env.

    Both empty when there is nothing to change (no user, or the daemon's own user).
    """
    if not user:
        return {}, None
    try:
        pw = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except (KeyError, OverflowError):
        raise StartError(f"user {user!r} does not exist on this peer") from None
    identity = {"HOME": pw.pw_dir, "USER": pw.pw_name, "LOGNAME": pw.pw_name}
    if pw.pw_uid == os.geteuid():
        return {}, identity
    if os.geteuid() != 0:
        raise StartError(f"cannot run as user {user!r}: the daemon is not running as root")
    groups = os.getgrouplist(pw.pw_name, pw.pw_gid)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": groups}, identity


def prepare_argv(
    spec: RunSpec, scratch_dir: Path | None, ids: Mapping[str, object]
) -> tuple[list[str], Path | None]:
    """The argv to execute, and the temp dir to remove afterwards (scripts only)."""
    if spec.script is not None:
        interpreter = spec.interpreter
        if isinstance(interpreter, str):
            try:
                interpreter = shlex.split(interpreter)
            except ValueError as exc:
                raise StartError(f"interpreter: {exc}") from None
        if scratch_dir is not None:
            Path(scratch_dir).mkdir(parents=True, exist_ok=True)
        try:
            scratch = Path(tempfile.mkdtemp(prefix="raftcron-run-", dir=scratch_dir))
        except OSError as exc:
            raise StartError(f"cannot write the script: {exc}") from None
        path = scratch / ("script" if interpreter else "binary")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o700)
            with os.fdopen(fd, "wb") as f:
                f.write(spec.script)
            os.chmod(path, 0o700)
            if "user" in ids:  # the dropped user must be able to read and run it
                for p in (scratch, path):
                    os.chown(p, int(ids["user"]), int(ids["group"]))  # type: ignore[call-overload]
        except OSError as exc:
            shutil.rmtree(scratch, ignore_errors=True)
            raise StartError(f"cannot write the script: {exc}") from None
        return [*(interpreter or []), str(path)], scratch
    command = spec.command
    if isinstance(command, str):
        if not command.strip():
            raise StartError("command is empty")
        return ["/bin/sh", "-c", command], None
    if isinstance(command, list | tuple) and command and all(isinstance(a, str) for a in command):
        return list(command), None
    raise StartError("nothing to run: command must be a non-empty argv list or a string")


def check_cwd(cwd: str | None) -> None:
    if cwd and not os.path.isdir(cwd):
        raise StartError(f"working directory {cwd!r} does not exist on this peer")


def spawn_failure(argv: list[str], cwd: str | None, exc: BaseException) -> str:
    if isinstance(exc, OSError):
        what = (exc.strerror or str(exc)).lower()
        if cwd and exc.filename is not None and os.fsdecode(exc.filename) == cwd:
            return f"cannot enter working directory {cwd!r}: {what}"
        return f"cannot start {argv[0]!r}: {what}"
    return f"cannot start {argv[0]!r}: {exc}"


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)
