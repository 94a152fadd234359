"""`PATCH /jobs/{name}`: a JSON merge patch, validated whole like PUT (issue 13, item 1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from raftcron.model.privilege import Identity
from tests.support.api import TOKEN, LiveApi, job_body

ADMIN = "admin-token"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[LiveApi]:
    live = LiveApi(tmp_path, token=TOKEN)
    yield live
    live.close()


def _put(api: LiveApi, **fields: object) -> dict:
    status, _, job = api.request("PUT", "/jobs/backup", job_body(**fields), token=TOKEN)
    assert status == 201, job
    return job


def _patch(api: LiveApi, patch: object, *, token: str | None = TOKEN,
           headers: dict[str, str] | None = None, name: str = "backup") -> tuple[int, dict]:
    hdrs = {"Content-Type": "application/merge-patch+json", **(headers or {})}
    status, _, body = api.request("PATCH", f"/jobs/{name}", patch, token=token, headers=hdrs)
    return status, body


def test_patch_changes_given_fields_keeps_the_others_and_bumps_version(api: LiveApi) -> None:
    before = _put(api, retries=1, description="nightly", env={"A": "1", "B": "2"},
                  labels={"team": "data"})
    status, job = _patch(api, {"retries": 3, "env": {"B": None, "C": "3"},
                               "notify": {"on": ["success"]}})
    assert status == 200, job
    assert job["retries"] == 3 and job["description"] == "nightly"
    assert job["env"] == {"A": "1", "C": "3"} and job["labels"] == {"team": "data"}
    assert job["notify"]["on"] == ["success"]
    assert job["schedule"] == before["schedule"] and job["command"] == before["command"]
    assert job["version"] == before["version"] + 1
    # The audit history records it as an update of just those fields.
    history = api.request("GET", "/jobs/backup/history", token=TOKEN)[2]["items"]
    assert history[0]["op"] == "update" and history[0]["version"] == job["version"]
    assert {"retries", "env", "notify"} <= set(history[0]["changes"])
    assert "description" not in history[0]["changes"]


def test_patch_null_resets_a_field_to_its_default(api: LiveApi) -> None:
    _put(api, retries=4, jitter="30s", description="x", max_runs=10)
    status, job = _patch(api, {"retries": None, "jitter": None, "description": None,
                               "max_runs": None})
    assert status == 200, job
    assert job["retries"] == 0 and job["jitter"] == "0s" and job["description"] == ""
    assert job["max_runs"] is None


def test_patch_is_validated_whole_and_changes_nothing_when_refused(api: LiveApi) -> None:
    before = _put(api, retries=1)
    index = api.state.applied_index
    for patch, field in (({"retries": -1}, "retries"), ({"schedule": "99 * * * *"}, "minute"),
                         ({"bogus": 1}, "bogus"), ({"name": "other"}, "name"),
                         ({"script": "ZWNobw=="}, None)):
        status, body = _patch(api, patch)
        assert status == 400, (patch, body)
        if field is not None:
            assert body["field"] == field, (patch, body)
    status, body = _patch(api, ["not", "an", "object"])
    assert status == 400 and body["field"] == "body"
    assert api.state.applied_index == index
    assert api.client(TOKEN).get_job("backup")["version"] == before["version"]


def test_patch_of_a_missing_job_is_404_and_creates_nothing(api: LiveApi) -> None:
    status, body = _patch(api, {"retries": 1}, name="nope")
    assert status == 404 and body["field"] == "name"
    assert api.request("GET", "/jobs/nope")[0] == 404


def test_patch_needs_the_write_token(api: LiveApi) -> None:
    _put(api)
    status, body = _patch(api, {"retries": 1}, token=None)
    assert status == 401, body
    status, body = _patch(api, {"retries": 1}, token="wrong")
    assert status == 401, body


def test_patch_of_a_privileged_user_needs_the_admin_token(tmp_path: Path) -> None:
    api = LiveApi(tmp_path, token=TOKEN, admin_token=ADMIN,
                  identity=Identity(uid=1000, name="raftcron"), allow_privileged_jobs=False)
    try:
        assert api.request("PUT", "/jobs/backup", job_body(), token=TOKEN)[0] == 201
        status, body = _patch(api, {"user": "root"})
        assert status == 403 and body["field"] == "user", body
        status, job = _patch(api, {"user": "root"}, token=ADMIN)
        assert status == 200 and job["user"] == "root", job
        # Kept from before: a write-token patch of another field is refused as a PUT is.
        status, body = _patch(api, {"retries": 2})
        assert status == 403 and body["field"] == "user", body
        status, job = _patch(api, {"user": None}, token=ADMIN)
        assert status == 200 and job["user"] is None
    finally:
        api.close()


def test_patch_keeps_a_redacted_env_value(api: LiveApi) -> None:
    _put(api, env={"PASSWORD": "hunter2"})
    status, job = _patch(api, {"env": {"PASSWORD": "***"}, "retries": 2})
    assert status == 200, job
    assert api.client(TOKEN).get_job("backup")["env"] == {"PASSWORD": "hunter2"}


def test_patch_retry_with_the_same_key_applies_once(api: LiveApi) -> None:
    before = _put(api, retries=1)
    key = {"Idempotency-Key": "patch-1"}
    first = _patch(api, {"retries": 2}, headers=key)
    second = _patch(api, {"retries": 2}, headers=key)
    assert first[0] == second[0] == 200
    assert api.client(TOKEN).get_job("backup")["version"] == before["version"] + 1


def test_patch_of_a_file_managed_job_is_409(api: LiveApi) -> None:
    api.apply("put_job", {"job": {"name": "f", "schedule": "0 * * * *",
                                  "command": ["true"]},
                          "expanded": "0 * * * *", "at": "2030-01-01T00:00:00Z",
                          "managed_by": "file:f.toml"})
    status, body = _patch(api, {"retries": 1}, name="f")
    assert status == 409 and "f.toml" in body["error"], body


def test_patch_is_in_openapi(api: LiveApi) -> None:
    doc = api.request("GET", "/openapi.json", token=TOKEN)[2]
    op = doc["paths"]["/jobs/{name}"]["patch"]
    assert "application/merge-patch+json" in op["requestBody"]["content"]
    assert {"200", "400", "403", "404", "409"} <= set(op["responses"])
