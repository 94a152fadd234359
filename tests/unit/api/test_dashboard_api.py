"""The dashboard's summary endpoints and the followed output, against a live API over a real
SQLite copy (`LiveApi`: the node is fake, the reads and the HTTP are real)."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from raftcron.api import output_stream
from tests.support import records
from tests.support.api import SELF, LiveApi, fire_record, job_body
from tests.support.fake_node import OTHER
from tests.support.wait import wait_until


@pytest.fixture
def api(tmp_path: Path) -> Iterator[LiveApi]:
    live = LiveApi(tmp_path / "api")
    live.request("POST", "/jobs", job_body("backup-db", description="Nightly Postgres dump",
                                           labels={"team": "data"}, roles=["db"],
                                           jitter="30m", schedule="0 3 * * *"))
    live.request("POST", "/jobs", job_body("report", schedule="30 6 * * *"))
    live.request("POST", "/jobs", job_body("cleanup", paused=True))
    slots = [f"2030-01-01T0{i}:00:00Z" for i in range(3)]
    live.apply("fire", {"runs": [fire_record("backup-db", s, run_id=f"r{i}")
                                 for i, s in enumerate(slots)], "at": slots[-1]})
    live.apply("fire", {"runs": [records.run_record("m1", "backup-db", "2030-01-01T04:00:00Z",
                                                    peer=SELF, status="skipped",
                                                    reason="previous run r2 still running")],
                        "at": "2030-01-01T04:00:00Z"})
    yield live
    live.close()


def test_jobs_page_searches_filters_and_counts_in_one_answer(api: LiveApi) -> None:
    status, _, body = api.request("GET", "/dashboard/jobs")
    assert status == 200
    assert [j["name"] for j in body["items"]] == ["backup-db", "cleanup", "report"]
    assert body["counts"] == {"finished": 0, "paused": 1, "scheduled": 2} and body["total"] == 3
    backup = body["items"][0]
    assert [o["id"] for o in backup["outcomes"]] == ["m1", "r2", "r1", "r0"]  # newest first
    assert backup["outcomes"][0]["reason"] == "previous run r2 still running"
    assert "cursor" not in backup and backup["next_run"]
    # search: name or description, case-insensitive; `%` and `_` are literal
    assert [j["name"] for j in api.request("GET", "/dashboard/jobs?q=POSTGRES")[2]["items"]] \
        == ["backup-db"]
    assert api.request("GET", "/dashboard/jobs?q=%25")[2]["items"] == []
    for query, names in (("status=paused", ["cleanup"]), ("label=team:data", ["backup-db"]),
                         ("role=db", ["backup-db"]), ("q=rep&status=scheduled", ["report"])):
        got = api.request("GET", f"/dashboard/jobs?{query}")[2]["items"]
        assert [j["name"] for j in got] == names, query
    first = api.request("GET", "/dashboard/jobs?limit=2")[2]
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = api.request("GET", f"/dashboard/jobs?limit=2&cursor={first['next_cursor']}")[2]
    assert [j["name"] for j in rest["items"]] == ["report"] and rest["next_cursor"] is None


def test_jobs_page_refuses_bad_filters_naming_them(api: LiveApi) -> None:
    for query, field in (("status=nope", "status"), ("limit=0", "limit"),
                         ("cursor=zzz", "cursor"), ("q=" + "x" * 201, "q")):
        status, _, body = api.request("GET", f"/dashboard/jobs?{query}")
        assert status == 400 and body["field"] == field, query


def test_job_page_has_ten_fire_times_with_jitter_runs_and_missed_slots(api: LiveApi) -> None:
    status, _, job = api.request("GET", "/dashboard/jobs/backup-db")
    assert status == 200
    times = job["fire_times"]
    assert len(times) == 10
    assert times[0]["slot"].endswith("T03:00:00Z")
    assert all(t["slot"] <= t["fire_at"] for t in times)
    assert any(t["slot"] != t["fire_at"] for t in times)  # 30m of jitter moves them
    assert [r["id"] for r in job["runs"]] == ["m1", "r2", "r1", "r0"]
    assert [(r["id"], r["status"]) for r in job["missed"]] == [("m1", "skipped")]
    assert api.request("GET", "/dashboard/jobs/nope")[0] == 404


def test_run_page_has_the_retry_chain(api: LiveApi) -> None:
    api.apply("fire", {"runs": [records.run_record("r2b", "backup-db", "2030-01-01T02:00:00Z",
                                                   peer=SELF, attempt=2, retry_of="r2")],
                       "at": "2030-01-01T02:01:00Z"})
    for run_id in ("r2", "r2b"):
        status, _, run = api.request("GET", f"/dashboard/runs/{run_id}")
        assert status == 200 and run["id"] == run_id
        assert [r["id"] for r in run["chain"]] == ["r2", "r2b"]
    assert api.request("GET", "/dashboard/runs/nope")[0] == 404


def test_cluster_view_is_status_and_nodes_in_one_answer(api: LiveApi) -> None:
    status, _, body = api.request("GET", "/dashboard/cluster")
    assert status == 200
    assert body["status"]["id"] == SELF and body["status"]["role"]
    assert SELF in {n["name"] for n in body["nodes"]}
    assert body["peers"][SELF]["id"] == SELF
    assert "error" in body["peers"][OTHER]  # no API address known for it here


def _lines(url: str, into: list[dict], done: threading.Event) -> None:
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.headers["Content-Type"].startswith("application/x-ndjson")
        for raw in resp:
            into.append(json.loads(raw))
    done.set()


def test_output_stream_follows_a_growing_file_until_the_run_ends(api: LiveApi) -> None:
    api.apply("run_started", {"run_id": "r0", "peer": SELF, "at": "2030-01-01T00:00:01Z"})
    out = api.root / "output"
    out.mkdir(exist_ok=True)
    (out / "r0.stdout").write_text("line 1\n")
    got: list[dict] = []
    done = threading.Event()
    reader = threading.Thread(target=_lines, args=(api.url + "/runs/r0/output/stream", got,
                                                   done), daemon=True)
    reader.start()
    wait_until(lambda: any(g.get("data") == "line 1\n" for g in got), timeout=10)
    with (out / "r0.stdout").open("a") as f:
        f.write("line 2 é\n")
    (out / "r0.stderr").write_text("warn\n")
    wait_until(lambda: any(g.get("data") == "line 2 é\n" for g in got), timeout=10)
    assert not done.is_set()
    api.apply("run_finished", {"run_id": "r0", "status": "succeeded", "exit_code": 0,
                               "stdout_tail": "", "stderr_tail": "", "reason": None,
                               "at": "2030-01-01T00:00:05Z", "output_bytes": 20})
    assert done.wait(10)
    data = [g for g in got if "data" in g]
    assert [(g["stream"], g["offset"]) for g in data] == [
        ("stdout", 0), ("stdout", 7), ("stderr", 0)]
    assert got[-1] == {"done": True, "status": "succeeded", "exit_code": 0, "reason": None}
    # resumed from an offset: only what follows it
    url = api.url + "/runs/r0/output/stream?stdout_offset=7&stderr_offset=5"
    with urllib.request.urlopen(url, timeout=30) as resp:
        lines = [json.loads(x) for x in resp.read().splitlines()]
    assert lines[0] == {"stream": "stdout", "offset": 7, "data": "line 2 é\n"}
    assert lines[-1]["done"] is True and len(lines) == 2


def test_output_stream_of_a_run_not_started_or_gone_is_404(api: LiveApi) -> None:
    assert api.request("GET", "/runs/nope/output/stream")[0] == 404
    api.apply("run_started", {"run_id": "r1", "peer": SELF, "at": "2030-01-01T01:00:01Z"})
    api.apply("run_finished", {"run_id": "r1", "status": "failed", "exit_code": 1,
                               "stdout_tail": "", "stderr_tail": "", "reason": None,
                               "at": "2030-01-01T01:00:05Z", "output_bytes": 0})
    status, _, body = api.request("GET", "/runs/r1/output/stream")
    assert status == 404 and body["field"] == "output"


def test_output_stream_ends_with_more_after_its_longest_follow(
        api: LiveApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output_stream, "MAX_FOLLOW", 0.3)
    api.apply("run_started", {"run_id": "r0", "peer": SELF, "at": "2030-01-01T00:00:01Z"})
    (api.root / "output").mkdir(exist_ok=True)
    (api.root / "output" / "r0.stdout").write_text("abc\n")
    with urllib.request.urlopen(api.url + "/runs/r0/output/stream", timeout=30) as resp:
        lines = [json.loads(x) for x in resp.read().splitlines()]
    assert lines[0] == {"stream": "stdout", "offset": 0, "data": "abc\n"}
    assert lines[-1] == {"more": True, "stdout_offset": 4, "stderr_offset": 0}
    # an offset past the end, however large, is nothing new rather than an error
    url = api.url + f"/runs/r0/output/stream?stdout_offset={2**63 - 1}"
    with urllib.request.urlopen(url, timeout=30) as resp:
        lines = [json.loads(x) for x in resp.read().splitlines()]
    assert lines == [{"more": True, "stdout_offset": 2**63 - 1, "stderr_offset": 0}]


def test_jobs_page_refuses_a_label_without_a_key(api: LiveApi) -> None:
    status, _, body = api.request("GET", "/dashboard/jobs?label=:data")
    assert status == 400 and body["field"] == "label"
    assert [j["name"] for j in api.request("GET", "/dashboard/jobs?label=team")[2]["items"]] \
        == ["backup-db"]
