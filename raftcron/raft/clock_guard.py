"""Keeps a peer whose clock is off from the majority's from firing and from leading.

Runs on the raft thread, once per tick (at most every `CHECK_EVERY` seconds): it judges this
peer's clock from the transport's offset estimates (`raftcron.raft.clocks.judge`) and acts:

- Not `ok` (too far from the majority, or not yet measured against one): the node stops
  reporting `firing`, so the scheduler, prober and notifier stop at once. Logged at ERROR when
  the clock is the reason, at INFO while the measurements are still missing.
- `outvoted` (a majority agrees within `max_clock_skew` without this peer): this peer never
  starts an election (`RaftObj.refuse_candidacy`), and a leader hands over: it asks an
  agreeing follower with the whole log to start an election at once (pysyncobj's
  `transferLeadership`, Raft's TimeoutNow), every `election_timeout_min`. If it still leads
  `election_timeout_max` x 2 after the first request (no agreeing follower had the whole log),
  it withholds its append_entries: the followers' election timers run out and they elect one
  of themselves. Either way the new leader's higher term makes this peer a follower.

The verdict is read from the event loop too (`verdict`): it is one immutable object, replaced
whole.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from raftcron.raft.clocks import ClockVerdict, judge

log = logging.getLogger(__name__)

#: Seconds between two judgements (a keepalive arrives every `keepalive_interval`).
CHECK_EVERY = 0.1


class ClockGuard:
    def __init__(self, raft: Any, *, members: int, max_skew: float,
                 election_timeout_min: float, election_timeout_max: float) -> None:
        self._raft = raft
        self._members = members
        self._max_skew = max_skew
        self._retry = election_timeout_min
        self._mute_after = 2 * election_timeout_max
        self._next_check = 0.0
        self._handover_since: float | None = None
        self._last_request = 0.0
        self._complained: str | None = None
        self._fresh: tuple[tuple[int, int, int], ClockVerdict] | None = None
        #: The latest judgement; single-member clusters are always fine.
        self.verdict = judge({}, members, max_skew)

    def set_members(self, members: int) -> None:
        """The member count changed (a membership change): judge by the new majority."""
        self._members = members

    @property
    def max_skew(self) -> float:
        return self._max_skew

    def offsets(self) -> dict[str, float | None]:
        """Each other peer's clock minus this one's, in seconds (None: not measured)."""
        transport = self._raft.transport()
        # list(): one atomic copy, as the raft thread may change the members meanwhile.
        return {n.id: transport.clock_offset(n.id) for n in list(self._raft.otherNodes)}

    def judge_now(self) -> ClockVerdict:
        """A judgement from the transport's estimates as they are this instant, without
        acting on it. `verdict` may be up to a tick old (`CHECK_EVERY`, more on a loaded
        raft thread); what stamps a proposal's time reads this instead, so a write that
        follows the measurement at once is already stamped by the majority's time."""
        # A peer of an older release sends no time: it counts as agreeing, as every peer did
        # before clocks were measured, so a rolling upgrade never stops the firing.
        transport = self._raft.transport()
        # Judged again only when a sample arrived, the members changed or a second passed
        # (samples expire by the second): a batch of a thousand writes reads it per job.
        key = (transport.clock_samples, self._members, int(time.monotonic()))
        cached = self._fresh
        if cached is not None and cached[0] == key:
            return cached[1]
        judged = {p: (0.0 if o is None and transport.sends_no_clock(p) else o)
                  for p, o in self.offsets().items()}
        verdict = judge(judged, self._members, self._max_skew)
        self._fresh = (key, verdict)  # one tuple: the loop and the raft thread both read it
        return verdict

    def tick(self) -> ClockVerdict:
        now = time.monotonic()
        if now < self._next_check:
            return self.verdict
        self._next_check = now + CHECK_EVERY
        verdict = self.judge_now()
        self._report(verdict)
        self.verdict = verdict
        raft = self._raft
        raft.refuse_candidacy = verdict.outvoted
        if verdict.outvoted and raft._isLeader():
            self._hand_over(verdict, now)
        else:
            if self._handover_since is not None and not raft._isLeader():
                log.warning("leadership handed over (this peer's clock is off the majority's)")
            self._handover_since = None
            raft.transport().mute_append_entries = False
        return verdict

    def _report(self, verdict: ClockVerdict) -> None:
        # One line per change: ERROR when the clock keeps this peer from firing, INFO while
        # the measurements are merely missing (every start-up goes through that).
        if verdict.ok:
            if self._complained in ("outvoted", "split"):
                log.warning("clock agrees with the majority again (offset %+.3fs): may fire",
                            verdict.offset or 0.0)
            elif self._complained is not None:
                log.info("clock agrees with the majority (offset %+.3fs)", verdict.offset or 0.0)
            self._complained = None
            return
        measured = sum(1 for o in self.offsets().values() if o is not None)
        if verdict.outvoted:
            kind = "outvoted"
        else:
            kind = "split" if measured + 1 > self._members // 2 else "unmeasured"
        if kind == self._complained:
            return  # the offset moves by milliseconds: one line per change of kind
        if kind == "unmeasured":
            log.info("not firing yet: %s", verdict.reason)
        else:
            log.error("not firing: %s", verdict.reason)
        self._complained = kind

    def _hand_over(self, verdict: ClockVerdict, now: float) -> None:
        raft = self._raft
        if self._handover_since is None:
            self._handover_since = now
            log.error("handing over leadership: %s", verdict.reason)
        if now - self._last_request >= self._retry:
            self._last_request = now
            last = raft.last_log_index()
            ready = [n for n in raft.otherNodes if n.id in verdict.agreeing
                     and raft.isNodeConnected(n) and raft.match_index(n) == last]
            if ready:
                raft.hand_over(min(ready, key=lambda n: n.id))
        transport = raft.transport()
        if now - self._handover_since > self._mute_after and not transport.mute_append_entries:
            log.error("leadership not taken over after %.1fs: withholding heartbeats so the "
                      "followers elect another leader", now - self._handover_since)
            transport.mute_append_entries = True
