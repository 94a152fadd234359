"""Starting a run's process through glibc's `posix_spawn`, with the GIL released.

Why: Python 3.11's `subprocess` holds the GIL across its `vfork()`, and a vforked parent
waits until the child has called `exec`. On a busy machine a new child waits for a core, so
every start froze the whole peer (API, raft thread, scheduler) for as long as that took:
measured at 1,000 runs due a second on a 2-core box, a third of a peer's time. (CPython
3.12 releases the GIL there; 3.11 never got that change.) `subprocess` also gives the GIL
up and takes it back around each of its own syscalls, and under contention each hand-back
waits for the interpreter's switch interval.

Here the C library does the whole start in one call made through `ctypes.CDLL`, which
releases the GIL for the call; the few cheap calls around it (`pipe2`, the attribute and
file-action set-up) go through `ctypes.PyDLL`, which keeps it. The child gets what
`subprocess.Popen(..., start_new_session=True, close_fds=True, stdin=DEVNULL,
stdout=PIPE, stderr=PIPE, cwd=..., env=..., umask=...)` gives it: a new session, stdin
from /dev/null, stdout and stderr to pipes, no other descriptor, the working directory,
the environment, the umask; and every signal at its default disposition, unblocked.

- The umask: `posix_spawn` has no umask action and the umask is the process's, so a thread
  that spawns calls `private_fs()` first (`unshare(CLONE_FS)`: this thread gets its own
  umask and working directory, nobody else sees them change) and `spawn` sets the job's
  umask around the call. Without `private_fs()`, `spawn` only starts processes that
  inherit the process umask.
- The program: a name without `/` is looked up in the `PATH` of the child's environment,
  as `Popen` does (cached; a cached path that no longer starts is looked up again).
- `available()` is False (and the caller uses `Popen`) off Linux/glibc, or with a C
  library older than 2.34 (`posix_spawn_file_actions_addclosefrom_np`).
- Switching user (setuid/setgid/setgroups) is not possible here: such runs use `Popen`.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence

__all__ = ["SpawnedProcess", "available", "can_spawn", "private_fs", "spawn"]

_POSIX_SPAWN_SETSIGDEF = 0x04
_POSIX_SPAWN_SETSIGMASK = 0x08
_POSIX_SPAWN_SETSID = 0x80
_CLONE_FS = 0x00000200
#: Bytes reserved for glibc's opaque types (x86_64: 80, 336 and 128 bytes).
_OPAQUE = 1024
#: Programs whose path is remembered (per PATH).
_PATHS_CACHED = 256


def _load() -> tuple[ctypes.CDLL, ctypes.PyDLL] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        released = ctypes.CDLL(None, use_errno=True)
        held = ctypes.PyDLL(None, use_errno=True)
        for name in ("posix_spawn", "posix_spawn_file_actions_addclosefrom_np",
                     "posix_spawn_file_actions_addchdir_np", "posix_spawnattr_setflags",
                     "pipe2", "unshare"):
            getattr(held, name)
    except (OSError, AttributeError):
        return None
    return released, held


_LIBS = _load()
_local = threading.local()
_paths: OrderedDict[tuple[str, str], bytes] = OrderedDict()
_paths_lock = threading.Lock()


def available() -> bool:
    """Whether `spawn` can be used here (Linux, glibc >= 2.34)."""
    return _LIBS is not None


def private_fs() -> bool:
    """Give the calling thread its own umask and working directory (see the module
    docstring); True when it has them. Call it in a thread that only starts processes."""
    if getattr(_local, "private", False):
        return True
    if _LIBS is None:
        return False
    _local.private = _LIBS[1].unshare(_CLONE_FS) == 0
    return bool(_local.private)


def can_spawn(*, cwd: str | None = None, env: Mapping[str, str] | None = None,
              umask: int = -1, **others: object) -> bool:
    """Whether `spawn` does what `subprocess.Popen(**these)` would: no user or group to
    switch to (anything else in `others` is not `spawn`'s), and a umask only from a thread
    with `private_fs()`."""
    del cwd, env
    if others:
        return False
    return umask == -1 or bool(getattr(_local, "private", False))


class _PipeEnd:
    """The parent's end of a child's stdout or stderr pipe (what `GroupLeader` reads)."""

    __slots__ = ("_fd",)

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        if self._fd < 0:
            raise ValueError("I/O operation on closed pipe")
        return self._fd

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


class SpawnedProcess:
    """A child started by `spawn`: what `process_group.GroupLeader` needs of a `Popen`."""

    __slots__ = ("pid", "returncode", "stderr", "stdout")

    def __init__(self, pid: int, stdout: _PipeEnd, stderr: _PipeEnd) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.stdout = stdout
        self.stderr = stderr


def spawn(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
          cwd: str | None = None, umask: int = -1) -> SpawnedProcess:
    """Start `argv` (see the module docstring). Raises OSError as `Popen` would (the program
    or the working directory missing, not executable, ...), with nothing left behind.
    Raises RuntimeError when `umask` is given and this thread has no `private_fs()`."""
    if _LIBS is None:
        raise RuntimeError("posix_spawn with closefrom is not available here")
    if umask != -1 and not getattr(_local, "private", False):
        raise RuntimeError("spawn(umask=...) needs private_fs() in this thread")
    if env is None:
        env = dict(os.environ)
    if cwd is not None and not os.path.isdir(cwd):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), cwd)
    program = str(argv[0])
    search = os.get_exec_path(env) if "/" not in program else []
    path = _lookup(program, search)
    try:
        return _spawn_at(path, argv, env, cwd, umask)
    except OSError as exc:
        if not search or exc.errno not in (errno.ENOENT, errno.EACCES, errno.ENOEXEC):
            raise
    # A remembered path that no longer starts: look again, once.
    _forget(program, search)
    return _spawn_at(_lookup(program, search), argv, env, cwd, umask)


def _lookup(program: str, search: list[str]) -> bytes:
    if not search:
        return os.fsencode(program)
    key = (os.pathsep.join(search), program)
    with _paths_lock:
        found = _paths.get(key)
        if found is not None:
            _paths.move_to_end(key)
            return found
    found = None
    for folder in search:
        candidate = os.path.join(folder, program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            found = os.fsencode(candidate)
            break
    if found is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
    with _paths_lock:
        _paths[key] = found
        while len(_paths) > _PATHS_CACHED:
            _paths.popitem(last=False)
    return found


def _forget(program: str, search: list[str]) -> None:
    with _paths_lock:
        _paths.pop((os.pathsep.join(search), program), None)


def _cstrings(items: list[bytes]) -> ctypes.Array[ctypes.c_char_p]:
    return (ctypes.c_char_p * (len(items) + 1))(*items, None)


def _spawn_at(path: bytes, argv: Sequence[str], env: Mapping[str, str], cwd: str | None,
              umask: int) -> SpawnedProcess:
    assert _LIBS is not None
    released, held = _LIBS
    c_argv = _cstrings([os.fsencode(a) for a in argv])
    c_env = _cstrings([os.fsencode(k) + b"=" + os.fsencode(v) for k, v in env.items()])
    out = (ctypes.c_int * 2)()
    err = (ctypes.c_int * 2)()
    if held.pipe2(out, os.O_CLOEXEC) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    if held.pipe2(err, os.O_CLOEXEC) != 0:
        code = ctypes.get_errno()
        os.close(out[0])
        os.close(out[1])
        raise OSError(code, os.strerror(code))
    actions = ctypes.create_string_buffer(_OPAQUE)
    attr = ctypes.create_string_buffer(_OPAQUE)
    signals = ctypes.create_string_buffer(_OPAQUE)
    pid = ctypes.c_int(0)
    held.posix_spawn_file_actions_init(actions)
    held.posix_spawnattr_init(attr)
    old_umask = None
    try:
        held.posix_spawn_file_actions_addopen(actions, 0, b"/dev/null", os.O_RDONLY, 0)
        held.posix_spawn_file_actions_adddup2(actions, out[1], 1)
        held.posix_spawn_file_actions_adddup2(actions, err[1], 2)
        if cwd is not None:
            held.posix_spawn_file_actions_addchdir_np(actions, os.fsencode(cwd))
        held.posix_spawn_file_actions_addclosefrom_np(actions, 3)
        held.posix_spawnattr_setflags(attr, ctypes.c_short(
            _POSIX_SPAWN_SETSID | _POSIX_SPAWN_SETSIGDEF | _POSIX_SPAWN_SETSIGMASK))
        held.sigemptyset(signals)
        held.posix_spawnattr_setsigmask(attr, signals)
        held.sigfillset(signals)
        held.posix_spawnattr_setsigdefault(attr, signals)
        if umask != -1:
            old_umask = os.umask(umask)
        code = released.posix_spawn(ctypes.byref(pid), path, actions, attr, c_argv, c_env)
    finally:
        if old_umask is not None:
            os.umask(old_umask)
        held.posix_spawn_file_actions_destroy(actions)
        held.posix_spawnattr_destroy(attr)
        held.close(out[1])
        held.close(err[1])
    if code != 0:
        os.close(out[0])
        os.close(err[0])
        failed = cwd if cwd is not None and code == errno.ENOENT and not os.path.isdir(cwd) \
            else os.fsdecode(path)
        raise OSError(code, os.strerror(code), failed)
    return SpawnedProcess(pid.value, _PipeEnd(out[0]), _PipeEnd(err[0]))
