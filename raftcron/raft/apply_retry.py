"""Applying one log entry through the state machine, with short retries for the environment.

The state machine turns every business error into a result, so an exception out of `apply`
is the environment (disk full, an I/O error): it is tried again after short pauses, then
given up to the caller, which stops the peer loudly (a restart replays the journal from the
copy's own applied index). A `CommandDecodeError` (a corrupt entry, or one from a newer
version) is never retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from raftcron.errors import CommandDecodeError

log = logging.getLogger("raftcron.raft.node")
T = TypeVar("T")

#: Pauses between attempts when the state machine fails for environmental reasons.
APPLY_RETRY_PAUSES = (0.05, 0.1, 0.2, 0.4)

__all__ = ["APPLY_RETRY_PAUSES", "apply_with_retries"]


def apply_with_retries(apply: Callable[[int, T], Any], index: int, payload: T) -> Any:
    """`apply(index, payload)` (`payload`: the entry, raw or decoded); raises
    `CommandDecodeError` at once, or the last exception once the pauses are spent. Runs on the
    raft thread (it sleeps)."""
    for pause in (*APPLY_RETRY_PAUSES, None):
        try:
            return apply(index, payload)
        except CommandDecodeError:
            raise
        except Exception as exc:
            if pause is None:
                raise
            log.warning("applying log entry %d failed (%r); retrying", index, exc)
            time.sleep(pause)
    raise AssertionError("unreachable")  # the last pause is None: the loop returns or raises
