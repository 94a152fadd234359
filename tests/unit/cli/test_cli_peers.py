"""`raftcron peers list|add|remove` against a served API (tests/unit/cli/conftest.py)."""

from __future__ import annotations

import json

import pytest

from raftcron.raft.membership import GOSSIP_KEY
from tests.support.api import OTHER, SELF, THIRD, LiveApi
from tests.unit.api.test_api_peers import RecordingMembership
from tests.unit.cli.conftest import run_cli


@pytest.fixture
def members(api: LiveApi) -> RecordingMembership:
    for p in api.node.peers:
        p[GOSSIP_KEY] = 1
    api.node.membership = RecordingMembership([SELF, OTHER, THIRD])  # type: ignore[attr-defined]
    return api.node.membership  # type: ignore[attr-defined]


def test_cli_peers_list_table_and_json(api: LiveApi, members: RecordingMembership,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "peers", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "ROLE", "REACHABLE", "API"]
    assert any(line.startswith(SELF) and "leader" in line for line in lines[1:])
    code, out, _ = run_cli(capsys, "peers", "list", "--json")
    assert code == 0 and len(json.loads(out)["items"]) == 3


def test_cli_peers_remove_and_add(api: LiveApi, members: RecordingMembership,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "peers", "remove", THIRD)
    assert code == 0 and f"removed {THIRD}" in out
    api.node.peers = [p for p in api.node.peers if p["id"] != THIRD]
    code, out, _ = run_cli(capsys, "peers", "add", "127.0.0.1:7999")
    assert code == 0 and "--join" in out and "127.0.0.1:7999" in out
    assert [c[:2] for c in members.calls] == [("remove", THIRD), ("add", "127.0.0.1:7999")]


def test_cli_peers_refusals_exit_usage_or_conflict(api: LiveApi, members: RecordingMembership,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "peers", "add", "nonsense")
    assert code == 2 and "expected host:port" in err  # usage / validation
    code, _, err = run_cli(capsys, "peers", "add", OTHER)
    assert code == 4 and "already a member" in err  # conflict (raftcron --help, exit codes)
    assert members.calls == []
