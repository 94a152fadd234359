"""The chaos tier: short, bounded runs of scripts/chaos.py's faults over real clusters.
Marked `chaos` and, being cluster tests too, `cluster` (so `-m "not cluster"` leaves them out).

- `chaos_cluster`: a (not started) three-peer cluster whose peers live in network namespaces
  of their own, peer 2's data dir on a small tmpfs; `(cluster, tmpfs)`. Whatever the test
  does, teardown kills the peers, unmounts the tmpfs and deletes the namespaces, veth pairs
  and bridge. Needs root (CI runs as root; .ci/run installs iproute2).
- `chaos`: the scripts/chaos.py module (its `run_chaos` and `Verdict`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.faults.disk import Tmpfs
from tests.support.faults.netns import NetCluster
from tests.support.faults.setup import chaos_cluster as make_chaos_cluster
from tests.support.markers import mark_directory
from tests.support.paths import SCRIPTS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_directory(items, Path(__file__).parent, pytest.mark.cluster, pytest.mark.chaos)


@pytest.fixture
def chaos() -> ModuleType:
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    return importlib.import_module("chaos")


@pytest.fixture
def chaos_cluster(tmp_path: Path, request: pytest.FixtureRequest
                  ) -> Iterator[tuple[NetCluster, Tmpfs | None]]:
    with make_chaos_cluster(tmp_path / "cluster") as (cluster, tmpfs):
        request.node._raftcron_clusters = [cluster]  # logs on failure (tests/conftest.py)
        yield cluster, tmpfs
