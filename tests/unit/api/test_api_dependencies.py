"""Write-time checks of `after`/`on_failure` and the backfill routes, over real HTTP, a real
state machine and real SQLite reads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from raftcron.model.commands import VERSION
from tests.support.api import LiveApi, job_body


@pytest.fixture
def api(tmp_path: Path) -> Iterator[LiveApi]:
    live = LiveApi(tmp_path)
    yield live
    live.close()


def reads_v4(api: LiveApi) -> None:
    for peer in api.node.peers:
        peer["command_version"] = VERSION


def test_api_dependencies_missing_self_and_cycles_are_400s_naming_the_jobs(api) -> None:
    assert api.request("PUT", "/jobs/a", job_body("a"))[0] == 201
    assert api.request("PUT", "/jobs/b", job_body("b", after=["a"]))[0] == 201
    status, _, body = api.request("PUT", "/jobs/a", job_body("a", on_failure=["b"],
                                                               after=["c"]))
    assert (status, body["field"]) == (400, "after") and "'c'" in body["error"]
    status, _, body = api.request("PUT", "/jobs/a", job_body("a", after=["b"]))
    assert (status, body["field"]) == (400, "after")
    assert body["error"] == "after: a cycle of dependencies: a -> b -> a"
    status, _, body = api.request("POST", "/jobs", job_body("c", on_failure=["c"]))
    assert (status, body["field"]) == (400, "on_failure")
    assert api.read.get_job("a")["after"] == []  # nothing half-applied


def test_api_dependencies_a_batch_may_name_its_own_jobs_but_not_close_a_cycle(api) -> None:
    ok = {"jobs": [job_body("x", after=["y"]), job_body("y")]}
    status, _, body = api.request("POST", "/jobs:batch", ok)
    assert status == 200, body
    cycle = {"jobs": [job_body("p", after=["q"]), job_body("q", after=["p"])]}
    status, _, body = api.request("POST", "/jobs:batch", cycle)
    assert status == 400 and "p -> q -> p" in body["error"]
    assert api.read.get_job("p") is None


@pytest.mark.parametrize("body, field, words", [
    ({"to": "2029-12-31T00:00:00Z"}, "from", "required"),
    ({"from": "yesterday", "to": "2029-12-31T00:00:00Z"}, "from", ""),
    ({"from": "2029-12-31T00:00:00Z", "to": "2031-01-01T00:00:00Z"}, "to", "future"),
    ({"from": "2029-12-31T00:00:00Z", "to": "2029-12-30T00:00:00Z"}, "to", "before"),
    ({"from": "2029-12-31T00:10:00Z", "to": "2029-12-31T00:20:00Z"}, "to", "no slot"),
    ({"from": "2029-12-01T00:00:00Z", "to": "2029-12-31T00:00:00Z", "cap": 100}, "to",
     "721 slots"),
    ({"from": "2029-12-31T00:00:00Z", "to": "2029-12-31T01:00:00Z", "cap": 0}, "cap", ""),
    ({"from": "2029-12-31T00:00:00Z", "to": "2029-12-31T01:00:00Z", "x": 1}, "x", "unknown"),
])
def test_api_backfill_refusals_name_the_field(api, body, field, words) -> None:
    reads_v4(api)
    assert api.request("PUT", "/jobs/h", job_body("h", schedule="0 * * * *"))[0] == 201
    status, _, answer = api.request("POST", "/jobs/h/backfill", body)
    assert (status, answer["field"]) == (400, field), answer
    assert words in answer["error"]
    assert api.read.backfills() == []


def test_api_backfill_is_stored_and_listed(api) -> None:
    reads_v4(api)
    assert api.request("PUT", "/jobs/h", job_body("h", schedule="0 * * * *"))[0] == 201
    body = {"from": "2029-12-31T21:00:00Z", "to": "2029-12-31T23:00:00Z"}
    status, _, answer = api.request("POST", "/jobs/h/backfill", body)
    assert status == 202 and answer["total"] == 3 and answer["done"] == 0
    status, _, listed = api.request("GET", "/jobs/h/backfills")
    assert status == 200 and [b["id"] for b in listed["items"]] == [answer["id"]]
    assert api.request("POST", "/jobs/nope/backfill", body)[0] == 404
    assert api.request("GET", "/jobs/nope/backfills")[0] == 404


def test_api_backfill_waits_for_a_cluster_that_reads_version_4(api) -> None:
    assert api.request("PUT", "/jobs/h", job_body("h", schedule="0 * * * *"))[0] == 201
    body = {"from": "2029-12-31T21:00:00Z", "to": "2029-12-31T23:00:00Z"}
    status, _, answer = api.request("POST", "/jobs/h/backfill", body)
    assert status == 409 and "command version 4" in answer["error"]
