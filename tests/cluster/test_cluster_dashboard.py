"""The dashboard in headless Chromium against a real three-peer cluster with a write token:
create a job from the form (after a validation error for a bad schedule), run it and watch
its output arrive while it runs, pause it, filter the list, look at the cluster. Each view is
saved as a screenshot (under the test's tmp dir, and under $RAFTCRON_SCREENSHOTS when set:
docs/img/ holds the copies docs/dashboard.md shows)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM, Browser
from tests.support.cluster import Cluster

TOKEN = "dash-token"
#: Prints a line a second for ten seconds.
LINES = ('["/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do echo line $i; sleep 1; done"]')

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs chromium")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Cluster(tmp_path / "cluster", 3, token=TOKEN) as c:
        c.start()
        c.wait_for_leader()
        c.wait_for_announced()
        yield c


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    b = Browser(tmp_path / "profile")
    yield b
    b.close()


def _shot(browser: Browser, tmp_path: Path, name: str) -> None:
    path = browser.screenshot(tmp_path / "screenshots" / name)
    copy_to = os.environ.get("RAFTCRON_SCREENSHOTS")
    if copy_to:
        Path(copy_to).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(copy_to) / name)


def test_dashboard_create_run_follow_pause_filter(cluster: Cluster, browser: Browser,
                                                  tmp_path: Path) -> None:
    peer = cluster.peers[0]
    for name, labels in (("nightly-backup", {"team": "data"}), ("weekly-report", {"team": "biz"})):
        resp = peer.post("/jobs", {"name": name, "schedule": "0 3 * * *", "labels": labels,
                                   "description": f"the {name} job", "command": ["/bin/true"]})
        assert resp.status == 201, resp.json()

    # Create from the form: the first write asks for the token, then the server refuses the
    # schedule and the page shows why next to that field; nothing is created.
    browser.goto(peer.api + "/#/new")
    browser.fill("#field-name", "hello-lines")
    browser.fill("#field-description", "prints a line a second")
    browser.fill("#field-schedule", "every tuesday-ish")
    browser.fill("#field-command", LINES)
    browser.click("#save")
    browser.wait("!document.getElementById('token-box').hidden")
    browser.fill("#token-input", TOKEN)
    browser.click("#token-use")
    error = browser.wait("(e => !e.hidden && e.innerText)(document.querySelector("
                         "'[data-error-for=schedule]'))")
    assert "schedule" in error.lower()
    _shot(browser, tmp_path, "edit-validation.png")
    assert peer.get("/jobs/hello-lines").status == 404

    browser.fill("#field-schedule", "0 0 1 1 *")
    browser.click("#save")
    browser.wait("location.hash === '#/job/hello-lines'")
    browser.wait("!!document.querySelector('#fire-times-table tbody tr')")
    assert browser.eval("document.querySelectorAll('#fire-times-table tbody tr').length") == 10
    assert "every day" not in browser.text("#job-fields")
    assert "at 00:00, on day 1, in January" in browser.text("#job-fields")

    # Run it: the run's page follows the output while the run is still going, on a peer
    # that does not run it (the stream is passed through from the one that does).
    browser.click("#run-now")
    run_id = browser.wait("location.hash.startsWith('#/run/') && location.hash.slice(6)")
    runner = peer.get(f"/runs/{run_id}").json()["peer"]
    viewer = next(p for p in cluster.peers if p.id != runner)
    if viewer is not peer:
        browser.goto(viewer.api + f"/#/run/{run_id}")
    browser.wait("document.getElementById('stdout').innerText.includes('line 2')", timeout=60)
    assert "line 10" not in browser.text("#stdout")
    assert peer.get(f"/runs/{run_id}").json()["status"] == "running"
    assert "Following live" in browser.text("#follow-state")
    _shot(browser, tmp_path, "run.png")
    browser.wait("document.getElementById('follow-state').innerText.includes('Ended: "
                 "succeeded')", timeout=60)
    assert browser.text("#stdout").split() == [w for i in range(1, 11)
                                               for w in ("line", str(i))]
    assert browser.text("#stdout-size") == "71 B"

    # Pause it from its page.
    browser.goto(peer.api + "/#/job/hello-lines")
    browser.wait("!!document.querySelector('#runs tbody tr')")
    browser.click("#pause")
    browser.wait("document.getElementById('job-status').innerText.includes('paused')")
    assert peer.get("/jobs/hello-lines").json()["status"] == "paused"
    browser.wait("!!document.querySelector('#duration-chart rect')")
    _shot(browser, tmp_path, "job.png")

    # Backfill answers whatever the server says (the route may not exist on this version).
    browser.fill("#backfill-from", "2026-01-01T00:00")
    browser.fill("#backfill-to", "2026-01-02T00:00")
    browser.click("#backfill")
    message = browser.wait("(t => t.startsWith('Backfill') && t)(document.getElementById("
                           "'job-message').innerText)")
    assert "done" in message or "HTTP 40" in message

    # Edit: the JSON editor holds the other fields; bad JSON is caught before sending, a good
    # edit is applied and shown.
    browser.click("#edit")
    browser.wait("document.getElementById('job-json').value.includes('kill_grace')")
    original = browser.eval("document.getElementById('job-json').value")
    browser.fill("#job-json", "{not json")
    browser.click("#save")
    assert "not valid JSON" in browser.wait(
        "(e => !e.hidden && e.innerText)(document.querySelector('[data-error-for=json]'))")
    browser.fill("#job-json", original.replace('"kill_grace": "5s"', '"kill_grace": "7s"'))
    browser.fill("#field-description", "prints ten lines")
    browser.click("#save")
    browser.wait("location.hash === '#/job/hello-lines' && document.getElementById("
                 "'job-fields').innerText.includes('prints ten lines')")
    job = peer.get("/jobs/hello-lines").json()
    assert job["kill_grace"] == "7s" and job["status"] == "paused"

    # The job's history: the creation, the pause and the edit, newest first, each made with
    # the write token (named "token"), the edit with its changed fields.
    browser.wait("!!document.querySelector('#history tr[data-op=update]')")
    ops = browser.eval("[...document.querySelectorAll('#history tbody tr')]"
                       ".map(r => r.dataset.op)")
    history = peer.get("/jobs/hello-lines/history").json()["items"]
    assert ops == [h["op"] for h in history] and ops[0] == "update" and ops[-1] == "create"
    assert "pause" in ops
    assert {browser.text(f"#history tr[data-op={op}] .by") for op in ops} == {"token"}
    changes = browser.text("#history tr[data-op=update] .changes")
    assert 'description: "prints a line a second" -> "prints ten lines"' in changes
    assert 'kill_grace: "5s" -> "7s"' in changes

    # Filter the list: by text, then by status; the counts are over the whole cluster.
    browser.goto(peer.api + "/#/jobs")
    browser.wait("document.querySelectorAll('#jobs tbody tr').length === 3")
    assert "paused 1" in browser.text("#job-counts")
    browser.fill("#filter-q", "BACKUP")
    browser.click("#job-filters button[type=submit]")
    browser.wait("[...document.querySelectorAll('#jobs tbody tr')].map(r => r.dataset.job)"
                 ".join() === 'nightly-backup'")
    browser.fill("#filter-q", "")
    browser.fill("#filter-status", "paused")
    browser.wait("[...document.querySelectorAll('#jobs tbody tr')].map(r => r.dataset.job)"
                 ".join() === 'hello-lines'")
    row = browser.text("tr[data-job=hello-lines]")
    assert "paused by an operator" in row and "UTC" in row
    assert browser.eval("document.querySelectorAll('tr[data-job=hello-lines] .cell"
                        ".status-succeeded').length") == 1
    browser.goto(peer.api + "/#/jobs")
    browser.wait("document.querySelectorAll('#jobs tbody tr').length === 3")
    _shot(browser, tmp_path, "jobs.png")

    # The cluster: every peer, the leader marked.
    browser.goto(peer.api + "/#/cluster")
    browser.wait("document.querySelectorAll('#peers tbody tr').length === 3 && "
                 "!!document.querySelector('#peers tr.leader')")
    leader = cluster.leader()
    assert leader is not None
    assert browser.eval("document.querySelector('#peers tr.leader').dataset.peer") == leader.id
    _shot(browser, tmp_path, "cluster.png")
    assert browser.errors == []
