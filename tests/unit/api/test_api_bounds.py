"""Out-of-range durations, times and numbers through the real API and CLI: 400 (or exit 2)
naming the field, never a 500 or a traceback, and nothing written.

The API is the real aiohttp app over a real state machine and SQLite (`LiveApi`), with a
token configured so the reads are shown to need none. The unit-level tables are in
tests/unit/model/test_bounds.py; the job-field table is shared from there.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from raftcron.cli import main
from tests.support.api import TOKEN, LiveApi, job_body
from tests.unit.model.test_bounds import BAD_JOB_FIELDS, BAD_NODE_FIELDS

#: The rows JSON can carry (NaN and the infinities are not JSON: see the raw-body test).
JSON_JOB_FIELDS = [row for row in BAD_JOB_FIELDS
                   if not (isinstance(row[1], float) and not math.isfinite(row[1]))]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    live = LiveApi(tmp_path_factory.mktemp("bounds"), token=TOKEN)
    status, _, body = live.request("PUT", "/jobs/kept", job_body("kept"), token=TOKEN)
    assert status == 201, body
    yield live
    live.close()


def _refused(api: LiveApi, method: str, path: str, body: Any = None, *,
             raw: bytes | None = None, token: str | None = TOKEN) -> dict:
    """The answer to a request that must be refused: 400, the error shape, nothing applied."""
    before = api.state.applied_index
    headers = {"Content-Type": "application/json"} if raw is not None else None
    status, _, answer = api.request(method, path, body, raw=raw, headers=headers, token=token)
    assert status == 400, (path, answer)
    assert isinstance(answer, dict) and set(answer) == {"error", "field"}, answer
    assert answer["error"].startswith(f"{answer['field']}: "), answer
    assert api.state.applied_index == before
    return answer


@pytest.mark.parametrize(("key", "value", "field"), JSON_JOB_FIELDS, ids=repr)
def test_api_bounds_job_field_is_400_naming_it_and_writes_nothing(
        api: LiveApi, key: str, value: Any, field: str) -> None:
    body = {**job_body("bad"), key: value}
    assert _refused(api, "PUT", "/jobs/bad", body)["field"] == field
    assert _refused(api, "POST", "/jobs", body)["field"] == field
    assert api.request("GET", "/jobs/bad")[0] == 404
    # Replacing an existing job with the bad value leaves it as it was.
    kept = api.request("GET", "/jobs/kept")[2]
    assert _refused(api, "PUT", "/jobs/kept", {**job_body("kept"), key: value})["field"] == field
    assert api.request("GET", "/jobs/kept")[2] == kept


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_api_bounds_non_finite_numbers_are_refused(api: LiveApi, literal: bytes) -> None:
    raw = b'{"name": "bad", "schedule": "@hourly", "command": "true", "timeout": ' + literal + b"}"
    answer = _refused(api, "PUT", "/jobs/bad", raw=raw)
    assert answer["field"] in ("body", "timeout")


@pytest.mark.parametrize(("key", "value"), [
    row for row in BAD_NODE_FIELDS if not (isinstance(row[1], float) and math.isnan(row[1]))],
    ids=repr)
def test_api_bounds_node_field_is_400_naming_it(api: LiveApi, key: str, value: Any) -> None:
    assert _refused(api, "PUT", "/nodes/n1", {"name": "n1", key: value})["field"] == key
    assert api.request("GET", "/nodes/n1")[0] == 404


BAD_QUERIES = [
    ("/runs", "since", "0001-01-01T00:00:00+01:00"),
    ("/runs", "until", "9999-12-31T23:59:59-01:00"),
    ("/runs", "since", "1969-12-31T23:59:59Z"), ("/runs", "since", "not a time"),
    ("/runs", "until", "2030-01-01T00:00:00"), ("/runs", "limit", "0"),
    ("/runs", "limit", "1001"), ("/runs", "limit", "1e3"), ("/runs", "limit", "9" * 5000),
    ("/runs", "limit", "-1"), ("/runs", "limit", "true"), ("/jobs", "limit", "nan"),
    ("/jobs", "limit", "1_0"), ("/jobs", "limit", " 7"), ("/jobs", "limit", "\u0665"),
    ("/jobs", "min_index", "9" * 5000),
    ("/jobs", "min_index", "99999999999999999999999"), ("/jobs", "min_index", "-1"),
    ("/jobs", "min_index", "1.5"), ("/status", "timeout", "nan"), ("/status", "timeout", "inf"),
    ("/status", "timeout", "1e308"), ("/status", "timeout", "-1"), ("/status", "timeout", "61"),
    ("/runs", "status", "bogus"), ("/jobs", "consistency", "bogus"),
]


@pytest.mark.parametrize(("path", "name", "value"), BAD_QUERIES, ids=repr)
def test_api_bounds_query_parameter_is_400_naming_it_without_a_token(
        api: LiveApi, path: str, name: str, value: str) -> None:
    url = f"{path}?{name}={quote(value, safe='')}"
    assert _refused(api, "GET", url, token=None)["field"] == name


def test_api_bounds_since_until_at_the_bounds_are_accepted(api: LiveApi) -> None:
    url = "/runs?since=1970-01-01T00:00:00Z&until=" + quote("9999-12-31T23:59:59Z")
    status, _, body = api.request("GET", url)
    assert status == 200 and body["items"] == []
    status, _, body = api.request("GET", "/runs?since=" + quote("1970-01-01T01:00:00+01:00"))
    assert status == 200


# --- the CLI ----------------------------------------------------------------------------------

def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


@pytest.fixture
def cli_env(api: LiveApi, monkeypatch: pytest.MonkeyPatch) -> LiveApi:
    monkeypatch.setenv("RAFTCRON_API", api.url)
    monkeypatch.setenv("RAFTCRON_TOKEN", TOKEN)
    return api


@pytest.mark.parametrize(("options", "field"), [
    (["--timeout", "99999999999999d"], "timeout"), (["--timeout", "31d"], "timeout"),
    (["--jitter", "9999999999999w"], "jitter"), (["--retries", str(10**30)], "retries"),
    (["--retries", "-1"], "retries"), (["--max-runs", "0"], "max_runs"),
    (["--schedule", "@every 99999999999999w"], "schedule"),
    (["--schedule", "@at 0001-01-01T00:00:00+01:00"], "schedule"),
], ids=repr)
def test_cli_bounds_jobs_add_exits_2_naming_the_field(
        cli_env: LiveApi, capsys: pytest.CaptureFixture[str], options: list[str],
        field: str) -> None:
    before = cli_env.state.applied_index
    schedule = [] if "--schedule" in options else ["--schedule", "@hourly"]
    code, _, err = _cli(capsys, "jobs", "add", "bad", *schedule, *options, "--", "true")
    assert code == 2 and field in err, err
    assert cli_env.state.applied_index == before


@pytest.mark.parametrize("line", ["timeout = 1e308", "timeout = inf",
                                  'jitter = "9999999999999w"',
                                  "start_at = 0001-01-01T00:00:00+01:00"])
def test_cli_bounds_jobs_add_file_exits_2(cli_env: LiveApi, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str], line: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f'schedule = "@hourly"\ncommand = "true"\n{line}\n')
    before = cli_env.state.applied_index
    code, _, err = _cli(capsys, "jobs", "add", "bad", "--file", str(path))
    assert code == 2 and line.split(" = ")[0] in err and "bad.toml" in err, err
    assert cli_env.state.applied_index == before


def test_cli_bounds_import_crontab_out_of_range_imports_nothing(
        cli_env: LiveApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.cron"
    path.write_text("0 * * * * echo fine\nRANDOM_DELAY=99999999999999\n0 * * * * echo late\n")
    before = cli_env.state.applied_index
    code, _, err = _cli(capsys, "import-crontab", str(path))
    assert code == 2 and f"{path}:2: RANDOM_DELAY: at most 527040 minutes" in err, err
    assert cli_env.state.applied_index == before


@pytest.mark.parametrize(("argv", "field"), [
    (["runs", "list", "--since", "0001-01-01T00:00:00+01:00"], "since"),
    (["runs", "list", "--limit", str(10**30)], "limit"),
    (["jobs", "list", "--http-timeout", "inf"], "--http-timeout"),
    (["jobs", "run", "kept", "--wait", "--wait-timeout", "nan"], "--wait-timeout"),
], ids=repr)
def test_cli_bounds_client_options_exit_2(cli_env: LiveApi, capsys: pytest.CaptureFixture[str],
                                          argv: list[str], field: str) -> None:
    try:
        code, _, err = _cli(capsys, *argv)
    except SystemExit as exc:  # argparse refuses an option's type itself
        code, err = int(exc.code or 0), capsys.readouterr().err
    assert code == 2 and field in err, err


@pytest.mark.parametrize(("argv", "field"), [
    (["@every 99999999999999w"], "schedule"), (['{"interval": "99999999999999w"}'], "interval"),
    (["@at 9999-12-31T23:59:59-01:00"], "schedule"),
    (["@daily", "--after", "0001-01-01T00:00:00+01:00"], "after"),
    (["@daily", "--after", "9999-12-31T23:59:59-01:00"], "after"),
    (["@every 1s", "--anchor", "0001-01-01T00:00:00+01:00"], "anchor"),
    (["@daily", "--count", str(10**30)], "count"), (["@daily", "--count", "0"], "count"),
], ids=repr)
def test_cli_bounds_next_exits_2_naming_the_field(capsys: pytest.CaptureFixture[str],
                                                  argv: list[str], field: str) -> None:
    code, out, err = _cli(capsys, "next", *argv)
    assert code == 2 and out == "" and field in err, err
