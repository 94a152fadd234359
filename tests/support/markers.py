"""Markers by directory: a tier's conftest marks every test under it, so `-m cluster` and
`-m "not ssh"` select tiers without a `pytestmark` line in each module."""

from __future__ import annotations

from pathlib import Path

import pytest


def mark_directory(items: list[pytest.Item], directory: Path, *marks: pytest.MarkDecorator
                   ) -> None:
    """Add `marks` to the items collected from files under `directory`.

    `pytest_collection_modifyitems` sees every item of the session, not only the
    conftest's own, hence the path check.
    """
    for item in items:
        if item.path.is_relative_to(directory):
            for mark in marks:
                item.add_marker(mark)
