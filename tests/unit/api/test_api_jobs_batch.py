"""`POST /jobs:batch` over real HTTP, a real state machine and real SQLite reads: all or
nothing, the bad job's index and field in the 400, 413 over the body cap, the key honoured,
one Raft entry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from raftcron.api.app import MAX_BODY
from tests.support.api import OTHER, SELF, THIRD, LiveApi, job_body


@pytest.fixture
def api(tmp_path: Path) -> Iterator[LiveApi]:
    live = LiveApi(tmp_path)
    yield live
    live.close()


def reads_v3(api: LiveApi) -> None:
    """Every peer gossips command version 3: the batch goes as an atomic one."""
    for peer in (SELF, OTHER, THIRD):
        api.node.set_peer(peer, command_version=3)


def jobs(*names: str, **fields) -> dict:
    return {"jobs": [job_body(n, **fields) for n in names]}


@pytest.mark.parametrize("v3", [False, True])
def test_jobs_batch_creates_and_replaces_in_one_entry(api: LiveApi, v3: bool) -> None:
    if v3:
        reads_v3(api)
    api.request("PUT", "/jobs/b", job_body("b"))
    before = len(api.node.proposed)
    status, _, body = api.request("POST", "/jobs:batch", jobs("a", "b", "c"))
    assert status == 200, body
    assert body == {"items": [{"name": "a", "created": True, "version": 1},
                              {"name": "b", "created": False, "version": 2},
                              {"name": "c", "created": True, "version": 1}]}
    assert [op for op, _, _ in api.node.proposed[before:]] == ["batch"]
    listed = api.request("GET", "/jobs")[2]["items"]
    assert [j["name"] for j in listed] == ["a", "b", "c"]
    assert all(j["next_run"] for j in listed)
    if v3:  # the proposer's next fire time is in the state
        assert api.read.get_job("a")["next_fire_at"] == listed[0]["next_run"]


@pytest.mark.parametrize(("bad", "field"), [
    ({"schedule": "not a schedule"}, "jobs[2].schedule"),
    ({"timeout": "forever"}, "jobs[2].timeout"),
    ({"surprise": 1}, "jobs[2].surprise"),
])
def test_jobs_batch_one_bad_job_changes_nothing_and_names_index_and_field(
        api: LiveApi, bad: dict, field: str) -> None:
    body = jobs("a", "b")
    body["jobs"].append(job_body("c", **bad))
    index = api.state.applied_index
    status, _, answer = api.request("POST", "/jobs:batch", body)
    assert status == 400 and answer["field"] == field, answer
    assert api.state.applied_index == index
    assert api.request("GET", "/jobs")[2]["items"] == []


@pytest.mark.parametrize(("body", "field"), [
    ({"jobs": []}, "jobs"),
    ({"jobs": "a"}, "jobs"),
    ({}, "jobs"),
    ({"jobs": [job_body("a")], "more": 1}, "more"),
    ({"jobs": [job_body("a"), 3]}, "jobs[1]"),
    ({"jobs": [job_body("a"), job_body("a")]}, "jobs[1].name"),
    ({"jobs": [job_body(f"j{i}") for i in range(1001)]}, "jobs"),
])
def test_jobs_batch_malformed_is_400(api: LiveApi, body: dict, field: str) -> None:
    status, _, answer = api.request("POST", "/jobs:batch", body)
    assert status == 400 and answer["field"] == field, answer
    assert api.state.applied_index == 0


def test_jobs_batch_over_the_body_cap_is_413(api: LiveApi) -> None:
    pad = "x" * (MAX_BODY // 10)
    status, _, answer = api.request("POST", "/jobs:batch",
                                    jobs(*(f"j{i}" for i in range(12)), description=pad))
    assert status == 413 and answer["field"] == "body"
    assert api.state.applied_index == 0


@pytest.mark.parametrize("v3", [False, True])
def test_jobs_batch_with_a_file_managed_job_is_409_and_applies_nothing(
        api: LiveApi, v3: bool) -> None:
    if v3:
        reads_v3(api)
    api.apply("put_job", {"job": {"name": "f", "schedule": "0 * * * *"},
                          "expanded": "0 * * * *", "at": "2030-01-01T00:00:00Z",
                          "managed_by": "file:f.toml"})
    headers = {"Idempotency-Key": "batch-1"}
    status, _, answer = api.request("POST", "/jobs:batch", jobs("a", "f", "c"), headers=headers)
    assert status == 409 and answer["field"] == "jobs[1].name", answer
    assert "f.toml" in answer["error"]
    assert [j["name"] for j in api.request("GET", "/jobs")[2]["items"]] == ["f"]


def test_jobs_batch_retry_with_the_same_key_applies_once(api: LiveApi) -> None:
    reads_v3(api)
    headers = {"Idempotency-Key": "fill-1"}
    first = api.request("POST", "/jobs:batch", jobs("a", "b"), headers=headers)
    second = api.request("POST", "/jobs:batch", jobs("a", "b"), headers=headers)
    assert first[0] == second[0] == 200
    assert second[2] == first[2]  # created, version 1: the first outcome
    assert api.request("GET", "/jobs/a")[2]["version"] == 1


def test_jobs_batch_is_in_the_openapi_document(api: LiveApi) -> None:
    doc = api.request("GET", "/openapi.json")[2]
    op = doc["paths"]["/jobs:batch"]["post"]
    assert {"200", "400", "409", "413"} <= set(op["responses"])
    assert "JobBatch" in doc["components"]["schemas"]


@pytest.mark.parametrize("v3", [False, True])
def test_jobs_batch_create_only_refuses_the_whole_batch_for_one_existing_job(
        api: LiveApi, v3: bool) -> None:
    if v3:
        reads_v3(api)
    api.request("PUT", "/jobs/b", job_body("b"))
    body = {**jobs("a", "b", "c"), "create_only": True}
    status, _, answer = api.request("POST", "/jobs:batch", body,
                                    headers={"Idempotency-Key": "import-1"})
    assert status == 409 and answer["field"] == "jobs[1].name", answer
    assert [j["name"] for j in api.request("GET", "/jobs")[2]["items"]] == ["b"]
