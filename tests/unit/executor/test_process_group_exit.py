"""A run's exit is seen (and its status kept) whether it is watched through a pidfd on the
loop or, where there is none, by a reaper thread."""

from __future__ import annotations

import os

import pytest

from raftcron.executor.process_group import start_leader


async def _run(argv: list[str]) -> tuple[int | None, bytes]:
    out = bytearray()
    leader = start_leader(argv, on_stdout=out.extend, on_stderr=lambda _b: None)
    try:
        await leader.exited
        await leader.drained
    finally:
        leader.close()
    return leader.returncode, bytes(out)


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "thread"])
async def test_exit_status_and_output_are_seen(pidfd: bool, monkeypatch) -> None:
    if not pidfd:
        def unavailable(pid: int) -> int:
            raise OSError("no pidfd here")
        monkeypatch.setattr(os, "pidfd_open", unavailable)
    elif not hasattr(os, "pidfd_open"):
        pytest.skip("no pidfd_open on this platform")
    results = [await _run(["sh", "-c", f"echo {i}; exit {i}"]) for i in range(3)]
    assert results == [(0, b"0\n"), (1, b"1\n"), (2, b"2\n")]
    code, _ = await _run(["sh", "-c", "kill -TERM $$"])
    assert code == -15
