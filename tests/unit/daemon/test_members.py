"""Which members a peer starts from (daemon/members.py): data dir, then --join, then --peers."""

from __future__ import annotations

from pathlib import Path

import pytest

from raftcron.config.daemon import DaemonSettings
from raftcron.daemon import members as m
from raftcron.errors import ConfigError, UnavailableError
from raftcron.raft.membership import save_members

ME, A, B = "127.0.0.1:7104", "127.0.0.1:7101", "127.0.0.1:7102"


def settings(tmp_path: Path, *, join: str | None = None) -> DaemonSettings:
    return DaemonSettings(self_id=ME, peers=[ME, A], api_host="127.0.0.1", api_port=8104,
                          data_dir=tmp_path, join=join)


async def test_members_saved_set_wins_over_peers_and_join(tmp_path: Path) -> None:
    save_members(tmp_path, [A, B, ME])
    assert await m.starting_members(settings(tmp_path, join=A)) == [A, B, ME]
    assert await m.starting_members(settings(tmp_path)) == [A, B, ME]


async def test_members_seed_from_peers_on_a_new_data_dir(tmp_path: Path) -> None:
    assert await m.starting_members(settings(tmp_path)) == [ME, A]


async def test_members_join_waits_until_added(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    answers = [UnavailableError("down"), [A, B], [A, B, ME]]
    monkeypatch.setattr(m, "fetch_members", lambda join, secret: _next(answers))
    assert await m.starting_members(settings(tmp_path, join=A)) == [A, B, ME]
    assert answers == []


async def test_members_join_gives_up_with_exit_2(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(m, "JOIN_PATIENCE", 0.0)
    monkeypatch.setattr(m, "fetch_members", lambda join, secret: [A, B])
    with pytest.raises(ConfigError) as info:
        await m.starting_members(settings(tmp_path, join=A))
    assert info.value.field == "--join" and "add it first" in info.value.message


def _next(answers: list) -> list[str]:
    value = answers.pop(0)
    if isinstance(value, Exception):
        raise value
    return value
