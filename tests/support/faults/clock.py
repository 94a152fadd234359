"""A skewed clock: one peer runs under libfaketime (Debian's `faketime` package), its wall
clock `offset` ahead of everyone else's.

Its monotonic clock is shifted by the same constant (so intervals stay true) rather than
left alone: with `FAKETIME_DONT_FAKE_MONOTONIC=1`, libfaketime 0.9.10 (Debian 12) makes every
`time.sleep` of Python 3.11 fail with EINVAL (it rewrites the absolute CLOCK_MONOTONIC
deadline of `clock_nanosleep`), and the peer's raft thread dies at once.

The contract (design: a leader whose clock is off from the majority's by more than the
threshold stops firing and hands over leadership; a slot never runs before its time): with
the skewed peer leading at the start, (1) no execution starts before its slot by the honest
clock (the test's own, the same as the honest peers'), and (2) within `handover` seconds the
leader is an honest peer and stays one. The jobs carry a role only the honest peers have, so
every stamp is taken on an honest clock.
"""

from __future__ import annotations

import glob

LIB_GLOBS = ("/usr/lib/*/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1")


def libfaketime() -> str:
    """The path of libfaketime.so.1; FileNotFoundError naming the package when absent."""
    for pattern in LIB_GLOBS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    raise FileNotFoundError("libfaketime.so.1 not found: apt-get install faketime")


def skewed_env(offset: str = "+30s") -> dict[str, str]:
    """The environment that puts a peer's wall clock `offset` off (see the docstring)."""
    return {"LD_PRELOAD": libfaketime(), "FAKETIME": offset}
