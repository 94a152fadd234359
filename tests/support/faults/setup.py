"""A chaos cluster and its cleanup: peers in network namespaces (`netns`), one peer's data
dir on a small tmpfs (`disk`), optional per-peer environments (the skewed clock).

`chaos_cluster(root, ...)` is a context manager: whatever happens inside, on the way out every
process it started is killed, the tmpfs unmounted and the namespaces, veth pairs and bridge
deleted, in that order. Killing the peers is idempotent, so a caller that already stopped
them and read their copies loses nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.faults.disk import Tmpfs
from tests.support.faults.netns import NetCluster, Network

#: Room for a soak's copy, journal and snapshot; filling it takes a moment, not minutes.
TMPFS_SIZE = "64m"


@contextlib.contextmanager
def chaos_cluster(root: Path, *, size: int = 3, disk_peer: int | None = 2,
                  tmpfs_size: str = TMPFS_SIZE, **cluster_kwargs: Any
                  ) -> Iterator[tuple[NetCluster, Tmpfs | None]]:
    network = Network(size)
    tmpfs: Tmpfs | None = None
    cluster: NetCluster | None = None
    try:
        cluster = NetCluster(Path(root), network, **cluster_kwargs)
        if disk_peer is not None:
            tmpfs = Tmpfs(cluster.peers[disk_peer].data_dir, tmpfs_size)
        yield cluster, tmpfs
    finally:
        if cluster is not None:
            cluster.close()
        if tmpfs is not None:
            tmpfs.close()
        network.close()
