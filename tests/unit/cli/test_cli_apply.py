"""`raftcron jobs apply DIR|FILE` through `raftcron.cli.main` against a live in-process API:
job files created or replaced through `POST /jobs:batch`, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.api import LiveApi
from tests.unit.cli.conftest import run_cli as run


def jobs_dir(tmp_path: Path, **files: str) -> Path:
    d = tmp_path / "jobs.d"
    d.mkdir(exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text)
    return d


GOOD = {"a.toml": 'schedule = "@daily"\ncommand = "true"\n',
        "b.json": '{"schedule": "@hourly", "command": ["true"]}'}


def test_cli_jobs_apply_creates_then_replaces(api: LiveApi, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    d = jobs_dir(tmp_path, **GOOD)
    code, out, err = run(capsys, "jobs", "apply", str(d))
    assert code == 0, err
    assert f"applied 2 jobs from {d}: 2 created, 0 replaced" in out
    code, out, _ = run(capsys, "jobs", "apply", str(d / "a.toml"), "--json")
    assert code == 0 and json.loads(out) == [{"name": "a", "created": False, "version": 2}]
    assert sorted(j["name"] for j in api.client().iter_jobs()) == ["a", "b"]


def test_cli_jobs_apply_a_bad_file_sends_nothing(api: LiveApi, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    d = jobs_dir(tmp_path, **GOOD, **{"c.toml": 'schedule = "never"\ncommand = "true"\n'})
    code, _, err = run(capsys, "jobs", "apply", str(d))
    assert code == 2 and "c.toml" in err and "schedule" in err
    assert api.state.applied_index == 0


def test_cli_jobs_apply_refused_by_the_api_names_the_file(
        api: LiveApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    api.apply("put_job", {"job": {"name": "b", "schedule": "0 * * * *"},
                          "expanded": "0 * * * *", "at": "2030-01-01T00:00:00Z",
                          "managed_by": "file:b.toml"})
    d = jobs_dir(tmp_path, **GOOD)
    code, _, err = run(capsys, "jobs", "apply", str(d))
    assert code == 2 and str(d / "b.json") in err and "--jobs-dir" in err
    assert sorted(j["name"] for j in api.client().iter_jobs()) == ["b"]
