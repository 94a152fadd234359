"""Stopping a local run's whole process tree: its process group.

A local run is started in a new session (`start_new_session=True`), so its process id is
also the id of a process group that every descendant joins unless it detaches on purpose
(`setsid`). Stopping the run means: SIGTERM to the group, a grace period for the group to
empty, then SIGKILL to whatever is left.

"Empty" counts zombies as gone. Orphaned descendants are re-parented to PID 1, and not every
PID 1 (a container's init, for one) reaps them, so `killpg(pgid, 0)` alone would keep saying
"alive" for a process that is long dead. On Linux the group's members are read from /proc.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

_PROC = Path("/proc")
_POLL = 0.02


def _stat_fields(pid: int | str) -> list[str] | None:
    """`/proc/<pid>/stat` after the command name: [state, ppid, pgrp, ...]; None if gone."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain ") ".
    return text[text.rfind(")") + 2 :].split()


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    if _PROC.is_dir():
        fields = _stat_fields(pid)
        return fields is not None and fields[0] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_alive(pgid: int) -> bool:
    """True while process group `pgid` has a member that is not a zombie."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # a member we may not signal still exists
    if not _PROC.is_dir():
        return True
    wanted = str(pgid)
    with os.scandir(_PROC) as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            fields = _stat_fields(entry.name)
            if fields is not None and fields[2] == wanted and fields[0] not in ("Z", "X"):
                return True
    return False


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send `sig` to the group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        # Members we may not signal (they changed user): nothing more this peer can do.
        return False
    return True


async def wait_group_gone(pgid: int, timeout: float) -> bool:
    """Poll until the group is empty or `timeout` seconds pass; True if it emptied."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, timeout)
    while group_alive(pgid):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_POLL)
    return True


async def terminate_group(pgid: int, grace: float, *, kill_wait: float = 5.0) -> bool:
    """SIGTERM the group, wait up to `grace` seconds, then SIGKILL what is left.

    Returns True when SIGKILL was needed. Waits (at most `kill_wait`) for the group to be
    empty after SIGKILL, so a caller that returns after this has no live process left behind.
    """
    if not group_alive(pgid):
        return False
    signal_group(pgid, signal.SIGTERM)
    # A stopped process cannot act on SIGTERM until it is continued.
    signal_group(pgid, signal.SIGCONT)
    if await wait_group_gone(pgid, grace):
        return False
    signal_group(pgid, signal.SIGKILL)
    await wait_group_gone(pgid, kill_wait)
    return True
