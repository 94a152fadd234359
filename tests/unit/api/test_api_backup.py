"""`GET /backup` on a served API over a real SQLite copy: the token, the file, no leftovers."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from raftcron.client import AuthError
from raftcron.daemon.restore import check_backup
from raftcron.db.reader import ReadDb
from tests.support.api import LiveApi, job_body

TOKEN = "backup-token-1"


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if "backup" in p.name)


def test_api_backup_needs_the_token_and_serves_a_consistent_copy(tmp_path: Path) -> None:
    api = LiveApi(tmp_path / "peer", token=TOKEN)
    try:
        body = job_body("nightly", env={"API_KEY": "s3cret"})
        assert api.request("POST", "/jobs", body, token=TOKEN)[0] == 201
        status, headers, err = api.request("GET", "/backup")
        assert status == 401 and err["field"] == "authorization", err
        assert "Bearer" in err["error"] and headers["WWW-Authenticate"] == "Bearer"
        assert api.request("GET", "/backup", token="wrong")[0] == 401
        with pytest.raises(AuthError):
            api.client().download_backup(tmp_path / "nope.sqlite3")

        out = tmp_path / "copy.sqlite3"
        size = api.client(TOKEN).download_backup(out)
        assert size == out.stat().st_size > 0
        assert check_backup(out) == api.state.applied_index
        copy = ReadDb(out)
        try:
            job = copy.get_job("nightly")
            assert job is not None and job["env"] == {"API_KEY": "s3cret"}
        finally:
            copy.close()
        assert _leftovers(tmp_path / "peer") == []
    finally:
        api.close()


def test_api_backup_is_open_without_a_configured_token(tmp_path: Path) -> None:
    api = LiveApi(tmp_path / "peer")
    try:
        with urllib.request.urlopen(api.url + "/backup", timeout=30) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/vnd.sqlite3"
            assert "X-Raftcron-Index" in resp.headers
            (tmp_path / "open.sqlite3").write_bytes(resp.read())
        assert check_backup(tmp_path / "open.sqlite3") == 0
    finally:
        api.close()


def test_api_backup_is_documented_as_needing_the_token(tmp_path: Path) -> None:
    api = LiveApi(tmp_path / "peer")
    try:
        doc = api.request("GET", "/openapi.json")[2]
        op = doc["paths"]["/backup"]["get"]
        assert op["security"] == [{"bearer": []}] and "401" in op["responses"]
        assert "application/vnd.sqlite3" in op["responses"]["200"]["content"]
    finally:
        api.close()
