"""The cluster tier: real raftcron processes (`make_cluster` / `cluster` in tests/conftest.py).
Every test here is marked `cluster`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.markers import mark_directory


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_directory(items, Path(__file__).parent, pytest.mark.cluster)
