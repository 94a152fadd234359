"""Private files: a peer's data dir is 0700 and everything it writes there 0600.

The data dir holds the whole state (jobs with their `env` secrets, uploaded scripts), the
Raft journal and snapshots, and the runs' output: nothing in it is for other local users.
Two layers, because some files are created by code we do not own (pysyncobj's journal,
SQLite's `-wal` and `-shm`):

- the daemon sets its umask to 077 for its lifetime (`private_umask`), so whatever is
  created comes out private; job processes get the umask the daemon started with back;
- our own files are created with an explicit 0600 (`create_private`, `open_private`), and
  `secure_data_dir` makes the dir 0700 and tightens what an older version left behind.
  SQLite gives `-wal`/`-shm` the mode of the database file, so a 0600 database is enough.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO

DIR_MODE = 0o700
FILE_MODE = 0o600
PRIVATE_UMASK = 0o077


def private_umask() -> int:
    """Set the process umask to 077; return the previous one (to restore, or give to jobs)."""
    return os.umask(PRIVATE_UMASK)


def create_private(path: Path | str) -> None:
    """Make sure `path` exists and is 0600 (created empty if missing, contents untouched)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def open_private(path: Path | str) -> IO[bytes]:
    """`open(path, "wb")`, but a new file is created 0600 whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, "wb")


def secure_data_dir(path: Path, subdirs: tuple[str, ...] = ()) -> None:
    """Create `path` (and `subdirs` in it) 0700, tighten them if they exist, and make every
    regular file directly in them 0600 (files left by an older version; output files of
    runs are not walked one by one: their directory is 0700)."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    for name in subdirs:
        sub = path / name
        sub.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(sub, DIR_MODE)
    for entry in path.iterdir():
        with contextlib.suppress(FileNotFoundError):  # a temp file may vanish meanwhile
            if entry.is_file() and not entry.is_symlink():
                os.chmod(entry, FILE_MODE)
