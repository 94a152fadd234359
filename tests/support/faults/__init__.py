"""Faults for the chaos runs, as small pieces that scripts/chaos and tests/chaos share.

- `netns`: peers in network namespaces (`Network`, `NetCluster`), for partitions;
- `process`: SIGKILL / SIGSTOP / SIGTERM-restart of one peer, SIGKILL of all;
- `partition`: one peer cut off the network for a while, then healed;
- `disk` / `diskfull`: a peer's data dir on a small tmpfs, filled up, freed, restarted;
- `clock`: a peer under libfaketime (`skew` runs the skewed-clock scenario);
- `writers`: concurrent PUTs, remembering the acknowledged ones;
- `checks`: the invariants judged after the faults;
- `setup`: a namespaced cluster with one peer's data on a tmpfs, cleaned up however it ends.

`FAULTS` maps each fault's name to its function `fault(ctx) -> Event`; `GROUPS` the names a
user may give (`--fault partition`) to the faults they stand for.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.support.faults.base import Ctx, Event
from tests.support.faults.diskfull import disk_full
from tests.support.faults.partition import partition_follower, partition_leader
from tests.support.faults.process import (
    kill_all,
    kill_follower,
    kill_leader,
    restart_peer,
    stop_follower,
    stop_leader,
)

Fault = Callable[[Ctx], Event]

FAULTS: dict[str, Fault] = {
    "kill_leader": kill_leader, "kill_follower": kill_follower,
    "stop_leader": stop_leader, "stop_follower": stop_follower,
    "restart_peer": restart_peer, "kill_all": kill_all,
    "partition_leader": partition_leader, "partition_follower": partition_follower,
    "disk_full": disk_full,
}
GROUPS: dict[str, list[str]] = {
    "kill": ["kill_leader", "kill_follower"],
    "stop": ["stop_leader", "stop_follower"],
    "partition": ["partition_leader", "partition_follower"],
    "restart": ["restart_peer"],
    **{name: [name] for name in FAULTS},
}
#: How often the soak's random plan picks each fault.
WEIGHTS = {"kill_leader": 3, "kill_follower": 2, "stop_leader": 2, "stop_follower": 2,
           "restart_peer": 1, "kill_all": 1, "partition_leader": 2, "partition_follower": 2,
           "disk_full": 1}

__all__ = ["FAULTS", "GROUPS", "WEIGHTS", "Ctx", "Event", "Fault"]
