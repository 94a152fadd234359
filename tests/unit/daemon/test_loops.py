"""`daemon.loops`: uvloop when installed and asked for (or left to `auto`), else the standard
event loop; a bad choice is a ConfigError naming `--event-loop`."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from raftcron.daemon import loops
from raftcron.errors import ConfigError


def _without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine as one without uvloop (it is in the lock, so it is installed here)."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "uvloop" else real(name, *a))


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_asyncio_is_always_the_standard_loop() -> None:
    assert loops.loop_name("asyncio") == "asyncio"
    assert loops.run(_loop_module(), "asyncio").startswith("asyncio")


def test_auto_takes_uvloop_when_installed() -> None:
    assert loops.loop_name("auto") == "uvloop"
    assert loops.run(_loop_module(), "auto").startswith("uvloop")


def test_auto_falls_back_to_the_standard_loop_without_uvloop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _without_uvloop(monkeypatch)
    assert loops.loop_name("auto") == "asyncio"
    assert loops.run(_loop_module(), "auto").startswith("asyncio")


def test_uvloop_runs_the_coroutine_to_its_result() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert loops.run(answer(), "uvloop") == 42


def test_uvloop_insisted_on_but_missing_is_a_config_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _without_uvloop(monkeypatch)
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        loops.loop_name("uvloop")


def test_an_unknown_choice_names_the_option() -> None:
    with pytest.raises(ConfigError) as info:
        loops.loop_name("tokio")
    assert info.value.field == "--event-loop"
