"""The concurrency group routes and the group state ops, over real HTTP and real SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api import OTHER, SELF, LiveApi, job_body
from tests.support.fake_node import THIRD


@pytest.fixture
def api(tmp_path: Path) -> Iterator[LiveApi]:
    live = LiveApi(tmp_path)
    for peer in (SELF, OTHER, THIRD):
        live.node.set_peer(peer, command_version=4)
    yield live
    live.close()


def test_groups_put_get_list_delete(api: LiveApi) -> None:
    api.ctx.config_groups = (("backups", 1),)
    status, _, body = api.request("PUT", "/concurrency-groups/db-heavy", {"limit": 2})
    assert status == 201
    assert body == {"name": "db-heavy", "limit": 2, "source": "api", "version": 1,
                    "created_at": body["created_at"], "updated_at": body["updated_at"],
                    "active": 0, "waiting": 0}
    assert api.request("PUT", "/concurrency-groups/db-heavy", {"limit": 3})[2]["version"] == 2
    api.request("PUT", "/jobs/dump", job_body(name="dump", concurrency_group="reports"))
    items = api.request("GET", "/concurrency-groups")[2]["items"]
    assert [(g["name"], g["limit"], g["source"]) for g in items] == [
        ("backups", 1, "config"), ("db-heavy", 3, "api")]
    assert api.request("GET", "/concurrency-groups/backups")[2]["limit"] == 1
    assert api.request("DELETE", "/concurrency-groups/db-heavy")[0] == 200
    assert api.request("DELETE", "/concurrency-groups/db-heavy")[0] == 404
    assert api.request("GET", "/concurrency-groups/db-heavy")[0] == 404


@pytest.mark.parametrize(("body", "field"), [
    ({}, "limit"), ({"limit": 0}, "limit"), ({"limit": "2"}, "limit"),
    ({"limit": 100_001}, "limit"), ({"limit": 2, "max": 3}, "max"),
])
def test_groups_bad_limit_is_400(api: LiveApi, body, field) -> None:
    index = api.state.applied_index
    status, _, answer = api.request("PUT", "/concurrency-groups/g", body)
    assert status == 400 and answer["field"] == field
    assert api.state.applied_index == index


def test_groups_job_field_is_checked(api: LiveApi) -> None:
    status, _, body = api.request("PUT", "/jobs/j", job_body(name="j",
                                                             concurrency_group="bad name"))
    assert status == 400 and body["field"] == "concurrency_group"
    status, _, body = api.request("PUT", "/jobs/j", job_body(
        name="j", concurrency_group="db", hosts="all", max_parallel=1))
    assert status == 400 and body["field"] == "concurrency_group"
    api.node.set_peer(OTHER, command_version=3)
    status, _, body = api.request("PUT", "/jobs/j", job_body(name="j", concurrency_group="db"))
    assert status == 409 and body["field"] == "version"
