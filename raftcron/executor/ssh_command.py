"""The shell text an SSH run sends to the target: pure string building, no I/O.

sshd hands a command line to the user's login shell (`$SHELL -c LINE`), which may be bash,
zsh or fish, so every line built here starts with `exec sh -c '<POSIX sh text>'` and nothing
else depends on the login shell.

A run's line (`run_line`) does three things:

1. In the background, `setsid sh -c INNER`: INNER runs in a new session, hence a new process
   group whose id is INNER's pid. Backgrounding matters: a background child of a shell is
   never a process-group leader, so `setsid` calls setsid(2) in place instead of forking, and
   `$!` / `$$` are the group id. (A foreground `setsid` as the last command of `sh -c` may be
   exec'd by the shell, be a group leader already, fork, and lose the exit status.)
2. INNER first writes `RAFTCRON-PGID <pgid>` as the first line of stderr (the side channel
   the executor strips with `PgidFilter`), then exports the environment (`export K='v'`:
   this works where sshd refuses environment passing, which is its default), changes
   directory and `exec`s the command. A timeout or cancel can then kill the whole tree with
   `kill -TERM -<pgid>` over a second session (`kill_line`): closing the channel alone would
   leave the remote processes running.
3. The foreground shell waits for it, stops whatever the command left running in its group
   (SIGTERM, SIGKILL after the grace: as for a local run, a run owns its process tree, and a
   leftover holding stdout open would keep the channel open), removes the uploaded script's
   directory if there is one (also after a kill: the shell is not in the killed group) and
   exits with the command's status.

The target needs a POSIX `sh`, `setsid` (util-linux or busybox), `kill`, `mktemp` and a
`sleep` that takes fractions (GNU, busybox) for the kill grace.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence

from raftcron.errors import ValidationError

#: First line INNER writes to stderr; never reaches the run's output.
PGID_MARKER = b"RAFTCRON-PGID "
#: Longest a marker line can be (it is held back until its newline arrives).
_MARKER_MAX = 64
#: How much stderr (login shell noise) may come before the marker before giving up on it.
_SCAN_MAX = 16 * 1024
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: Passphrase of an encrypted private key: per node first, then the global one.
PASSPHRASE_VAR = "RAFTCRON_SSH_PASSPHRASE"


def sh_line(script: str) -> str:
    """`script` (POSIX sh) as a line any login shell runs: `exec sh -c '<script>'`."""
    return "exec sh -c " + shlex.quote(script)


def validate_env(env: Mapping[str, str]) -> None:
    """Refuse variable names that are not shell identifiers (they could not be exported).

    Raises `ValidationError(field="env")` naming the bad key.
    """
    for key, value in env.items():
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise ValidationError(
                f"environment variable name {key!r} is not a shell identifier", field="env"
            )
        if "\0" in str(value):  # a C string cannot hold it: no way to pass it
            raise ValidationError(f"environment variable {key} contains a NUL byte", field="env")


def command_words(
    command: Sequence[str] | str | None,
    *,
    script_path: str | None = None,
    interpreter: Sequence[str] | str | None = None,
) -> str:
    """The shell words that run the user's command (to follow `exec`).

    An argv list: each argument quoted, so the remote shell sees exactly those arguments. A
    string: run by `sh -c STRING`, like a local string command. An uploaded script: run with
    `interpreter` (an argv list, or a string split like a shell would; None: the script is
    executed directly). Raises `ValidationError` naming `command` or `interpreter`.
    """
    if script_path is not None:
        if isinstance(interpreter, str):
            try:
                interpreter = shlex.split(interpreter)
            except ValueError as exc:
                raise ValidationError(
                    f"cannot split interpreter: {exc}", field="interpreter"
                ) from None
        words = [*(interpreter or []), script_path]
        return " ".join(shlex.quote(str(w)) for w in words)
    if isinstance(command, str):
        if not command.strip():
            raise ValidationError("command is empty", field="command")
        return "sh -c " + shlex.quote(command)
    if not command:
        raise ValidationError("command is empty", field="command")
    return " ".join(shlex.quote(str(arg)) for arg in command)


def run_line(
    words: str,
    *,
    env: Mapping[str, str],
    cwd: str | None = None,
    cleanup_dir: str | None = None,
    grace_seconds: float = 5.0,
) -> str:
    """The full line for one run (see the module docstring). `words` from `command_words`.

    When the command exits on its own, whatever it left running in its process group is
    stopped too (SIGTERM, SIGKILL after `grace_seconds`), as for a local run: a run owns its
    process tree, and a leftover holding stdout open would keep the channel open.
    """
    validate_env(env)
    inner = ['echo "RAFTCRON-PGID $$" >&2']
    inner += [f"export {key}={shlex.quote(str(value))}" for key, value in env.items()]
    if cwd:
        inner.append(f"cd {shlex.quote(cwd)} || exit 1")
    inner.append(f"exec {words}")
    outer = [
        f"setsid sh -c {shlex.quote('; '.join(inner))} & pid=$!",
        "wait $pid",
        "rc=$?",
        _stop_group("$pid", grace_seconds),
    ]
    if cleanup_dir:
        outer.append(f"rm -rf {shlex.quote(cleanup_dir)}")
    outer.append("exit $rc")
    return sh_line("; ".join(outer))


def _stop_group(pgid: str, grace_seconds: float) -> str:
    """sh text: SIGTERM to group `pgid` if it has members, poll every 0.1 s for it to empty,
    SIGKILL once `grace_seconds` have passed. Always finishes (a zombie member that nobody
    reaps counts as alive and only costs the grace period).
    """
    ticks = max(0, round(grace_seconds * 10))
    return (
        f"if kill -TERM -{pgid} 2>/dev/null; then n=0; "
        f"while kill -0 -{pgid} 2>/dev/null; do "
        f"if [ $n -ge {ticks} ]; then kill -KILL -{pgid} 2>/dev/null; break; fi; "
        "sleep 0.1; n=$((n+1)); done; fi"
    )


def kill_line(pgid: int, grace_seconds: float) -> str:
    """SIGTERM to process group `pgid`, then SIGKILL once `grace_seconds` pass with any of it
    left. Polls on the target, so it costs one round trip.
    """
    if pgid <= 1:
        raise ValueError(f"refusing to signal process group {pgid}")
    return sh_line(_stop_group(str(pgid), grace_seconds) + "; exit 0")


def mktemp_line() -> str:
    """Creates a private (0700) directory for an uploaded script and prints its path."""
    return sh_line('umask 077; mktemp -d "${TMPDIR:-/tmp}/raftcron.XXXXXXXX"')


def rm_line(path: str) -> str:
    return sh_line(f"rm -rf {shlex.quote(path)}")


def passphrase_var(node_name: str) -> str:
    """`RAFTCRON_SSH_PASSPHRASE_<NODE>`: the node name upper-cased, other chars as `_`."""
    return f"{PASSPHRASE_VAR}_{re.sub(r'[^A-Za-z0-9]', '_', node_name).upper()}"


def passphrase_for(node_name: str, environ: Mapping[str, str]) -> str | None:
    """The private key's passphrase for `node_name` from `environ`, or None."""
    return environ.get(passphrase_var(node_name)) or environ.get(PASSPHRASE_VAR) or None


