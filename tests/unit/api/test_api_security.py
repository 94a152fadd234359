"""Secure by default, through the served API: privileged jobs, redacted secrets, the read
token (issue 12, items 4 and 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from raftcron.cli import main
from raftcron.model.privilege import Identity
from tests.support.api import TOKEN, LiveApi, job_body

ADMIN = "admin-token"
READER = "reader-token"
ROOT = Identity(uid=0, name="root")
DAEMON = Identity(uid=1000, name="raftcron")
SECRET_ENV = {"DB_PASSWORD": "hunter2", "LEVEL": "full"}


def test_root_daemon_job_without_user_needs_the_admin_token(tmp_path: Path) -> None:
    api = LiveApi(tmp_path, token=TOKEN, admin_token=ADMIN, identity=ROOT,
                  allow_privileged_jobs=False)
    try:
        for body in (job_body("plain"), job_body("other", user="nobody"),
                     job_body("root", user="root")):
            status, _, answer = api.request("POST", "/jobs", body, token=TOKEN)
            assert status == 403 and answer["field"] == "user", answer
            status, _, answer = api.request("PUT", f"/jobs/{body['name']}", body, token=TOKEN)
            assert status == 403 and answer["field"] == "user", answer
        assert api.state.applied_index == 0  # nothing half-applied
        # the operator may name users with nothing to protect
        api.ctx.unprivileged_users = frozenset({"nobody"})
        assert api.request("POST", "/jobs", job_body("other", user="nobody"), token=TOKEN)[0] == 201
        # the admin token may create what runs as root, and nobody else may then change it
        assert api.request("POST", "/jobs", job_body("plain"), token=ADMIN)[0] == 201
        status, _, answer = api.request("PUT", "/jobs/plain", job_body("plain", retries=3),
                                        token=TOKEN)
        assert status == 403 and answer["field"] == "user"
    finally:
        api.close()


def test_without_admin_token_privileged_jobs_need_the_config_switch(tmp_path: Path) -> None:
    api = LiveApi(tmp_path, token=TOKEN, identity=DAEMON, allow_privileged_jobs=False)
    try:
        for user in ("root", "0", "backup"):
            status, _, answer = api.request("POST", "/jobs", job_body(user=user), token=TOKEN)
            assert status == 403 and answer["field"] == "user"
            assert "allow_privileged_jobs" in answer["error"]
        assert api.request("POST", "/jobs", job_body("mine"), token=TOKEN)[0] == 201
        api.ctx.allow_privileged_jobs = True
        assert api.request("POST", "/jobs", job_body(user="root"), token=TOKEN)[0] == 201
    finally:
        api.close()


def test_env_values_are_redacted_without_a_token(tmp_path: Path) -> None:
    api = LiveApi(tmp_path, token=TOKEN)
    try:
        status, _, job = api.request("POST", "/jobs", job_body(env=SECRET_ENV), token=TOKEN)
        assert status == 201 and job["env"] == SECRET_ENV  # the writer reads its own write
        for path in ("/jobs/backup", "/jobs"):
            status, _, raw = api.request("GET", path, headers={"Accept": "text/plain"})
            assert status == 200 and "hunter2" not in json.dumps(raw)
        assert api.request("GET", "/jobs/backup")[2]["env"] == {"DB_PASSWORD": "***",
                                                                "LEVEL": "***"}
        assert api.request("GET", "/jobs")[2]["items"][0]["env"]["DB_PASSWORD"] == "***"
        # a wrong token proves nothing
        assert api.request("GET", "/jobs/backup", token="wrong")[0] == 401
        assert api.request("GET", "/jobs/backup", token=TOKEN)[2]["env"] == SECRET_ENV
        assert api.request("GET", "/jobs", token=TOKEN)[2]["items"][0]["env"] == SECRET_ENV
    finally:
        api.close()


def test_env_hidden_from_everyone_when_no_token_is_configured(tmp_path: Path) -> None:
    api = LiveApi(tmp_path)
    try:
        assert api.request("POST", "/jobs", job_body(env=SECRET_ENV))[2]["env"]["LEVEL"] == "***"
        assert api.request("GET", "/jobs/backup")[2]["env"]["DB_PASSWORD"] == "***"
    finally:
        api.close()


def test_redacted_job_put_back_keeps_its_secrets(tmp_path: Path) -> None:
    api = LiveApi(tmp_path, token=TOKEN)
    try:
        api.request("POST", "/jobs", job_body(env=SECRET_ENV), token=TOKEN)
        redacted = api.request("GET", "/jobs/backup")[2]
        for key in ("status", "next_runs", "last_run", "counts", "version", "created_at",
                    "updated_at"):
            redacted.pop(key, None)
        redacted["description"] = "changed by a client that never saw the secrets"
        status, _, answer = api.request("PUT", "/jobs/backup", redacted, token=TOKEN)
        assert status == 200, answer
        job = api.request("GET", "/jobs/backup", token=TOKEN)[2]
        assert job["env"] == SECRET_ENV and job["description"].startswith("changed")
        # "***" for a key with no stored value is refused, never stored
        body = {**redacted, "env": {**redacted["env"], "NEW": "***"}}
        status, _, answer = api.request("PUT", "/jobs/backup", body, token=TOKEN)
        assert status == 400 and answer["field"] == "env.NEW"
        status, _, answer = api.request("POST", "/jobs", job_body("fresh", env={"A": "***"}),
                                        token=TOKEN)
        assert status == 400 and answer["field"] == "env.A"
        assert api.request("GET", "/jobs/fresh")[0] == 404
    finally:
        api.close()


def test_read_token_closes_every_read_but_health(tmp_path: Path) -> None:
    api = LiveApi(tmp_path, token=TOKEN, read_token=READER, admin_token=ADMIN,
                  identity=DAEMON)
    try:
        api.request("POST", "/jobs", job_body(env=SECRET_ENV), token=TOKEN)
        for path in ("/jobs", "/jobs/backup", "/runs", "/runs/r1", "/runs/r1/output",
                     "/nodes", "/status", "/metrics", "/openapi.json"):
            status, headers, body = api.request("GET", path)
            assert status == 401 and body["field"] == "authorization", path
            assert headers["WWW-Authenticate"] == "Bearer"
        for path in ("/healthz", "/readyz", "/"):
            assert api.request("GET", path)[0] == 200, path
        for token in (READER, TOKEN, ADMIN):
            status, _, job = api.request("GET", "/jobs/backup", token=token)
            assert status == 200 and job["env"] == SECRET_ENV
        status, _, body = api.request("POST", "/jobs/backup/pause", token=READER)
        assert status == 403 and body["field"] == "authorization"
    finally:
        api.close()


def test_cli_jobs_show_round_trips_env_with_the_token(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    api = LiveApi(tmp_path, token=TOKEN, read_token=READER)
    try:
        api.request("POST", "/jobs", job_body(env=SECRET_ENV), token=TOKEN)
        monkeypatch.setenv("RAFTCRON_API", api.url)
        monkeypatch.delenv("RAFTCRON_TOKEN", raising=False)
        monkeypatch.setenv("RAFTCRON_READ_TOKEN", READER)
        capsys.readouterr()
        assert main(["jobs", "show", "backup", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["env"] == SECRET_ENV
        monkeypatch.delenv("RAFTCRON_READ_TOKEN")
        assert main(["jobs", "show", "backup", "--json"]) == 5  # 401: a message, exit 5
    finally:
        api.close()
