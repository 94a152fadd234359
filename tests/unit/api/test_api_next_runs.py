"""`next_runs` stays right as time passes and as the job changes (they are remembered between
reads, so these are the cases a stale answer would show)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.api import LiveApi, job_body


@pytest.fixture
def api(tmp_path: Path) -> Iterator[LiveApi]:
    live = LiveApi(tmp_path)
    yield live
    live.close()


def test_next_runs_move_on_once_a_slot_passes(api: LiveApi) -> None:
    assert api.request("POST", "/jobs", job_body(tz="UTC"))[0] == 201
    first = api.request("GET", "/jobs/backup")[2]["next_runs"]
    assert first == [f"2030-01-01T0{h}:00:00Z" for h in range(1, 6)]
    api.clock.advance(timedelta(minutes=59))
    assert api.request("GET", "/jobs/backup")[2]["next_runs"] == first
    api.clock.advance(timedelta(minutes=1))  # 01:00 itself is no longer after now
    assert api.request("GET", "/jobs/backup")[2]["next_runs"] == [
        f"2030-01-01T0{h}:00:00Z" for h in range(2, 7)]
    listed = api.request("GET", "/jobs")[2]["items"]
    assert [j["next_run"] for j in listed] == ["2030-01-01T02:00:00Z"]


def test_next_runs_follow_a_change_of_schedule_and_a_pause(api: LiveApi) -> None:
    assert api.request("POST", "/jobs", job_body(tz="UTC"))[0] == 201
    api.request("GET", "/jobs/backup")
    changed = api.request("PUT", "/jobs/backup", job_body(tz="UTC", schedule="30 * * * *"))
    assert changed[0] == 200
    assert api.request("GET", "/jobs/backup")[2]["next_runs"][0] == "2030-01-01T00:30:00Z"
    assert api.request("POST", "/jobs/backup/pause")[0] == 200
    assert api.request("GET", "/jobs/backup")[2]["next_runs"] == []
    assert api.request("POST", "/jobs/backup/resume")[0] == 200
    assert api.request("GET", "/jobs/backup")[2]["next_runs"][0] == "2030-01-01T00:30:00Z"