class PgidFilter:
    """Sits between the remote stderr and the run's sink: takes the marker line out,
    remembers the process group id, and passes every other byte through unchanged.

    The marker is normally the first line. Lines before it can only come from the login
    shell's start-up files (a `.bashrc` that prints): they are passed through and the search
    goes on, for at most `_SCAN_MAX` bytes. Nothing the job prints can be taken for the
    marker: the job starts after it.
    """

    def __init__(self, write: Callable[[bytes], None]) -> None:
        self._write = write
        self._head = bytearray()
        self._mid_line = False  # _head starts inside a line already passed on in part
        self._scanned = 0
        self._done = False
        self.pgid: int | None = None
        self._listeners: list[Callable[[int | None], None]] = []

    def on_pgid(self, listener: Callable[[int | None], None]) -> None:
        """Call `listener(pgid)` once the marker is seen (None: the stream had no marker)."""
        if self._done:
            listener(self.pgid)
        else:
            self._listeners.append(listener)

    def write(self, data: bytes) -> None:
        if self._done:
            self._write(data)
            return
        self._head += data
        while not self._done:
            if self._scanned > _SCAN_MAX:
                self._finish(None, bytes(self._head))
                return
            newline = self._head.find(b"\n")
            if newline < 0:
                if self._head and (self._mid_line or not _may_be_marker(self._head)):
                    self._pass(bytes(self._head))
                    self._head.clear()
                    self._mid_line = True
                return  # wait for the rest of the line
            line = bytes(self._head[: newline + 1])
            del self._head[: newline + 1]
            pgid = None if self._mid_line else _marker_pgid(line)
            if pgid is not None:
                self._finish(pgid, bytes(self._head))
                return
            self._pass(line)
            self._mid_line = False

    def close(self) -> None:
        """End of stream: whatever was held back was not a marker after all."""
        if not self._done:
            self._finish(None, bytes(self._head))

    def _pass(self, data: bytes) -> None:
        self._scanned += len(data)
        self._write(data)

    def _finish(self, pgid: int | None, passthrough: bytes) -> None:
        self._done = True
        self.pgid = pgid
        self._head = bytearray()
        if passthrough:
            self._write(passthrough)
        for listener in self._listeners:
            listener(pgid)
        self._listeners.clear()


def _may_be_marker(head: bytearray) -> bool:
    """Could `head` (no newline yet) still turn out to be the marker line?"""
    if len(head) >= _MARKER_MAX:
        return False
    if len(head) <= len(PGID_MARKER):
        return PGID_MARKER.startswith(bytes(head))
    return head.startswith(PGID_MARKER) and head[len(PGID_MARKER) :].isdigit()


def _marker_pgid(line: bytes) -> int | None:
    if not line.startswith(PGID_MARKER):
        return None
    digits = line[len(PGID_MARKER) :].strip()
    return int(digits) if digits.isdigit() else None
