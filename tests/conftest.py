"""Fixtures shared by the tiers (cluster/, chaos/, ssh/ start real peers). Kept small on
purpose; a tier's own fixtures live in its conftest.py, helpers in tests/support/.

- `make_cluster(size=3, **kwargs)`: a `tests.support.cluster.Cluster` under tmp_path (not started);
  every process it starts is killed at teardown, pass or fail, and the peers' logs are
  attached to the report of a failed test.
- `cluster`: a started three-peer cluster with a leader, every peer's API address announced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import Cluster


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed:
        for cluster in getattr(item, "_raftcron_clusters", ()):
            report.sections.append((f"raftcron peer logs ({cluster.root.name})", cluster.logs()))


@pytest.fixture
def make_cluster(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Cluster]]:
    clusters: list[Cluster] = []
    request.node._raftcron_clusters = clusters

    def make(size: int = 3, **kwargs: Any) -> Cluster:
        cluster = Cluster(tmp_path / f"cluster{len(clusters)}", size, **kwargs)
        clusters.append(cluster)
        return cluster

    yield make
    for cluster in clusters:
        cluster.close()


@pytest.fixture
def cluster(make_cluster: Callable[..., Cluster]) -> Cluster:
    started = make_cluster().start()
    started.wait_for_leader()
    started.wait_for_announced()  # each peer's one start-up entry (its API address) is in
    return started
