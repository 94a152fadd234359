"""The job routes over real HTTP, a real state machine and real SQLite reads."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from raftcron.model.privilege import Identity
from tests.support.api import OTHER, SELF, TOKEN, LiveApi, fire_record, job_body


@pytest.fixture
def api(tmp_path: Path) -> Iterator[LiveApi]:
    live = LiveApi(tmp_path)
    yield live
    live.close()


def test_jobs_create_returns_the_job_with_next_runs(api: LiveApi) -> None:
    status, headers, body = api.request("POST", "/jobs", job_body(tz="UTC"))
    assert status == 201
    assert body["name"] == "backup"
    assert body["status"] == "scheduled"
    assert body["version"] == 1
    assert body["created_at"] == "2030-01-01T00:00:00Z"
    assert body["next_runs"] == [f"2030-01-01T0{h}:00:00Z" for h in range(1, 6)]
    assert body["last_run"] is None and body["counts"] == {}
    assert headers["X-Raftcron-Index"] == "1"
    assert "expanded_schedule" not in body and "cursor" not in body


def test_jobs_create_twice_is_409_and_changes_nothing(api: LiveApi) -> None:
    api.request("POST", "/jobs", job_body())
    index = api.state.applied_index
    status, _, body = api.request("POST", "/jobs", job_body(schedule="*/5 * * * *"))
    assert status == 409
    assert body["field"] == "name" and "already exists" in body["error"]
    assert api.state.applied_index == index
    assert api.request("GET", "/jobs/backup")[2]["schedule"] == "0 * * * *"


def test_jobs_create_conflict_with_idempotency_key_goes_through_the_state(api: LiveApi) -> None:
    api.request("POST", "/jobs", job_body())
    status, _, body = api.request("POST", "/jobs", job_body(), headers={"Idempotency-Key": "k2"})
    assert status == 409 and body["field"] == "name"


def test_jobs_create_retry_with_same_key_applies_once(api: LiveApi) -> None:
    headers = {"Idempotency-Key": "retry-1"}
    first = api.request("POST", "/jobs", job_body(), headers=headers)
    second = api.request("POST", "/jobs", job_body(), headers=headers)
    assert first[0] == second[0] == 201
    assert second[2]["version"] == 1
    assert [op for op, _, _ in api.node.proposed] == ["put_job", "put_job"]
    assert [key for _, _, key in api.node.proposed] == ["retry-1", "retry-1"]


def test_jobs_put_creates_then_replaces(api: LiveApi) -> None:
    status, _, body = api.request("PUT", "/jobs/nightly", job_body("nightly"))
    assert status == 201 and body["version"] == 1
    status, _, body = api.request("PUT", "/jobs/nightly",
                                  {"schedule": "30 2 * * *", "command": "echo replaced"})
    assert status == 200
    assert body["version"] == 2 and body["command"] == "echo replaced"
    assert body["next_runs"][0] == "2030-01-01T02:30:00Z"


def test_jobs_put_accepts_what_get_returned(api: LiveApi) -> None:
    api.request("PUT", "/jobs/nightly", job_body("nightly"))
    got = api.request("GET", "/jobs/nightly")[2]
    got["description"] = "round trip"
    status, _, body = api.request("PUT", "/jobs/nightly", got)
    assert status == 200 and body["description"] == "round trip"


def test_jobs_put_name_mismatch_is_400(api: LiveApi) -> None:
    status, _, body = api.request("PUT", "/jobs/a", job_body("b"))
    assert status == 400 and body["field"] == "name"
    assert api.state.applied_index == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "schedule": "61 * * * *", "command": ["true"]}, "minute"),
        ({"name": "x", "schedule": "0 * * * *", "command": ["true"], "colour": "red"}, "colour"),
        ({"name": "x", "schedule": "0 * * * *", "command": ["true"], "retries": "two"},
         "retries"),
        ({"name": "x", "schedule": "0 * * * *", "command": ["true"], "tz": "Mars/Base"}, "tz"),
        ({"name": "x", "schedule": "0 * * * *", "command": ["true"], "timeout": "soon"},
         "timeout"),
        ({"name": "x", "command": ["true"]}, "schedule"),
        ({"name": "bad name!", "schedule": "0 * * * *", "command": ["true"]}, "name"),
    ],
)
def test_jobs_bad_job_is_400_naming_the_field_and_changes_nothing(
    api: LiveApi, body: dict, field: str
) -> None:
    api.request("PUT", "/jobs/x", job_body("x"))
    index = api.state.applied_index
    status, headers, answer = api.request("POST", "/jobs", body)
    assert status == 400, answer
    assert answer["field"] == field, answer
    assert answer["error"]
    assert api.state.applied_index == index
    assert headers["X-Raftcron-Index"] == str(index)
    assert api.request("GET", "/jobs/x")[2]["version"] == 1


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "field"),
    [
        (b'{"name": "x", ', "application/json", 400, "body"),
        (b"[1, 2, 3]", "application/json", 400, "body"),
        (b'"just a string"', "application/json", 400, "body"),
        (b"\xff\xfe", "application/json", 400, "body"),
        (b'{"a": NaN}', "application/json", 400, "body"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "body"),
        (b"name=x", "application/x-www-form-urlencoded", 400, "body"),
        (b"<job/>", "text/xml", 415, "body"),
    ],
)
def test_jobs_malformed_body_is_refused_and_changes_nothing(
    api: LiveApi, raw: bytes, content_type: str, status: int, field: str
) -> None:
    code, _, answer = api.request("POST", "/jobs", raw=raw,
                                  headers={"Content-Type": content_type})
    assert code == status, answer
    assert answer["field"] == field
    assert api.state.applied_index == 0


def test_jobs_missing_body_is_400(api: LiveApi) -> None:
    status, _, answer = api.request("POST", "/jobs")
    assert status == 400 and answer["field"] == "body"


def test_jobs_huge_body_is_413(api: LiveApi) -> None:
    huge = base64.b64encode(b"x" * (3 * 1024 * 1024)).decode()
    status, _, answer = api.request("POST", "/jobs", job_body(type="script", command=None,
                                                              script=huge))
    assert status == 413 and answer["field"] == "body"
    assert api.state.applied_index == 0


def test_jobs_script_of_one_mib_is_accepted(api: LiveApi) -> None:
    script = base64.b64encode(b"#" * (1024 * 1024 - 16)).decode()
    body = job_body(type="script", script=script)
    del body["command"]
    status, _, answer = api.request("POST", "/jobs", body)
    assert status == 201, answer


def test_jobs_distributed_cronjob_body_is_accepted(api: LiveApi) -> None:
    status, _, body = api.request(
        "POST", "/jobs", {"executable": "echo hello", "schedule": "*/5 * * * *",
                          "type": "command"})
    assert status == 201
    assert body["name"].startswith("job-")
    assert body["command"] == "echo hello"
    status, _, body = api.request("POST", "/jobs", {"executable": "http://x/y.sh",
                                                    "schedule": "* * * * *", "type": "script"})
    assert status == 400 and body["field"] == "executable"


def test_jobs_get_missing_is_404(api: LiveApi) -> None:
    status, _, body = api.request("GET", "/jobs/nope")
    assert status == 404 and body["field"] == "name"


def test_jobs_delete(api: LiveApi) -> None:
    api.request("POST", "/jobs", job_body())
    status, _, body = api.request("DELETE", "/jobs/backup")
    assert status == 200 and body == {"name": "backup", "deleted": True}
    assert api.request("GET", "/jobs/backup")[0] == 404
    index = api.state.applied_index
    assert api.request("DELETE", "/jobs/backup")[0] == 404
    assert api.state.applied_index == index
    assert api.request("DELETE", "/jobs/backup", headers={"Idempotency-Key": "d"})[0] == 404


def test_jobs_pause_and_resume(api: LiveApi) -> None:
    api.request("POST", "/jobs", job_body())
    status, _, body = api.request("POST", "/jobs/backup/pause")
    assert status == 200 and body["status"] == "paused" and body["next_runs"] == []
    status, _, body = api.request("POST", "/jobs/backup/resume")
    assert status == 200 and body["status"] == "scheduled" and len(body["next_runs"]) == 5
    assert api.request("POST", "/jobs/nope/pause")[0] == 404


def test_jobs_next_runs_honour_start_end_and_cursor(api: LiveApi) -> None:
    api.request("POST", "/jobs", job_body(start_at="2030-01-01T03:00:00Z",
                                          end_at="2030-01-01T05:00:00Z"))
    body = api.request("GET", "/jobs/backup")[2]
    assert body["next_runs"] == ["2030-01-01T03:00:00Z", "2030-01-01T04:00:00Z",
                                 "2030-01-01T05:00:00Z"]
    api.apply("fire", {"runs": [fire_record("backup", "2030-01-01T03:00:00Z", run_id="r1")],
                       "at": "2030-01-01T03:00:00Z"})
    body = api.request("GET", "/jobs/backup")[2]
    assert body["next_runs"] == ["2030-01-01T04:00:00Z", "2030-01-01T05:00:00Z"]
    assert body["last_run"]["id"] == "r1"
    assert body["counts"] == {"pending": 1}


def test_jobs_list_items_carry_next_and_last_run(api: LiveApi) -> None:
    api.request("POST", "/jobs", job_body(start_at="2030-01-01T03:00:00Z"))
    api.request("POST", "/jobs", job_body(name="idle", start_at="2030-01-01T03:00:00Z"))
    api.apply("fire", {"runs": [fire_record("backup", "2030-01-01T03:00:00Z", run_id="r1")],
                       "at": "2030-01-01T03:00:00Z"})
    items = {j["name"]: j for j in api.request("GET", "/jobs")[2]["items"]}
    assert items["backup"]["last_run"]["id"] == "r1"
    assert items["backup"]["next_run"] == "2030-01-01T04:00:00Z"
    assert items["idle"]["last_run"] is None
    assert items["idle"]["next_run"] == "2030-01-01T03:00:00Z"


def test_jobs_hashed_schedule_is_expanded_once(api: LiveApi) -> None:
    api.request("POST", "/jobs", job_body(schedule="H H * * *"))
    proposed = api.node.proposed[-1][1]
    assert "H" not in proposed["expanded"]
    body = api.request("GET", "/jobs/backup")[2]
    assert body["schedule"] == "H H * * *" and len(body["next_runs"]) == 5


def test_jobs_list_filters_and_pagination(api: LiveApi) -> None:
    for i in range(7):
        api.request("PUT", f"/jobs/job{i}",
                    job_body(f"job{i}", roles=["db"] if i % 2 else [],
                             labels={"team": "data" if i < 3 else "web"}))
    api.request("POST", "/jobs/job0/pause")
    names: list[str] = []
    cursor = None
    while True:
        query = "/jobs?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = api.request("GET", query)[2]
        assert len(page["items"]) <= 3
        names += [j["name"] for j in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert names == [f"job{i}" for i in range(7)]
    by = {j["name"]: j for j in api.request("GET", "/jobs")[2]["items"]}
    assert by["job1"]["next_run"] == "2030-01-01T01:00:00Z"
    assert by["job0"]["next_run"] is None
    paused = api.request("GET", "/jobs?status=paused")[2]["items"]
    assert [j["name"] for j in paused] == ["job0"]
    role = api.request("GET", "/jobs?role=db")[2]["items"]
    assert [j["name"] for j in role] == ["job1", "job3", "job5"]
    label = api.request("GET", "/jobs?label=team:data")[2]["items"]
    assert [j["name"] for j in label] == ["job0", "job1", "job2"]
    assert len(api.request("GET", "/jobs?label=team")[2]["items"]) == 7


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=sleeping", "status"), ("limit=0", "limit"), ("limit=abc", "limit"),
     ("limit=5000", "limit"), ("cursor=garbage", "cursor"), ("label=:x", "label")],
)
def test_jobs_list_bad_query_is_400(api: LiveApi, query: str, field: str) -> None:
    status, _, body = api.request("GET", f"/jobs?{query}")
    assert status == 400 and body["field"] == field


def test_jobs_manual_run_is_202_and_placed_on_a_reachable_peer(api: LiveApi) -> None:
    api.request("POST", "/jobs", job_body())
    status, _, run = api.request("POST", "/jobs/backup/run")
    assert status == 202
    assert run["manual"] is True and run["status"] == "pending" and run["attempt"] == 1
    assert run["slot"] == "2030-01-01T00:00:00Z"
    assert run["peer"] in (SELF, OTHER)  # the third peer is unreachable
    status, _, second = api.request("POST", "/jobs/backup/run")
    assert status == 202
    # least loaded: the second run goes to the peer that has none
    assert {run["peer"], second["peer"]} == {SELF, OTHER}
    # a manual run does not move the fence: the scheduled slots are unchanged
    assert api.request("GET", "/jobs/backup")[2]["next_runs"][0] == "2030-01-01T01:00:00Z"


def test_jobs_manual_run_retry_returns_the_same_run(api: LiveApi) -> None:
    api.request("POST", "/jobs", job_body())
    headers = {"Idempotency-Key": "run-once"}
    first = api.request("POST", "/jobs/backup/run", headers=headers)[2]
    second = api.request("POST", "/jobs/backup/run", headers=headers)[2]
    assert first["id"] == second["id"]
    assert len(api.request("GET", "/runs?job=backup")[2]["items"]) == 1


def test_jobs_manual_run_errors(api: LiveApi) -> None:
    assert api.request("POST", "/jobs/nope/run")[0] == 404
    api.request("POST", "/jobs", job_body(roles=["gpu"]))
    status, _, body = api.request("POST", "/jobs/backup/run")
    assert status == 409 and "no eligible" in body["error"]


def test_jobs_user_needs_the_admin_token(tmp_path: Path) -> None:
    # A daemon that does not run as root (on a root one, no `user` is privileged too).
    api = LiveApi(tmp_path, token=TOKEN, admin_token="admin-token",
                  identity=Identity(uid=1000, name="raftcron"))
    try:
        body = job_body(user="backup")
        status, _, answer = api.request("POST", "/jobs", body, token=TOKEN)
        assert status == 403 and answer["field"] == "user"
        assert api.state.applied_index == 0
        status, _, answer = api.request("POST", "/jobs", body, token="admin-token")
        assert status == 201 and answer["user"] == "backup"
        # the admin token is good for any write
        assert api.request("POST", "/jobs/backup/pause", token="admin-token")[0] == 200
        # and a job without a user needs only the ordinary token
        assert api.request("POST", "/jobs", job_body("plain"), token=TOKEN)[0] == 201
    finally:
        api.close()
