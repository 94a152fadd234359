"""The cluster tier: real raftcron processes (`make_cluster` / `cluster` in tests/conftest.py).
Every test here is marked `cluster`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Cluster
from tests.support.markers import mark_directory


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_directory(items, Path(__file__).parent, pytest.mark.cluster)


@pytest.fixture(scope="module")
def module_cluster(tmp_path_factory: pytest.TempPathFactory,
                   request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """One started three-peer cluster shared by the tests of a module (they use jobs of
    their own names, so they do not see each other)."""
    cluster = Cluster(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]), 3)
    try:
        cluster.start()
        cluster.wait_for_leader()
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def shared_cluster(module_cluster: Cluster, request: pytest.FixtureRequest) -> Cluster:
    """`module_cluster`, with its peers' logs attached to a failed test's report."""
    request.node._raftcron_clusters = [module_cluster]
    return module_cluster
