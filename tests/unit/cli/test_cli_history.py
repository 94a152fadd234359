"""`raftcron jobs history` and `raftcron nodes history` against a live API."""

from __future__ import annotations

import json

import pytest

from tests.support.api import TOKEN, LiveApi
from tests.unit.cli.conftest import run_cli as run


def _rows(out: str) -> list[list[str]]:
    header, *rows = out.splitlines()
    assert header.split()[:4] == ["VERSION", "OP", "AT", "(UTC)"]
    return [row.split(None, 5) for row in rows]


def test_cli_jobs_history(api: LiveApi, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "jobs", "add", "backup", "--schedule", "0 3 * * *", "--", "true")[0] == 0
    code, _, err = run(capsys, "jobs", "edit", "backup", "--set", "description=nightly",
               "--set", "retries=2")
    assert code == 0, err
    assert run(capsys, "jobs", "pause", "backup")[0] == 0

    code, out, err = run(capsys, "jobs", "history", "backup")
    assert code == 0, err
    rows = _rows(out)
    assert [r[:2] for r in rows] == [["3", "pause"], ["2", "update"], ["1", "create"]]
    assert rows[0][2] == "2030-01-01T00:00:00Z"  # UTC, whole seconds
    update = out.splitlines()[2]
    assert 'retries: 0 -> 2' in update
    assert "description: \"\" -> \"nightly\"" in update and update.split()[3] == "-"

    # --limit: the newest N; --json: the API's items only.
    code, out, _ = run(capsys, "jobs", "history", "backup", "--limit", "2", "--json")
    items = json.loads(out)
    assert code == 0 and [h["op"] for h in items] == ["pause", "update"]
    assert items[1]["changes"]["retries"] == {"from": 0, "to": 2}
    assert set(items[0]) == {"version", "op", "at", "by", "changes"}

    # The history outlives the job; a name that never had one is not found (3).
    assert run(capsys, "jobs", "rm", "backup")[0] == 0
    code, out, _ = run(capsys, "jobs", "history", "backup", "--json")
    assert code == 0 and json.loads(out)[0]["op"] == "delete"
    code, out, err = run(capsys, "jobs", "history", "nope")
    assert code == 3 and out == "" and "nope" in err
    with pytest.raises(SystemExit) as exit_info:
        run(capsys, "jobs", "history", "backup", "--limit", "0")
    assert exit_info.value.code == 2 and "--limit" in capsys.readouterr().err


def test_cli_nodes_history(api: LiveApi, capsys: pytest.CaptureFixture[str]) -> None:
    node = {"connection_type": "ssh", "ssh_host": "db1.example", "ssh_user": "cron",
            "roles": ["db"], "capacity": 2}
    assert api.request("PUT", "/nodes/db1", node, token=TOKEN)[0] == 201
    assert api.request("PUT", "/nodes/db1", {**node, "capacity": 4}, token=TOKEN)[0] == 200

    code, out, err = run(capsys, "nodes", "history", "db1")
    assert code == 0, err
    rows = _rows(out)
    assert [r[:2] for r in rows] == [["2", "update"], ["1", "create"]]
    assert "capacity: 2 -> 4" in out.splitlines()[1]
    code, out, _ = run(capsys, "nodes", "history", "db1", "--json")
    assert code == 0 and [h["version"] for h in json.loads(out)] == [2, 1]
    code, out, err = run(capsys, "nodes", "history", "ghost", "--json")
    assert code == 3 and out == "" and "ghost" in err
