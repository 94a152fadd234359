"""The worker tests' `env`: the harness of tests/support/worker.py on a tmp directory, its
workers stopped and its files closed after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.worker import Env, make_env


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    env = make_env(tmp_path)
    yield env
    await env.close()
