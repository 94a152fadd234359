"""Deterministic jitter: how far a slot's run is delayed, the same on every peer.

The delay is a pure function of (job, slot): a new leader recomputes exactly what the old one
would have chosen, so a slot is never fired at two different times.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from raftcron.schedule.hashing import stable_int

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def jitter(job: str, slot: datetime, max_jitter: timedelta,
           next_slot: datetime | None = None) -> timedelta:
    """The delay of `job`'s run for `slot`: uniform in [0, max_jitter), whole microseconds.

    Deterministic: sha256 of the job name and the slot's instant (not its time zone, so the same
    slot written in any zone gets the same delay). When `next_slot` is given the delay is drawn
    from [0, min(max_jitter, next_slot - slot)) instead, so it is always strictly less than the
    gap to the next slot and a delayed run never overtakes the next one. A zero or negative
    bound gives no delay. `slot` (and `next_slot`) must be aware.
    """
    if slot.tzinfo is None or (next_slot is not None and next_slot.tzinfo is None):
        raise ValueError("jitter needs aware datetimes")
    cap = max_jitter // _MICROSECOND
    if next_slot is not None:
        cap = min(cap, (next_slot - slot) // _MICROSECOND)
    if cap <= 0:
        return timedelta(0)
    slot_us = (slot - _EPOCH) // _MICROSECOND
    draw = stable_int(f"{job}\0{slot_us}")
    # (draw * cap) >> 64 maps a uniform 64-bit draw onto [0, cap) without modulo bias worth
    # speaking of (cap is far below 2**64) and is never cap itself.
    return timedelta(microseconds=(draw * cap) >> 64)
