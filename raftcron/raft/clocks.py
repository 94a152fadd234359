"""How far each peer's wall clock is from this one's, and whether this one may fire: pure.

Slots are judged by wall time, so a leader whose clock runs ahead fires every slot early, and
the cursor it leaves behind makes the next (honest) leader wait out the difference before the
next slot is due. Every peer therefore measures the others' clocks on the keepalives it
already exchanges (`raftcron.raft.transport`): each keepalive carries the sender's wall time,
and echoes the wall time of the last keepalive it received from the addressee with the moment
it arrived. That is NTP's exchange, so the receiver gets the offset with the round trip and
the time the echo waited on the far side cancelled out:

    offset = ((t2 - t1) + (t3 - t4)) / 2,  delay = (t4 - t1) - (t3 - t2)

(t1 sent here, t2 received there, t3 sent there, t4 received here; offset = their clock minus
this one's). Until the first echo comes back, the one-way difference t3 - t4 stands in (off by
the network delay: milliseconds on a LAN).

`judge` then decides, from this peer's estimates of the others, whether this peer's clock is
with the majority: it may fire only when it and the peers within `threshold` of it are a
majority of the members. It is `outvoted` when the others it measured hold a majority that
agrees within `threshold` without it: then it hands leadership over and stands in no election.
A peer that is merely unsure (too few measured, or no majority agrees with anyone) fires
nothing but still takes part in elections, so clocks never cost the cluster its leader.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ClockVerdict", "OffsetEstimator", "judge", "ntp_sample"]

#: Samples kept per peer; the one with the shortest round trip is the estimate.
SAMPLES = 8
#: Seconds after which a sample no longer counts (a peer's clock may have been corrected).
SAMPLE_TTL = 10.0


def ntp_sample(t1: float, t2: float, t3: float, t4: float) -> tuple[float, float]:
    """(offset, delay) from one NTP exchange: offset is the far clock minus this one."""
    return ((t2 - t1) + (t3 - t4)) / 2, max((t4 - t1) - (t3 - t2), 0.0)


class OffsetEstimator:
    """The recent samples of one peer's offset; `estimate` is the least delayed fresh one.

    One-way samples (`add_one_way`) have an unknown delay and count only when no fresh NTP
    sample exists. Times passed as `at` are monotonic seconds.
    """

    def __init__(self, samples: int = SAMPLES, ttl: float = SAMPLE_TTL) -> None:
        self._ntp: deque[tuple[float, float, float]] = deque(maxlen=samples)
        self._one_way: tuple[float, float] | None = None
        self._ttl = ttl

    def add_ntp(self, t1: float, t2: float, t3: float, t4: float, at: float) -> None:
        offset, delay = ntp_sample(t1, t2, t3, t4)
        if math.isfinite(offset) and math.isfinite(delay):
            self._ntp.append((delay, offset, at))

    def add_one_way(self, sent: float, received: float, at: float) -> None:
        offset = sent - received
        if math.isfinite(offset):
            self._one_way = (offset, at)

    def estimate(self, now: float) -> float | None:
        """The offset in seconds (far clock minus this one), or None when nothing is fresh."""
        # list(): one atomic copy, as another thread may append meanwhile.
        fresh = [(d, o) for d, o, at in list(self._ntp) if now - at <= self._ttl]
        if fresh:
            return min(fresh)[1]
        if self._one_way is not None and now - self._one_way[1] <= self._ttl:
            return self._one_way[0]
        return None


@dataclass(frozen=True)
class ClockVerdict:
    #: This clock minus the median of the members' clocks measured (itself included); None
    #: while no other peer has been measured.
    offset: float | None
    #: This peer and those within the threshold of it are a majority: it may fire.
    ok: bool
    #: A majority of the members agree among themselves without this peer: hand over
    #: leadership and stand in no election.
    outvoted: bool
    #: Why this peer may not fire (None when `ok`).
    reason: str | None
    #: The peers whose clocks are with the majority (the hand-over targets), by id.
    agreeing: tuple[str, ...] = ()
    #: Seconds to take off this clock to read the majority's time: the median offset of the
    #: agreeing majority (this peer included when `ok`); 0 when no majority agrees.
    correction: float = 0.0


def judge(offsets: Mapping[str, float | None], members: int, threshold: float) -> ClockVerdict:
    """Decide from the other peers' offsets (their clock minus this one; None: unknown).

    `members` counts every member, this one included; `threshold` is `max_clock_skew`.
    """
    known = {p: o for p, o in offsets.items() if o is not None}
    need = members // 2 + 1
    offset = -statistics.median([0.0, *known.values()]) if known else None
    with_me = [p for p, o in known.items() if abs(o) <= threshold]
    # The largest group of others that agree among themselves (sorted, sliding window).
    ordered = sorted(known.items(), key=lambda kv: kv[1])
    best: list[str] = []
    lo = 0
    for hi in range(len(ordered)):
        while ordered[hi][1] - ordered[lo][1] > threshold:
            lo += 1
        if hi - lo + 1 > len(best):
            best = [p for p, _ in ordered[lo:hi + 1]]
    if 1 + len(with_me) >= need:
        shift = -statistics.median([0.0, *(known[p] for p in with_me)])
        return ClockVerdict(offset, True, False, None, tuple(sorted(with_me)), shift)
    if len(best) >= need:
        shift = -statistics.median(known[p] for p in best)
        return ClockVerdict(
            offset, False, True,
            f"this peer's clock is {shift:+.3f}s off the majority's "
            f"(max_clock_skew {threshold:g}s)", tuple(sorted(best)), shift)
    if len(known) + 1 < need:
        why = (f"clock offsets known for {len(known)} of the {members - 1} other peers; "
               f"a majority must be measured first")
    else:
        why = f"no majority of clocks agrees within max_clock_skew {threshold:g}s"
    return ClockVerdict(offset, False, False, why, ())
