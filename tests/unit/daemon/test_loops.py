"""`daemon.loops`: uvloop when installed and asked for (or left to `auto`), else the standard
event loop; a bad choice is a ConfigError naming `--event-loop`."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from raftcron.daemon import loops
from raftcron.errors import ConfigError

HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_asyncio_is_always_the_standard_loop() -> None:
    assert loops.loop_name("asyncio") == "asyncio"
    assert loops.run(_loop_module(), "asyncio").startswith("asyncio")


def test_auto_takes_uvloop_when_installed() -> None:
    expected = "uvloop" if HAVE_UVLOOP else "asyncio"
    assert loops.loop_name("auto") == expected
    assert loops.run(_loop_module(), "auto").startswith(expected)


@pytest.mark.skipif(not HAVE_UVLOOP, reason="uvloop is not installed")
def test_uvloop_runs_the_coroutine_to_its_result() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert loops.run(answer(), "uvloop") == 42


@pytest.mark.skipif(HAVE_UVLOOP, reason="uvloop is installed")
def test_uvloop_insisted_on_but_missing_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        loops.loop_name("uvloop")


def test_an_unknown_choice_names_the_option() -> None:
    with pytest.raises(ConfigError) as info:
        loops.loop_name("tokio")
    assert info.value.field == "--event-loop"
