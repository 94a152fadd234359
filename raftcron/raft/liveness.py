"""What a peer may say about the others from when it last heard from them (pure functions).

pysyncobj's own view is not good enough for either question:

- Leadership. A pysyncobj leader stays leader until no majority has answered for
  `leaderFallbackTimeout`, and `hasQuorum` counts open TCP connections, which a frozen or
  partitioned peer keeps open. Meanwhile the rest of the group may have elected someone else:
  a follower starts an election after hearing nothing for `election_timeout_min` at the
  earliest. So a leader holds a *lease* only while a majority of the members (itself included)
  has sent it something within `election_timeout_min`; without one it reports itself as not
  leading and its scheduler stops, long before pysyncobj steps down.
- Reachability. A peer is reachable when it sent us something within `election_timeout_max`
  (every connection carries a keepalive at least every `election_timeout_min / 2`, and on the
  leader every follower answers each heartbeat), not merely when its connection is open.

The times are `time.monotonic()` values from the transport's `last_contact`.
"""

from __future__ import annotations

from collections.abc import Iterable


def heard_within(contact: float | None, now: float, bound: float) -> bool:
    """True if `contact` (None: never) lies within `bound` seconds before `now`."""
    return contact is not None and now - contact <= bound


def majority_heard(contacts: Iterable[float | None], members: int, now: float,
                   bound: float) -> bool:
    """True if this peer plus the others heard within `bound` are a majority of `members`.

    `contacts` are the other members' last-contact times (this peer counts as heard)."""
    heard = 1 + sum(1 for c in contacts if heard_within(c, now, bound))
    return 2 * heard > members
