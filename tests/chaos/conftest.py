"""The chaos tier: the short run of scripts/chaos.py over a real cluster. Marked `chaos` and,
being a cluster test too, `cluster` (so `-m "not cluster"` leaves it out)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.markers import mark_directory


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_directory(items, Path(__file__).parent, pytest.mark.cluster, pytest.mark.chaos)
