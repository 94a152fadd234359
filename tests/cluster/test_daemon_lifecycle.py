"""The daemon's lifecycle over a real one-peer cluster: clean shutdown on SIGTERM/SIGINT
(exit 0), JSON logs without secrets, seeding from job files once. Its command line and
refusals are tests/unit/daemon/test_daemon.py."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cluster import Cluster
from tests.support.wait import wait_until


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_daemon_stops_cleanly_on_signal(make_cluster: Callable[..., Cluster],
                                        sig: signal.Signals) -> None:
    cluster = make_cluster(1).start()
    peer = cluster.peers[0]
    cluster.wait_for_leader()
    assert peer.kill(sig) == 0, peer.log_tail()
    assert "stopped" in peer.log_tail()


def test_daemon_json_logs_are_one_object_per_line_without_secrets(
        make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(1, secret="very-secret-cluster-key", token="very-secret-api-token",
                           extra_args=["--log-format", "json"]).start()
    peer = cluster.peers[0]
    cluster.wait_for_leader()
    status = peer.status()
    assert "very-secret" not in json.dumps(status)
    peer.stop()
    lines = [ln for ln in peer.log_path.read_text().splitlines() if not ln.startswith("=====")]
    assert lines
    for line in lines:
        doc = json.loads(line)
        assert {"ts", "level", "logger", "msg"} <= set(doc)
    assert "very-secret" not in peer.log_path.read_text()


def test_daemon_seeds_job_files_once(make_cluster: Callable[..., Cluster],
                                     tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    (jobs / "nightly.toml").write_text('schedule = "0 30 2 * * *"\ncommand = ["true"]\n'
                                       'description = "from a file"\n')
    cluster = make_cluster(1, extra_args=["--jobs-dir", str(jobs)]).start()
    peer = cluster.peers[0]

    def seeded() -> dict | None:
        resp = peer.get("/jobs/nightly")
        return resp.json() if resp.status == 200 else None

    job = wait_until(seeded, 20, "the seeded job")
    assert job["description"] == "from a file" and job["version"] == 1
    peer.stop()
    peer.start()
    cluster.wait_for_leader()
    wait_until(lambda: "seeded from files" in peer.log_tail(200).split("start #2")[-1], 20,
               "the second seeding pass")
    assert peer.get("/jobs/nightly").json()["version"] == 1  # unchanged: nothing written
