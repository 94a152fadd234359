"""Which asyncio event loop a peer runs on: uvloop when it is installed, else the standard one.

uvloop (libuv under asyncio's interface) serves the same API requests with less CPU per
request; the daemon uses nothing uvloop lacks. It is optional: `auto` (the default) takes it
when importable and falls back to the standard loop; `asyncio` forces the standard loop;
`uvloop` insists on it (a ConfigError when it is missing). Chosen by `--event-loop` or
`RAFTCRON_EVENT_LOOP`.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Coroutine
from typing import Any, TypeVar

from raftcron.errors import ConfigError

T = TypeVar("T")
CHOICES = ("auto", "asyncio", "uvloop")
ENV = "RAFTCRON_EVENT_LOOP"


def loop_name(choice: str = "auto") -> str:
    """The loop `choice` resolves to here: `"uvloop"` or `"asyncio"`."""
    if choice not in CHOICES:
        raise ConfigError(f"event loop: expected one of {', '.join(CHOICES)}, got {choice!r}",
                          field="--event-loop")
    available = importlib.util.find_spec("uvloop") is not None
    if choice == "uvloop" and not available:
        raise ConfigError("event loop: uvloop is not installed (pip install uvloop)",
                          field="--event-loop")
    if choice == "asyncio" or not available:
        return "asyncio"
    return "uvloop"


def run(main: Coroutine[Any, Any, T], choice: str = "auto") -> T:
    """`asyncio.run(main)` on the loop `choice` resolves to."""
    if loop_name(choice) == "uvloop":
        import uvloop  # optional: only imported when chosen and installed

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main)
    return asyncio.run(main)
