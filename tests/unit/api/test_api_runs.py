"""The run routes: lists, one run, the whole output (local and proxied), cancel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from raftcron.client import NotFoundError
from raftcron.errors import UnavailableError
from tests.support.api import OTHER, SELF, LiveApi, fire_record, job_body


@pytest.fixture
def api(tmp_path: Path) -> Iterator[LiveApi]:
    live = LiveApi(tmp_path / "self")
    yield live
    live.close()


def _fire(api: LiveApi, job: str, hour: int, run_id: str, peer: str = SELF,
          status: str = "pending") -> None:
    slot = f"2030-01-01T{hour:02d}:00:00Z"
    result = api.apply("fire", {"runs": [fire_record(job, slot, run_id=run_id, peer=peer,
                                                     status=status)], "at": slot})
    assert result["accepted"] == [run_id], result


def _finish(api: LiveApi, run_id: str, status: str = "succeeded") -> None:
    api.apply("run_started", {"run_id": run_id, "peer": SELF, "at": "2030-01-01T10:00:00Z"})
    result = api.apply("run_finished", {
        "run_id": run_id, "status": status, "exit_code": 0 if status == "succeeded" else 1,
        "stdout_tail": "tail out", "stderr_tail": "", "reason": None,
        "at": "2030-01-01T10:00:01Z", "output_bytes": 9})
    assert result["ok"], result


def _seed(api: LiveApi) -> None:
    api.request("POST", "/jobs", job_body("a"))
    api.request("POST", "/jobs", job_body("b"))
    for hour in range(1, 6):
        _fire(api, "a", hour, f"a{hour}", peer=SELF if hour % 2 else OTHER)
    _fire(api, "b", 1, "b1")
    _finish(api, "a1")
    _finish(api, "a3", "failed")


def test_runs_list_newest_first_with_filters(api: LiveApi) -> None:
    _seed(api)
    items = api.request("GET", "/runs")[2]["items"]
    assert [r["id"] for r in items] == ["a5", "a4", "a3", "a2", "b1", "a1"]
    assert [r["id"] for r in api.request("GET", "/runs?job=b")[2]["items"]] == ["b1"]
    failed = api.request("GET", "/runs?status=failed")[2]["items"]
    assert [r["id"] for r in failed] == ["a3"]
    other = api.request("GET", f"/runs?peer={OTHER}")[2]["items"]
    assert [r["id"] for r in other] == ["a4", "a2"]
    window = api.request("GET", "/runs?job=a&since=2030-01-01T02:00:00Z"
                                "&until=2030-01-01T04:00:00Z")[2]["items"]
    assert [r["id"] for r in window] == ["a3", "a2"]


def test_runs_list_pagination(api: LiveApi) -> None:
    _seed(api)
    seen, cursor = [], None
    while True:
        page = api.request("GET", "/runs?limit=2" + (f"&cursor={cursor}" if cursor else ""))[2]
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["a5", "a4", "a3", "a2", "b1", "a1"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=done", "status"), ("since=yesterday", "since"), ("until=2030-01-01", "until"),
     ("since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z", "until"), ("limit=-1", "limit")],
)
def test_runs_list_bad_query_is_400(api: LiveApi, query: str, field: str) -> None:
    status, _, body = api.request("GET", f"/runs?{query}")
    assert status == 400 and body["field"] == field


def test_runs_get_one_with_tails(api: LiveApi) -> None:
    _seed(api)
    status, _, run = api.request("GET", "/runs/a1")
    assert status == 200
    assert run["status"] == "succeeded" and run["stdout_tail"] == "tail out"
    assert run["slot"] == "2030-01-01T01:00:00Z" and run["exit_code"] == 0
    status, _, body = api.request("GET", "/runs/zzz")
    assert status == 404 and body["field"] == "id"


def test_runs_output_local_whole_and_by_stream(api: LiveApi) -> None:
    _seed(api)
    out = api.root / "output"
    out.mkdir()
    (out / "a1.stdout").write_text("line 1\nline 2\n")
    (out / "a1.stderr").write_text("warn\n")
    status, _, body = api.request("GET", "/runs/a1/output")
    assert status == 200 and body == {"stdout": "line 1\nline 2\n", "stderr": "warn\n"}
    status, headers, text = api.request("GET", "/runs/a1/output?stream=stderr")
    assert status == 200 and text == "warn\n"
    assert headers["Content-Type"].startswith("text/plain")
    assert api.request("GET", "/runs/a1/output?stream=both")[0] == 400
    status, _, body = api.request("GET", "/runs/a3/output")
    assert status == 404 and "gone" in body["error"]
    assert api.request("GET", "/runs/nope/output")[0] == 404


def test_runs_output_of_a_run_that_printed_nothing_is_empty(api: LiveApi) -> None:
    # A stream's file is made with its first byte: a silent run has none.
    _seed(api)
    api.apply("run_started", {"run_id": "b1", "peer": SELF, "at": "2030-01-01T10:00:00Z"})
    status, _, body = api.request("GET", "/runs/b1/output")
    assert status == 200 and body == {"stdout": "", "stderr": ""}
    assert api.apply("run_finished", {
        "run_id": "b1", "status": "succeeded", "exit_code": 0, "stdout_tail": "",
        "stderr_tail": "", "reason": None, "at": "2030-01-01T10:00:01Z", "output_bytes": 0,
    })["ok"]
    status, _, text = api.request("GET", "/runs/b1/output?stream=stdout")
    assert status == 200 and text == ""


def test_runs_output_is_proxied_to_the_peer_that_ran_it(tmp_path: Path) -> None:
    other = LiveApi(tmp_path / "other", self_id=OTHER)
    try:
        api = LiveApi(tmp_path / "self", peer_apis={OTHER: other.url})
        try:
            for live in (api, other):  # both copies hold the same replicated state
                live.request("POST", "/jobs", job_body("a"))
                _fire(live, "a", 2, "a2", peer=OTHER)
            (other.root / "output").mkdir()
            (other.root / "output" / "a2.stdout").write_text("from the other peer\n")
            body = api.request("GET", "/runs/a2/output")[2]
            assert body == {"stdout": "from the other peer\n", "stderr": ""}
            text = api.client().run_output("a2", stream="stdout")
            assert text == "from the other peer\n"
            (other.root / "output" / "a2.stdout").unlink()
            with pytest.raises(NotFoundError):
                api.client().run_output("a2")
        finally:
            api.close()
    finally:
        other.close()


def test_runs_output_of_an_unreachable_peer_is_503(tmp_path: Path) -> None:
    api = LiveApi(tmp_path, peer_apis={OTHER: "http://127.0.0.1:9"})
    try:
        api.request("POST", "/jobs", job_body("a"))
        _fire(api, "a", 2, "a2", peer=OTHER)
        status, headers, body = api.request("GET", "/runs/a2/output")
        assert status == 503 and headers["Retry-After"] == "1"
        assert OTHER in body["error"]
        with pytest.raises(UnavailableError):
            api.client().run_output("a2")
    finally:
        api.close()


def test_runs_output_proxied_request_is_never_proxied_again(api: LiveApi) -> None:
    api.request("POST", "/jobs", job_body("a"))
    _fire(api, "a", 2, "a2", peer=OTHER)
    status, _, _ = api.request("GET", "/runs/a2/output", headers={"X-Raftcron-Proxied": "1"})
    assert status == 404


def test_runs_cancel_active_run(tmp_path: Path) -> None:
    asked: list[str] = []

    async def cancel_local(run_id: str) -> bool:
        asked.append(run_id)
        return True

    api = LiveApi(tmp_path, cancel_local_run=cancel_local)
    try:
        _seed(api)
        status, _, run = api.request("POST", "/runs/a5/cancel")
        assert status == 202 and run["cancel_requested"] is True
        assert asked == ["a5"]
        status, _, run = api.request("POST", "/runs/a4/cancel")  # runs on the other peer
        assert status == 202 and asked == ["a5"]
        index = api.state.applied_index
        status, _, body = api.request("POST", "/runs/a1/cancel")
        assert status == 409 and "not active" in body["error"]
        assert api.state.applied_index == index
        assert api.request("POST", "/runs/zzz/cancel")[0] == 404
    finally:
        api.close()
