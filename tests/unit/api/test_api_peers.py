"""`/peers` over a served API: the shapes, 400/409/401, and what reaches the membership.

The node is `FakeNode` (tests/support/api.py); its `membership` records the changes it is
asked for. The changes themselves run on real processes in tests/cluster/test_cluster_membership.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from raftcron.raft.membership import GOSSIP_KEY
from tests.support.api import OTHER, SELF, THIRD, TOKEN, LiveApi


class RecordingMembership:
    def __init__(self, members: list[str]) -> None:
        self.members = sorted(members)
        self.calls: list[tuple[str, str, Any]] = []

    async def change(self, op: str, peer: str, *, leader: str | None,
                     timeout: float) -> list[str]:
        self.calls.append((op, peer, leader))
        self.members = sorted({*self.members, peer} if op == "add"
                              else set(self.members) - {peer})
        return self.members


@pytest.fixture
def api(tmp_path: Path) -> Iterator[LiveApi]:
    live = LiveApi(tmp_path, token=TOKEN)
    for p in live.node.peers:
        p[GOSSIP_KEY] = 1
    live.node.membership = RecordingMembership([SELF, OTHER, THIRD])  # type: ignore[attr-defined]
    yield live
    live.close()


def test_api_peers_list_shows_every_member(api: LiveApi) -> None:
    status, _, body = api.request("GET", "/peers", token=TOKEN)
    assert status == 200
    assert [p["id"] for p in body["items"]] == sorted([SELF, OTHER, THIRD])
    by_id = {p["id"]: p for p in body["items"]}
    assert by_id[SELF]["self"] and by_id[SELF]["leader"] and body["leader"] == SELF
    assert by_id[THIRD]["reachable"] is False
    assert all("api" in p for p in body["items"])


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"id": "nonsense"}, 400, "id"),
    ({"id": 7}, 400, "id"),
    ({}, 400, "id"),
    ({"id": "127.0.0.1:7999", "extra": 1}, 400, "extra"),
    ({"id": OTHER}, 409, "id"),               # a member already
    ({"id": "127.0.0.1:7999"}, 409, "id"),    # THIRD is down: 2 of 4 would be reachable
])
def test_api_peers_add_refusals(api: LiveApi, body: dict, status: int, field: str) -> None:
    got, _, answer = api.request("POST", "/peers", body, token=TOKEN)
    assert (got, answer.get("field")) == (status, field), answer
    assert api.node.membership.calls == []  # type: ignore[attr-defined]


def test_api_peers_remove_then_add(api: LiveApi) -> None:
    status, _, body = api.request("DELETE", f"/peers/{THIRD}", token=TOKEN)
    assert status == 200 and body["removed"] and THIRD not in body["members"], body
    api.node.peers = [p for p in api.node.peers if p["id"] != THIRD]
    status, _, body = api.request("POST", "/peers", {"id": "127.0.0.1:7999"}, token=TOKEN)
    assert status == 201 and body["added"] and "127.0.0.1:7999" in body["members"], body
    assert [c[:2] for c in api.node.membership.calls] == [  # type: ignore[attr-defined]
        ("remove", THIRD), ("add", "127.0.0.1:7999")]


def test_api_peers_remove_refusals_and_token(api: LiveApi) -> None:
    assert api.request("DELETE", "/peers/not-an-address", token=TOKEN)[0] == 400
    assert api.request("DELETE", "/peers/127.0.0.1:1", token=TOKEN)[0] == 409
    assert api.request("DELETE", f"/peers/{OTHER}", token=TOKEN)[0] == 409  # 1 of 2 left
    assert api.request("DELETE", f"/peers/{THIRD}")[0] == 401
    assert api.request("POST", "/peers", {"id": "127.0.0.1:7999"})[0] == 401
