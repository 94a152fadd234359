"""The blackout routes and the version-4 check, over real HTTP, a real state machine and real
SQLite reads (a fake node that applies each proposal at once)."""

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


def test_blackouts_put_get_list_delete(api: LiveApi) -> None:
    status, _, body = api.request("PUT", "/blackouts/weekend",
                                  {"schedule": "* 0-6 * * sat,sun", "tz": "Europe/Berlin"})
    assert status == 201
    assert body["name"] == "weekend" and body["tz"] == "Europe/Berlin"
    assert body["source"] == "api" and body["version"] == 1
    status, _, body = api.request("PUT", "/blackouts/weekend",
                                  {"schedule": "* 0-5 * * sat,sun", "description": "patching"})
    assert status == 200 and body["version"] == 2 and body["tz"] == "UTC"
    assert api.request("GET", "/blackouts/weekend")[2]["description"] == "patching"
    status, _, body = api.request("GET", "/blackouts")
    assert status == 200 and [w["name"] for w in body["items"]] == ["weekend"]
    assert api.request("DELETE", "/blackouts/weekend")[:3:2] == (
        200, {"name": "weekend", "deleted": True})
    status, _, body = api.request("GET", "/blackouts/weekend")
    assert status == 404 and body["field"] == "name"
    assert api.request("DELETE", "/blackouts/weekend")[0] == 404


@pytest.mark.parametrize(("body", "field"), [
    ({}, "schedule"),
    ({"schedule": "@every 1h"}, "schedule"),
    ({"schedule": "61 * * * *"}, "schedule"),
    ({"schedule": "* * * * *", "tz": "Nowhere/City"}, "tz"),
    ({"schedule": "* * * * *", "when": "now"}, "when"),
    ({"schedule": "* * * * *", "name": "other"}, "name"),
    ([1, 2], "body"),
])
def test_blackouts_bad_input_is_400_naming_the_field_and_writes_nothing(
        api: LiveApi, body, field) -> None:
    index = api.state.applied_index
    status, _, answer = api.request("PUT", "/blackouts/w", body)
    assert status == 400 and answer["field"] == field, answer
    assert api.state.applied_index == index


def test_blackouts_config_windows_are_listed_and_read_only(api: LiveApi) -> None:
    api.ctx.config_blackouts = (("freeze", "* * 24-26 12 *", "UTC"),)
    api.request("PUT", "/blackouts/weekend", {"schedule": "* 0-6 * * sat,sun"})
    items = api.request("GET", "/blackouts")[2]["items"]
    assert [(w["name"], w["source"]) for w in items] == [("freeze", "config"),
                                                         ("weekend", "api")]
    assert api.request("GET", "/blackouts/freeze")[2]["schedule"] == "* * 24-26 12 *"
    for method, body in (("PUT", {"schedule": "* * * * *"}), ("DELETE", None)):
        status, _, answer = api.request(method, "/blackouts/freeze", body)
        assert status == 409 and "cluster config" in answer["error"]


def test_blackouts_wait_for_every_peer_to_read_version_4(api: LiveApi) -> None:
    api.node.set_peer(OTHER, command_version=3)
    index = api.state.applied_index
    status, _, body = api.request("PUT", "/blackouts/w", {"schedule": "* * * * *"})
    assert status == 409 and body["field"] == "version" and OTHER in body["error"]
    status, _, body = api.request("PUT", "/jobs/multi", job_body(
        name="multi", schedule=["0 * * * *", "30 * * * *"]))
    assert status == 409 and body["field"] == "version"
    assert api.state.applied_index == index
    # A job that uses none of it is still accepted from an older cluster.
    assert api.request("PUT", "/jobs/plain", job_body(name="plain"))[0] == 201


def test_jobs_with_several_schedules_show_the_union_in_next_runs(api: LiveApi) -> None:
    status, _, body = api.request("PUT", "/jobs/multi", job_body(
        name="multi", tz="UTC", schedule=["0 */2 * * *", "30 1 * * *", "0 * * * *"],
        blackout=["* 0-6 * * sat,sun"], concurrency="queue_all", queue_cap=4))
    assert status == 201, body
    assert body["schedule"] == ["0 */2 * * *", "30 1 * * *", "0 * * * *"]
    assert body["next_runs"] == ["2030-01-01T01:00:00Z", "2030-01-01T01:30:00Z",
                                 "2030-01-01T02:00:00Z", "2030-01-01T03:00:00Z",
                                 "2030-01-01T04:00:00Z"]
    assert body["blackout"] == ["* 0-6 * * sat,sun"] and body["queue_cap"] == 4
    stored = api.read.get_job("multi")
    assert (stored["next_slot"], stored["next_fire_at"]) == ("2030-01-01T01:00:00Z",
                                                            "2030-01-01T01:00:00Z")
    assert stored["expanded_schedule"] == "0 */2 * * *\n30 1 * * *\n0 * * * *"
    status, _, body = api.request("PUT", "/jobs/bad", job_body(
        name="bad", schedule=["0 * * * *", "0 0 31 2 * x"]))
    assert status == 400 and body["field"] == "schedule.1"
