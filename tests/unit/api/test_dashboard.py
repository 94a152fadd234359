"""The dashboard, rendered by headless Chromium against a live API (no external assets)."""

from __future__ import annotations

import html
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api import SELF, LiveApi, fire_record, job_body
from tests.support.fake_node import OTHER, THIRD

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[LiveApi]:
    live = LiveApi(tmp_path / "api")
    live.request("POST", "/jobs", job_body(
        "backup", env={"DB_PASSWORD": "hunter2"},
        description='<img src=x onerror="document.title=1">'))
    live.request("POST", "/jobs", job_body("report", schedule="30 6 * * *"))
    live.apply("fire", {"runs": [fire_record("backup", "2030-01-01T00:00:00Z", run_id="r1")],
                        "at": "2030-01-01T00:00:00Z"})
    live.apply("run_started", {"run_id": "r1", "peer": SELF, "at": "2030-01-01T00:00:01Z"})
    live.apply("run_finished", {"run_id": "r1", "status": "failed", "exit_code": 3,
                                "stdout_tail": "tail", "stderr_tail": "", "reason": None,
                                "at": "2030-01-01T00:00:02Z", "output_bytes": 20})
    (live.root / "output").mkdir()
    (live.root / "output" / "r1.stdout").write_text("whole output of r1\n")
    (live.root / "output" / "r1.stderr").write_text("boom on stderr\n")
    yield live
    live.close()


def render(url: str, profile: Path) -> str:
    """The DOM after the page's scripts ran (virtual time lets the polling fetches finish)."""
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={profile}", "--virtual-time-budget=10000",
         "--dump-dom", url],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def row(dom: str, attr: str, value: str) -> str:
    match = re.search(rf'<tr[^>]*{attr}="{re.escape(value)}".*?</tr>', dom, re.S)
    assert match, f"no row with {attr}={value}"
    return match.group(0)


def test_dashboard_lists_jobs_with_next_run_outcomes_and_counts(api: LiveApi,
                                                                 tmp_path: Path) -> None:
    dom = render(api.url + "/", tmp_path / "profile")
    backup = row(dom, "data-job", "backup")
    assert "2030-01-01T01:00:00Z" in backup  # next run, from the API's next_run
    assert 'class="cell status-failed"' in backup  # the last-20-outcomes strip
    assert "every hour at :00" in backup  # the schedule's human reading
    report = row(dom, "data-job", "report")
    assert "2030-01-01T06:30:00Z" in report and "every day at 06:30" in report
    counts = re.search(r'id="job-counts".*?</div>', dom, re.S)
    assert counts and "scheduled <b>2</b>" in counts.group(0)
    assert "leader 127.0.0.1:7101" in dom and "applied" in dom
    assert "Cannot reach the API" not in dom


def test_dashboard_cluster_view_marks_the_leader(api: LiveApi, tmp_path: Path) -> None:
    dom = render(api.url + "/#/cluster", tmp_path / "profile")
    me = row(dom, "data-peer", SELF)
    assert "leader" in me and "this peer" in me
    assert "unreachable" in row(dom, "data-peer", THIRD) or "no" in row(dom, "data-peer", THIRD)


def test_dashboard_job_page_redacts_env_and_escapes_text(api: LiveApi, tmp_path: Path) -> None:
    dom = render(api.url + "/#/job/backup", tmp_path / "profile")
    assert "DB_PASSWORD" in dom and "(redacted)" in dom
    assert "hunter2" not in dom
    # user text is shown as text, never as markup
    assert html.escape('<img src=x onerror="document.title=1">', quote=False) in dom
    assert "<img" not in dom
    assert row(dom, "data-run", "r1")
    assert 'id="fire-times-table"' in dom and 'id="duration-chart"' in dom


def test_dashboard_run_page_shows_the_whole_output(api: LiveApi, tmp_path: Path) -> None:
    dom = render(api.url + "/#/run/r1", tmp_path / "profile")
    assert "whole output of r1" in dom and "boom on stderr" in dom
    assert "Ended: failed, exit 3" in dom


def test_dashboard_assets_are_local_and_locked_down(api: LiveApi) -> None:
    status, headers, page = api.request("GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "http://" not in page and "https://" not in page
    scripts = ("app.js", "jobs.js", "job.js", "run.js", "cluster.js", "forms.js")
    for name, kind in (*((n, "javascript") for n in scripts), ("style.css", "text/css")):
        status, headers, body = api.request("GET", f"/static/{name}")
        assert status == 200 and kind in headers["Content-Type"]
        assert "https://" not in body
    assert api.request("GET", "/static/../api/app.py")[0] == 404
    assert api.request("GET", "/static/secret.txt")[0] == 404


def test_dashboard_warns_of_clock_skew_as_status_reports_it(api: LiveApi,
                                                            tmp_path: Path) -> None:
    # The names /status uses (raft/status.py): peers[].clock_skew, clock_offset, firing.
    api.node.set_peer(OTHER, clock_skew=30.0)
    dom = render(api.url + "/", tmp_path / "profile")
    warning = re.search(r'id="warnings"[^>]*>(.*?)<', dom, re.S)
    assert warning and f"Clock skew of 30.00 s on {OTHER}." in html.unescape(warning.group(1))
    api.node.set_peer(OTHER, clock_skew=0.2)
    dom = render(api.url + "/", tmp_path / "profile2")
    assert "Clock skew" not in dom


def test_dashboard_asks_for_the_read_token_when_the_cluster_needs_one(tmp_path: Path) -> None:
    live = LiveApi(tmp_path / "api", read_token="reader-secret")
    try:
        live.request("POST", "/jobs", job_body("backup"), token="reader-secret")
        dom = render(live.url + "/", tmp_path / "profile")
    finally:
        live.close()
    box = re.search(r'<div id="token-box"[^>]*>.*?</div>', dom, re.S)
    assert box and "hidden" not in box.group(0).split(">", 1)[0]
    assert "needs a token to read" in box.group(0)
    assert 'data-job="backup"' not in dom and "reader-secret" not in dom
