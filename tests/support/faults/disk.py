"""A peer's data directory on a small tmpfs, to fill it up and free it again.

`Tmpfs(path, size)` mounts a tmpfs of `size` (e.g. "48m", mode 0700) at `path` before the
peer starts. `fill()` writes a file of zeros until the filesystem has no room left (bounded:
at most the mount's size); `free()` deletes it. A peer whose next write finds the disk full
must stop loudly (exit status 70, "database or disk is full" in its log) and never serve a
half-applied copy; the others go on. `close()` unmounts (lazily if something still holds it)
and never raises, so it belongs in a `finally`. Needs root.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

FILL_NAME = "chaos-fill.bin"
_CHUNK = 1 << 20


class Tmpfs:
    def __init__(self, path: Path, size: str = "48m") -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                        str(self.path)], check=True, capture_output=True, timeout=20)
        self.mounted = True

    @property
    def fill_path(self) -> Path:
        return self.path / FILL_NAME

    def available(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def fill(self) -> int:
        """Write zeros until ENOSPC; return the bytes written. The loop is bounded by the
        filesystem's size (each pass writes a chunk or ends)."""
        written = 0
        limit = os.statvfs(self.path).f_blocks * os.statvfs(self.path).f_frsize
        chunk = b"\0" * _CHUNK
        with open(self.fill_path, "ab", buffering=0) as out:
            while written <= limit:
                try:
                    n = out.write(chunk[: max(4096, min(_CHUNK, self.available()))])
                except OSError:
                    break
                if not n:
                    break
                written += n
        return written

    def free(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fill_path.unlink()

    def close(self) -> None:
        """Unmount; never raises."""
        if not self.mounted:
            return
        done = subprocess.run(["umount", str(self.path)], capture_output=True, timeout=20)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True, timeout=20)
        self.mounted = False
