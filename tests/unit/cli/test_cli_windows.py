"""`raftcron blackouts`, `raftcron groups`, `raftcron next` with several schedules, and the
`jobs add` options of the new job fields, against a served API."""

from __future__ import annotations

import json

import pytest

from tests.support.api import OTHER, SELF, LiveApi
from tests.support.fake_node import THIRD
from tests.unit.cli.conftest import run_cli


@pytest.fixture
def v4(api: LiveApi) -> LiveApi:
    for peer in (SELF, OTHER, THIRD):
        api.node.set_peer(peer, command_version=4)
    return api


def test_cli_blackouts_put_list_show_rm(v4: LiveApi, capsys) -> None:
    code, out, _ = run_cli(capsys, "blackouts", "put", "weekend", "--schedule",
                           "* 0-6 * * sat,sun", "--tz", "Europe/Berlin")
    assert (code, out) == (0, "created blackout window weekend\n")
    code, out, _ = run_cli(capsys, "blackouts", "list")
    assert out == "weekend\t* 0-6 * * sat,sun\tEurope/Berlin\tapi\n"
    code, out, _ = run_cli(capsys, "blackouts", "show", "weekend")
    assert json.loads(out)["tz"] == "Europe/Berlin"
    code, out, err = run_cli(capsys, "blackouts", "put", "bad", "--schedule", "@every 1h")
    assert code == 2 and "cron expression" in err and out == ""
    assert run_cli(capsys, "blackouts", "rm", "weekend")[:2] == (
        0, "deleted blackout window weekend\n")
    assert run_cli(capsys, "blackouts", "rm", "weekend")[0] == 3  # not found


def test_cli_groups_set_list_rm(v4: LiveApi, capsys) -> None:
    assert run_cli(capsys, "groups", "set", "db", "2")[:2] == (
        0, "set the limit of db to 2\n")
    assert run_cli(capsys, "groups", "list")[1] == "db\tlimit 2\tactive 0\twaiting 0\tapi\n"
    code, _, err = run_cli(capsys, "groups", "set", "db", "two")
    assert code == 2 and "limit" in err
    assert run_cli(capsys, "groups", "rm", "db")[0] == 0
    assert run_cli(capsys, "groups", "rm", "db")[0] == 3  # not found


def test_cli_jobs_add_with_the_new_fields(v4: LiveApi, capsys) -> None:
    code, _, err = run_cli(capsys, "jobs", "add", "roll", "--schedule", "0 * * * *",
                           "--schedule", "30 2 * * *", "--hosts", "all", "--max-parallel",
                           "25%", "--stop-on-failure", "--blackout", "* 0-6 * * sat,sun",
                           "--", "true")
    assert code == 0, err
    job = v4.client().get_job("roll")
    assert job["schedule"] == ["0 * * * *", "30 2 * * *"]
    assert (job["max_parallel"], job["keep_going"]) == ("25%", False)
    assert job["blackout"] == ["* 0-6 * * sat,sun"]
    code, _, err = run_cli(capsys, "jobs", "add", "q", "--schedule", "* * * * *",
                           "--concurrency", "queue_all", "--queue-cap", "3",
                           "--concurrency-group", "db", "--", "true")
    assert code == 0, err
    job = v4.client().get_job("q")
    assert (job["concurrency"], job["queue_cap"], job["concurrency_group"]) == (
        "queue_all", 3, "db")
    code, _, err = run_cli(capsys, "jobs", "add", "x", "--schedule", "* * * * *",
                           "--max-parallel", "lots", "--", "true")
    assert code == 2 and "max_parallel" in err


def test_cli_next_prints_the_union(capsys) -> None:
    code, out, _ = run_cli(capsys, "next", "0 * * * *", "30 * * * *", "0 */2 * * *",
                           "--after", "2024-01-01T00:00:00Z", "--count", "4")
    assert code == 0
    assert out.split() == ["2024-01-01T00:30:00+00:00", "2024-01-01T01:00:00+00:00",
                           "2024-01-01T01:30:00+00:00", "2024-01-01T02:00:00+00:00"]
