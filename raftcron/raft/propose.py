"""Submitting a command until it is applied on this peer, or a deadline passes.

pysyncobj's failures (LEADER_CHANGED, NOT_LEADER, DISCARDED, MISSING_LEADER, ...) leave the
outcome unknown: the same payload, with the same idempotency key, is submitted again with a
growing pause until the deadline; the state machine honours the key, so it applies at most
once. The waiting future is resolved from the apply path (`KeyWaiters`), not only from
pysyncobj's callback, which is lost when a follower installs a snapshot.

`encode` turns a command into its log entry: on the loop for an ordinary command, on a worker
thread for a large one (`OFF_LOOP_ENTRIES`), whose validation and encoding take tens of
milliseconds of CPU (a fire of 1,000 runs, a batch of 1,000 jobs: 0.66 s once under
overload) that would otherwise hold every API request on the loop. The GIL is still shared,
but the loop gets its turn every few milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from raftcron.errors import UnavailableError
from raftcron.model import commands
from raftcron.raft.syncobj import FAIL_NAMES, SUCCESS, RaftObj
from raftcron.raft.waiters import KeyWaiters, set_result

__all__ = ["OFF_LOOP_ENTRIES", "Proposer", "encode"]

#: A command whose list arguments hold more items than this in all (a fire's runs, a batch's
#: commands) is validated and encoded off the loop. A thread hop costs ~0.1 ms; validating
#: and encoding one item ~25 us.
OFF_LOOP_ENTRIES = 64


def _items(args: dict) -> int:
    return sum(len(v) for v in args.values() if isinstance(v, list))


async def encode(op: str, args: dict, key: str) -> bytes:
    """`commands.encode(op, args, key)`, off the loop when `args` is large. The caller must
    not change `args` until this returns (every caller builds them for this one proposal)."""
    if _items(args) <= OFF_LOOP_ENTRIES:
        return commands.encode(op, args, key)
    return await asyncio.get_running_loop().run_in_executor(None, commands.encode, op, args, key)


class Proposer:
    """Submits encoded commands through `raft` and waits on the asyncio `loop`. `post` hands
    a call from the raft thread to the loop (`Mailbox.post`)."""

    def __init__(self, raft: RaftObj, loop: asyncio.AbstractEventLoop, waiters: KeyWaiters,
                 post: Callable[..., None]) -> None:
        self._raft = raft
        self._loop = loop
        self._waiters = waiters
        self._post = post

    async def submit(self, payload: bytes, key: str, *, timeout: float) -> dict:
        """The result of applying `payload` here; `UnavailableError` after `timeout` (the
        write may or may not have been applied: retrying with the same key is safe)."""
        loop = self._loop
        done: asyncio.Future[dict] = loop.create_future()
        self._waiters.add(key, done)
        deadline = loop.time() + timeout
        backoff = 0.02
        reason = "no answer"
        try:
            while True:
                attempt: asyncio.Future[tuple[Any, int]] = loop.create_future()
                self._raft.submit(payload, self._callback_for(attempt))
                remaining = deadline - loop.time()
                await asyncio.wait({done, attempt}, timeout=max(remaining, 0),
                                   return_when=asyncio.FIRST_COMPLETED)
                if done.done():
                    return done.result()
                if not attempt.done():
                    break  # deadline
                res, err = attempt.result()
                if err == SUCCESS and isinstance(res, dict):
                    return res
                reason = FAIL_NAMES.get(err, str(err))
                # Wait a little (or for the apply path to resolve us) before trying again.
                pause = min(backoff, deadline - loop.time())
                if pause <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    return await asyncio.wait_for(asyncio.shield(done), pause)
                backoff = min(backoff * 2, 0.25)
        finally:
            self._waiters.discard(key, done)
        raise UnavailableError(
            f"no leader/quorum within {timeout:g}s ({reason}); the write may or may not have "
            "been applied; retry with the same Idempotency-Key")

    def _callback_for(self, attempt: asyncio.Future) -> Callable[[Any, int], None]:
        def callback(result: Any, error: int) -> None:
            # Runs in the raft thread; an exception here would make pysyncobj apply twice.
            with contextlib.suppress(Exception):
                self._post(set_result, attempt, (result, error))
        return callback
