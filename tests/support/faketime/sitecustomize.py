"""Imported at start-up by a Python run under libfaketime with this directory on PYTHONPATH.

libfaketime 0.9.10 (Debian's) with `FAKETIME_DONT_FAKE_MONOTONIC=1` mangles an absolute
`clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)`, which `time.sleep` uses since Python
3.11: every sleep fails with EINVAL (wolfcw/libfaketime issue 426). A relative `select`
timeout is left alone, so `time.sleep` waits on that instead. Only the wall clock is faked;
this changes no time that anything reads.
"""

import select
import time


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    select.select([], [], [], seconds)


time.sleep = _sleep
