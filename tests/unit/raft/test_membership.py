"""The membership rule and the member file (raft/membership.py), without processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from raftcron.errors import ValidationError
from raftcron.raft.membership import (
    GOSSIP_KEY,
    MEMBERS_FILE,
    check_peer_id,
    load_members,
    refuse_change,
    save_members,
)


def status(*peers: tuple[str, bool]) -> dict:
    """A node status whose first peer is this one; each peer gossips membership."""
    out = []
    for i, (pid, reachable) in enumerate(peers):
        out.append({"id": pid, "self": i == 0, "reachable": reachable, GOSSIP_KEY: 1})
    return {"peers": out}


THREE_UP = status(("a:1", True), ("b:1", True), ("c:1", True))
ONE_DOWN = status(("a:1", True), ("b:1", True), ("c:1", False))


@pytest.mark.parametrize(("op", "peer", "view", "refused"), [
    ("add", "d:1", THREE_UP, None),
    ("add", "b:1", THREE_UP, "already a member"),
    ("add", "d:1", ONE_DOWN, "not a majority"),  # 2 of 4 reachable
    ("remove", "c:1", ONE_DOWN, None),            # 2 of 2
    ("remove", "b:1", ONE_DOWN, "not a majority"),  # 1 of 2
    ("remove", "z:1", THREE_UP, "not a member"),
    ("remove", "a:1", status(("a:1", True)), "last member"),
    ("remove", "a:1", THREE_UP, None),            # the leader (this peer) may go
])
def test_membership_refuse_change_table(op: str, peer: str, view: dict,
                                        refused: str | None) -> None:
    reason = refuse_change(op, peer, view)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason


def test_membership_refuse_change_while_a_peer_runs_an_older_release() -> None:
    view = status(("a:1", True), ("b:1", True), ("c:1", True))
    del view["peers"][2][GOSSIP_KEY]
    reason = refuse_change("add", "d:1", view)
    assert reason is not None and "c:1" in reason


@pytest.mark.parametrize("bad", ["", "nonsense", "a:b", "a:70000", 5, None, ["a:1"]])
def test_membership_check_peer_id_refuses_malformed(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        check_peer_id(bad)
    assert info.value.field == "id"


def test_membership_file_round_trip_and_damage(tmp_path: Path) -> None:
    assert load_members(tmp_path) is None
    save_members(tmp_path, ["b:1", "a:1"])
    assert load_members(tmp_path) == ["a:1", "b:1"]
    (tmp_path / MEMBERS_FILE).write_text("{not json")
    assert load_members(tmp_path) is None
    (tmp_path / MEMBERS_FILE).write_text('{"v": 99, "members": ["a:1"]}')
    assert load_members(tmp_path) is None
