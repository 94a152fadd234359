"""`raft.propose.encode`: a large command (a fire of many runs) is validated and encoded on a
worker thread, so the API keeps answering on the loop meanwhile; a small one stays on the
loop. The entry is the same bytes either way, and a bad command is refused either way."""

from __future__ import annotations

import threading

import pytest

from raftcron.errors import ValidationError
from raftcron.model import commands
from raftcron.raft.propose import OFF_LOOP_ENTRIES, encode
from tests.support.records import run_record

AT = "2024-05-01T10:00:00Z"


def fire(n: int) -> dict:
    return {"runs": [run_record(f"r{i}", "j", AT) for i in range(n)], "at": AT}


@pytest.fixture
def threads(monkeypatch) -> list[int]:
    seen: list[int] = []
    real = commands.encode

    def spy(op: str, args: dict, key: str | None = None) -> bytes:
        seen.append(threading.get_ident())
        return real(op, args, key)
    monkeypatch.setattr(commands, "encode", spy)
    return seen


@pytest.mark.parametrize(("runs", "on_loop"), [(1, True), (OFF_LOOP_ENTRIES, True),
                                               (OFF_LOOP_ENTRIES + 1, False), (1000, False)])
async def test_large_commands_are_encoded_off_the_loop(threads: list[int], runs: int,
                                                       on_loop: bool) -> None:
    args = fire(runs)
    payload = await encode("fire", args, "k")
    assert payload == commands.encode("fire", args, "k")
    assert (threads[0] == threading.get_ident()) is on_loop


async def test_a_bad_large_command_is_refused_off_the_loop(threads: list[int]) -> None:
    args = fire(OFF_LOOP_ENTRIES * 2)
    args["runs"][-1]["attempt"] = "first"
    with pytest.raises(ValidationError):
        await encode("fire", args, "k")
    assert threads[0] != threading.get_ident()
