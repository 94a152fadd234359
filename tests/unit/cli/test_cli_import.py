"""`raftcron import-crontab` through `raftcron.cli.main` against a live in-process API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.api import TOKEN, LiveApi
from tests.unit.cli.conftest import run_cli as run

CRONTAB = """\
# the nightly jobs
SHELL=/bin/bash
MAILTO=ops@example.com
CRON_TZ=Europe/Berlin

# raftcron: name=nightly-backup
30 2 * * * /usr/local/bin/backup --full > /dev/null 2>&1
@hourly date +\\%H >> /tmp/hours
"""


def crontab(tmp_path: Path, text: str = CRONTAB, name: str = "web.cron") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def names(api: LiveApi) -> list[str]:
    return sorted(j["name"] for j in api.client().iter_jobs())


def test_cli_import_creates_every_job(api: LiveApi, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "import-crontab", crontab(tmp_path))
    assert code == 0, err
    assert "created job nightly-backup" in out and "imported 2 jobs" in out
    assert names(api) == ["nightly-backup", "web-2"]
    job = api.client(TOKEN).get_job("nightly-backup")  # env values are shown to a token only
    assert job["schedule"] == "30 2 * * *" and job["tz"] == "Europe/Berlin"
    assert job["command"] == "/usr/local/bin/backup --full > /dev/null 2>&1"
    assert job["env"] == {"SHELL": "/bin/bash"}
    assert job["notify"]["on"] == ["failure"] and job["notify"]["email"] == ["ops@example.com"]
    assert api.client().get_job("web-2")["command"] == "date +%H >> /tmp/hours"


def test_cli_import_dry_run_prints_json_and_creates_nothing(
        api: LiveApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "import-crontab", crontab(tmp_path), "--dry-run",
                         "--prefix", "host1", "--api", "http://127.0.0.1:9")
    assert code == 0, err
    jobs = json.loads(out)
    assert [j["name"] for j in jobs] == ["nightly-backup", "host1-2"]
    assert jobs[1]["schedule"] == "@hourly"
    assert names(api) == []


def test_cli_import_bad_line_imports_nothing(api: LiveApi, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = crontab(tmp_path, CRONTAB + "@reboot /usr/bin/start\n* * * * * echo 5%\n")
    code, out, err = run(capsys, "import-crontab", path)
    assert code == 2 and out == ""
    assert f"{path}:9: @reboot is not supported" in err
    assert f"{path}:10: command: an unescaped '%'" in err
    assert "Traceback" not in err
    assert names(api) == []


def test_cli_import_existing_name_imports_nothing(api: LiveApi, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    api.client(TOKEN).create_job({"name": "web-2", "schedule": "@daily", "command": "true"})
    path = crontab(tmp_path)
    code, _, err = run(capsys, "import-crontab", path)
    assert code == 2
    assert f"{path}:8: job 'web-2' already exists" in err and "nothing imported" in err
    assert names(api) == ["web-2"]


def test_cli_import_partial_failure_names_what_was_created(
        api: LiveApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from raftcron.client import Client

    # Another writer takes the second name between the check and the creation: the jobs
    # go as one create-only batch, so none of them is created.
    real_apply = Client.apply_jobs

    def racing_apply(self: Client, jobs: list, **kwargs) -> list:
        self.create_job({"name": "web-2", "schedule": "@daily", "command": "true"})
        return real_apply(self, jobs, **kwargs)

    monkeypatch.setattr(Client, "apply_jobs", racing_apply)
    code, _, err = run(capsys, "import-crontab", crontab(tmp_path))
    assert code == 2
    assert "job 'web-2'" in err and "already exists" in err
    assert "created before the failure: none" in err
    assert names(api) == ["web-2"]


def test_cli_import_user_field_for_system_crontab(api: LiveApi, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = crontab(tmp_path, "17 * * * * root cd / && run-parts /etc/cron.hourly\n",
                   name="crontab")
    code, out, err = run(capsys, "import-crontab", path, "--user-field", "--dry-run",
                         "--tz", "Asia/Tokyo")
    assert code == 0, err
    (job,) = json.loads(out)
    assert job["user"] == "root" and job["tz"] == "Asia/Tokyo"
    assert job["command"] == "cd / && run-parts /etc/cron.hourly"
    # Without the flag (and not under /etc) the user is part of the command.
    code, out, _ = run(capsys, "import-crontab", path, "--dry-run")
    assert code == 0 and json.loads(out)[0]["command"].startswith("root cd /")


def test_cli_import_missing_file_and_bad_tz(api: LiveApi, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "nope")
    code, _, err = run(capsys, "import-crontab", missing)
    assert code == 2 and missing in err and "cannot read" in err
    code, _, err = run(capsys, "import-crontab", crontab(tmp_path, "* * * * * x\n"),
                       "--tz", "Nowhere/Land")
    assert code == 2 and ":1: tz: unknown time zone 'Nowhere/Land'" in err
